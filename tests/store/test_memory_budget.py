"""One memory budget for every cached function and cell (``max_memory``), and one per
function (``@memo(max_size=...)``): least recently used out across functions, entries
of a function's earlier code first, and a result bigger than the budget returned but
not kept, said once."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import Notes, Tally, define, run_cell

from ipycache_ext import memo
from ipycache_ext.config import SETTINGS
from ipycache_ext.store.memory import STORE

KB100 = 12_500  # float64 elements in 100 kB


def test_the_least_recently_used_result_of_any_function_goes_first(
    tally: Tally, notes: Notes
) -> None:
    SETTINGS.max_memory = 350_000

    @memo
    def a(i: int) -> np.ndarray:
        tally(("a", i))
        return np.full(KB100, i, dtype=np.float64)

    @memo
    def b(i: int) -> np.ndarray:
        tally(("b", i))
        return np.full(KB100, i, dtype=np.float64)

    a(1), b(1), a(2)
    a(1)  # a(1) is now more recently used than b(1)
    b(2)  # 400 kB > 350 kB: b(1), the least recently used, goes
    assert STORE.memory_bytes() <= 350_000
    runs = len(tally)
    a(1), a(2), b(2)
    assert len(tally) == runs  # all still kept
    b(1)
    assert tally.runs[-1] == ("b", 1)
    assert "evicted to keep the cache within max_memory" in notes.texts("miss")[-1]


def test_results_of_a_function_s_earlier_code_go_before_older_results(
    ns: dict[str, Any], tally: Tally
) -> None:
    SETTINGS.max_memory = 350_000
    ns.update(memo=memo, np=np, tally=tally, KB100=KB100)
    source = """
        @memo
        def f(i):
            tally(("f", VERSION, i))
            return np.full(KB100, VERSION, dtype=np.float64)

        @memo
        def g(i):
            tally(("g", i))
            return np.full(KB100, i, dtype=np.float64)
        """
    define(ns, "VERSION = 1\n")
    define(ns, source)
    ns["g"](1)  # the oldest use
    ns["f"](1)
    define(ns, source.replace("tally((", "tally(( ").replace("VERSION, i))", "VERSION, i, 'v2'))"))
    ns["f"](1)  # new code: a new entry; the v1 entry is only reachable by editing back
    ns["g"](2)  # 400 kB: f's v1 entry goes, not g(1) (older, but current)
    runs = len(tally)
    ns["g"](1)
    assert len(tally) == runs


def test_at_a_function_s_first_redefinition_its_earlier_result_goes_before_live_ones(
    ns: dict[str, Any], tally: Tally
) -> None:
    SETTINGS.max_memory = 350_000
    ns.update(memo=memo, np=np, tally=tally, KB100=KB100)
    source = """
        @memo
        def f(i):
            tally(("f", i))
            return np.full(KB100, i, dtype=np.float64)

        @memo
        def g(i):
            tally(("g", i))
            return np.full(KB100, i, dtype=np.float64)
        """
    define(ns, source)
    ns["g"](1)  # the oldest use
    ns["f"](1)
    ns["g"](2)
    define(ns, source.replace('tally(("f", i))', 'tally(("f", i, "v2"))'))
    ns["f"](1)  # 400 kB: the first body's f(1) goes, not g(1) (older, but current)
    runs = len(tally)
    ns["g"](1), ns["g"](2), ns["f"](1)
    assert len(tally) == runs


def test_memo_info_after_the_first_redefinition_counts_the_earlier_result_evicted(
    ip: Any,
) -> None:
    SETTINGS.max_memory = 250_000
    body = "@memo\ndef f(i):\n    return np.full({n}, {v}, dtype=np.float64)\n"
    run_cell(ip, "import numpy as np")
    run_cell(ip, body.format(n=KB100, v=1) + "f(1)")
    run_cell(ip, body.format(n=KB100, v=1) + "f(2)")
    run_cell(ip, body.format(n=KB100, v=2) + "f(1)")  # 300 kB: the v1 f(1) or f(2) goes
    shown = run_cell(ip, "%memo_info f")
    assert "1 result of earlier code evicted to stay within max_memory" in str(shown.result)


def test_memo_info_of_a_function_says_how_many_results_of_earlier_code_went(ip: Any) -> None:
    SETTINGS.max_memory = 250_000
    body = "@memo\ndef f(i):\n    return np.full({n}, {v}, dtype=np.float64)\n"
    run_cell(ip, "import numpy as np")
    run_cell(ip, body.format(n=KB100, v=1) + "f(1)")
    run_cell(ip, body.format(n=KB100, v=2) + "f(1)")
    run_cell(ip, body.format(n=KB100, v=3) + "f(1)")  # 300 kB: the v1 result goes
    shown = run_cell(ip, "%memo_info f")
    assert shown.error is None
    assert "1 result of earlier code evicted to stay within max_memory" in str(shown.result)


def test_a_result_bigger_than_the_budget_is_returned_not_kept_and_said_once(
    tally: Tally, notes: Notes
) -> None:
    SETTINGS.max_memory = 150_000

    @memo
    def huge(i: int) -> np.ndarray:
        tally(i)
        return np.zeros(25_000)  # 200 kB

    assert huge(1).shape == (25_000,)
    assert huge(1).shape == (25_000,) and len(tally) == 2  # not kept: computed again
    warned = [t for t in notes.texts("warning") if "not kept" in t]
    assert len(warned) == 1 and "max_memory" in warned[0] and "huge" in warned[0]
    assert STORE.memory_bytes() == 0


def test_max_size_bounds_one_function_and_leaves_the_others(tally: Tally) -> None:
    @memo(max_size=250_000)
    def small_budget(i: int) -> np.ndarray:
        tally(("s", i))
        return np.full(KB100, i, dtype=np.float64)

    @memo
    def other(i: int) -> np.ndarray:
        tally(("o", i))
        return np.full(KB100, i, dtype=np.float64)

    other(1)
    for i in (1, 2, 3):
        small_budget(i)
    assert STORE.memory_bytes(small_budget.owner) <= 250_000
    runs = len(tally)
    other(1), small_budget(2), small_budget(3)
    assert len(tally) == runs
    small_budget(1)
    assert tally.runs[-1] == ("s", 1)


def test_small_results_are_not_counted_against_the_budget(tally: Tally) -> None:
    SETTINGS.max_memory = 1_000

    @memo
    def tiny(i: int) -> int:
        tally(i)
        return i * 2

    for _ in range(2):
        for i in range(50):
            tiny(i)
    assert len(tally) == 50 and STORE.memory_bytes() == 0


def test_a_bad_max_size_is_a_one_line_error() -> None:
    from ipycache_ext.errors import MemoOptionError

    with pytest.raises(MemoOptionError, match="max_size"):
        memo(max_size=-1)(lambda: 1)


def test_max_memory_is_set_with_config_as_bytes_or_a_share_of_ram(
    ip: Any, caplog: pytest.LogCaptureFixture
) -> None:
    assert run_cell(ip, '%config MemoMagics.max_memory = "50%"').error is None
    assert SETTINGS.max_memory == "50%"
    assert run_cell(ip, '%config MemoMagics.max_memory = "2e9"').error is None
    run_cell(ip, '%config MemoMagics.max_memory = "lots"')  # %config logs the error
    assert "max_memory 'lots' is not a memory size" in caplog.text
    assert SETTINGS.max_memory == "2e9"
