"""@memo in plain Python: the decorator's forms, how arguments make the key, the cache
(by reference, LRU, ttl, errors, threads, async, methods) and the notes it emits."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import Notes, Tally, define

from ipycache_ext import CacheInfo, memo

# ----- helpers ----------------------------------------------------------------------------


class Gate:
    """Holds a body until released; passed as ``_gate`` so it stays out of the key."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def pass_through(self) -> None:
        self.entered.set()
        assert self.release.wait(30), "the test never released the gate"


def call_in_thread(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a thread and return its result; fail instead of hanging forever."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "the call never returned (a waiter was left blocked)"
    if "error" in box:
        raise box["error"]
    return box["value"]


DURATION = re.compile(r"\d+(\.\d+)? (µs|ms|s)\b")


# ----- the decorator ----------------------------------------------------------------------


def test_from_ipycache_ext_import_memo_works_in_plain_python_without_ipython() -> None:
    script = (
        "import sys\n"
        "from ipycache_ext import memo\n"
        "@memo\n"
        "def f(x):\n"
        "    return x * 2\n"
        "print(f(21), f(21), f.cache_info().misses, 'IPython' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["42", "42", "1", "False"]


def test_plain_python_prints_notes_to_stderr() -> None:
    script = "from ipycache_ext import memo\n@memo\ndef f(x):\n    return x\nf(1)\n"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert "cache miss" in done.stderr
    assert "f(1)" in done.stderr


def test_bare_decorator_caches_calls(tally: Tally) -> None:
    @memo
    def f(x: int) -> int:
        return tally(x)

    f(1)
    f(1)
    assert tally.runs == [1]


def test_decorator_with_every_option_caches_calls(tally: Tally) -> None:
    @memo(
        allow_output_mutation=False,
        suppress_warning=False,
        hash_funcs=None,
        max_entries=None,
        ttl=None,
        show_spinner=True,
    )
    def f(x: int) -> int:
        return tally(x)

    f(1)
    f(1)
    assert tally.runs == [1]


def test_decorator_with_empty_parentheses_caches_calls(tally: Tally) -> None:
    @memo()
    def f(x: int) -> int:
        return tally(x)

    f(1)
    f(1)
    assert tally.runs == [1]


def test_decorating_a_generator_function_raises_type_error() -> None:
    with pytest.raises(TypeError, match="generator"):

        @memo
        def numbers(n: int) -> Any:
            yield from range(n)


def test_decorating_an_async_generator_function_raises_type_error() -> None:
    with pytest.raises(TypeError, match="generator"):

        @memo
        async def numbers(n: int) -> Any:
            yield n


# ----- arguments in the key ---------------------------------------------------------------


def test_positional_and_keyword_calls_share_one_entry(tally: Tally) -> None:
    @memo
    def f(a: int, b: int) -> int:
        return tally((a, b))

    f(2, 21)
    f(2, b=21)
    f(a=2, b=21)
    f(b=21, a=2)
    assert tally.runs == [(2, 21)]


def test_defaults_are_applied_before_keying(tally: Tally) -> None:
    @memo
    def f(a: int, b: int = 21) -> int:
        return tally((a, b))

    f(2)
    f(2, 21)
    f(2, b=21)
    assert tally.runs == [(2, 21)]


def test_changed_argument_misses(tally: Tally) -> None:
    @memo
    def f(a: int, b: int = 21) -> int:
        return tally((a, b))

    f(2)
    f(2, 22)
    f(3)
    assert tally.runs == [(2, 21), (2, 22), (3, 21)]


def test_underscore_parameters_are_left_out_of_the_key(tally: Tally) -> None:
    @memo
    def f(a: int, _log: list) -> int:
        return tally(a)

    f(1, [])
    f(1, ["other"])
    f(1, _log=threading.Lock())
    assert tally.runs == [1]


def test_extra_positional_and_keyword_arguments_are_part_of_the_key(tally: Tally) -> None:
    @memo
    def f(a: int, *rest: int, **options: Any) -> Any:
        return tally((a, rest, options))

    f(1, 2, 3, x=1)
    f(1, 2, 3, x=1)
    f(1, 2, 4, x=1)
    f(1, 2, 3, x=2)
    assert len(tally) == 3


def test_keyword_only_arguments_are_part_of_the_key(tally: Tally) -> None:
    @memo
    def f(a: int, *, scale: int = 1) -> int:
        return tally(a * scale)

    f(2)
    f(2, scale=1)
    f(2, scale=3)
    assert tally.runs == [2, 6]


def test_positional_only_arguments_are_part_of_the_key(tally: Tally) -> None:
    @memo
    def f(a: int, /, b: int) -> int:
        return tally((a, b))

    f(1, 2)
    f(1, b=2)
    f(2, b=2)
    assert tally.runs == [(1, 2), (2, 2)]


def test_equal_but_distinct_argument_objects_share_an_entry(tally: Tally) -> None:
    @memo
    def f(rows: list) -> int:
        return tally(len(rows))

    f([{"a": 1}, {"b": 2}])
    f([{"a": 1}, {"b": 2}])
    assert tally.runs == [2]


# ----- the cache --------------------------------------------------------------------------


def test_hit_returns_the_same_object() -> None:
    @memo
    def f(n: int) -> list:
        return list(range(n))

    assert f(3) is f(3)


def test_none_is_a_cached_result(tally: Tally) -> None:
    @memo
    def f(x: int) -> None:
        tally(x)

    assert f(1) is None
    assert f(1) is None
    assert tally.runs == [1]


def test_max_entries_evicts_least_recently_used_first(tally: Tally) -> None:
    @memo(max_entries=2)
    def f(x: int) -> int:
        return tally(x)

    f(1)
    f(2)
    f(1)
    f(3)
    f(1)
    f(2)
    assert tally.runs == [1, 2, 3, 2]
    assert f.cache_info().currsize == 2


def test_max_entries_is_per_function(tally: Tally) -> None:
    @memo(max_entries=1)
    def f(x: int) -> int:
        return tally(("f", x))

    @memo(max_entries=1)
    def g(x: int) -> int:
        return tally(("g", x))

    f(1)
    g(1)
    f(1)
    g(1)
    assert len(tally) == 2


@pytest.mark.parametrize("ttl", [0.05, dt.timedelta(milliseconds=50)], ids=["seconds", "timedelta"])
def test_ttl_expires_entries(tally: Tally, ttl: float | dt.timedelta) -> None:
    @memo(ttl=ttl)
    def f(x: int) -> int:
        return tally(x)

    f(1)
    time.sleep(0.1)
    f(1)
    assert tally.runs == [1, 1]


def test_entry_within_ttl_hits(tally: Tally) -> None:
    @memo(ttl=dt.timedelta(hours=1))
    def f(x: int) -> int:
        return tally(x)

    f(1)
    f(1)
    assert tally.runs == [1]


def test_expired_entry_no_longer_counts_in_cache_info() -> None:
    @memo(ttl=0.05)
    def f(x: int) -> int:
        return x

    f(1)
    time.sleep(0.1)
    assert f.cache_info().currsize == 0


def test_exception_propagates_and_nothing_is_cached(tally: Tally) -> None:
    @memo
    def f(x: int, _fail: bool = True) -> int:
        tally(x)
        if _fail:
            raise ValueError("boom")
        return x

    with pytest.raises(ValueError, match="boom"):
        f(1)
    with pytest.raises(ValueError, match="boom"):
        f(1)
    assert f.cache_info().currsize == 0
    assert f(1, _fail=False) == 1
    assert tally.runs == [1, 1, 1]


def test_keyboard_interrupt_propagates_and_leaves_nothing_stored(tally: Tally) -> None:
    @memo
    def f(x: int, _interrupt: bool = False) -> int:
        tally(x)
        if _interrupt:
            raise KeyboardInterrupt
        return x

    with pytest.raises(KeyboardInterrupt):
        f(1, _interrupt=True)
    assert f.cache_info().currsize == 0
    assert call_in_thread(lambda: f(1)) == 1
    assert tally.runs == [1, 1]


def test_concurrent_calls_with_the_same_key_compute_once(tally: Tally) -> None:
    gate = Gate()

    @memo
    def slow(x: int, _gate: Gate) -> list:
        tally(x)
        _gate.pass_through()
        return [x]

    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(slow(1, gate))) for _ in range(8)]
    threads[0].start()
    assert gate.entered.wait(30)
    for t in threads[1:]:
        t.start()
    time.sleep(0.2)  # let the others reach the wait; correctness does not depend on it
    gate.release.set()
    for t in threads:
        t.join(30)
    assert tally.runs == [1]
    assert len(results) == 8
    assert all(r is results[0] for r in results)


def test_waiting_caller_runs_itself_when_the_running_call_raises(tally: Tally) -> None:
    gate = Gate()

    @memo
    def flaky(x: int, _gate: Gate | None = None) -> int:
        n = tally(x)
        if _gate is not None:
            _gate.pass_through()
            raise RuntimeError("first run fails")
        return n

    first = threading.Thread(target=lambda: pytest.raises(RuntimeError, flaky, 1, gate))
    first.start()
    assert gate.entered.wait(30)
    waiter_result: list[int] = []
    waiter = threading.Thread(target=lambda: waiter_result.append(flaky(1)))
    waiter.start()
    time.sleep(0.1)
    gate.release.set()
    first.join(30)
    waiter.join(30)
    assert waiter_result == [2]
    assert tally.runs == [1, 1]


def test_many_threads_on_many_keys_compute_each_key_once(tally: Tally) -> None:
    @memo
    def square(x: int) -> int:
        tally(x)
        return x * x

    def work() -> None:
        for x in range(40):
            assert square(x) == x * x

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(tally.runs) == list(range(40))
    info = square.cache_info()
    assert (info.hits, info.misses, info.currsize) == (8 * 40 - 40, 40, 40)


def test_async_function_is_memoized(tally: Tally) -> None:
    @memo
    async def fetch(x: int) -> list:
        tally(x)
        await asyncio.sleep(0)
        return [x]

    async def main() -> tuple[Any, Any]:
        return await fetch(1), await fetch(1)

    first, second = asyncio.run(main())
    assert first == [1]
    assert first is second
    assert tally.runs == [1]


def test_concurrent_async_calls_with_the_same_key_compute_once(tally: Tally) -> None:
    @memo
    async def fetch(x: int) -> list:
        tally(x)
        await asyncio.sleep(0.01)
        return [x]

    async def main() -> list[Any]:
        return await asyncio.gather(*(fetch(1) for _ in range(5)))

    results = asyncio.run(main())
    assert tally.runs == [1]
    assert all(r is results[0] for r in results)


def test_async_exception_propagates_and_nothing_is_cached(tally: Tally) -> None:
    @memo
    async def fetch(x: int) -> int:
        tally(x)
        raise ValueError("no network")

    for _ in range(2):
        with pytest.raises(ValueError, match="no network"):
            asyncio.run(fetch(1))
    assert tally.runs == [1, 1]
    assert fetch.cache_info().currsize == 0


METHOD_SOURCE = """
class Scaler:
    def __init__(self, k):
        self.k = k

    @memo
    def apply(self, x):
        return tally((self.k, x))
"""


def test_method_self_is_part_of_the_key(ns: dict, tally: Tally) -> None:
    ns["tally"] = tally
    define(ns, METHOD_SOURCE)
    a, b = ns["Scaler"](2), ns["Scaler"](5)
    a.apply(3)
    a.apply(3)
    b.apply(3)
    assert tally.runs == [(2, 3), (5, 3)]


def test_method_misses_when_instance_state_changes(ns: dict, tally: Tally) -> None:
    ns["tally"] = tally
    define(ns, METHOD_SOURCE)
    a = ns["Scaler"](2)
    a.apply(3)
    a.k = 7
    a.apply(3)
    assert tally.runs == [(2, 3), (7, 3)]


def test_cache_info_counts_hits_misses_maxsize_and_size() -> None:
    @memo(max_entries=10)
    def f(x: int) -> int:
        return x

    f(1)
    f(1)
    f(2)
    f(1)
    info = f.cache_info()
    assert info == CacheInfo(hits=2, misses=2, maxsize=10, currsize=2)
    assert info._fields == ("hits", "misses", "maxsize", "currsize")


def test_cache_info_maxsize_is_none_without_max_entries() -> None:
    @memo
    def f(x: int) -> int:
        return x

    assert f.cache_info() == CacheInfo(0, 0, None, 0)


def test_cache_clear_empties_only_that_function(tally: Tally) -> None:
    @memo
    def f(x: int) -> int:
        return tally(("f", x))

    @memo
    def g(x: int) -> int:
        return tally(("g", x))

    f(1)
    g(1)
    f.cache_clear()
    assert f.cache_info().currsize == 0
    assert g.cache_info().currsize == 1
    f(1)
    g(1)
    assert tally.runs == [("f", 1), ("g", 1), ("f", 1)]


def test_memo_clear_empties_every_function(tally: Tally) -> None:
    @memo
    def f(x: int) -> int:
        return tally(("f", x))

    @memo
    def g(x: int) -> int:
        return tally(("g", x))

    f(1)
    g(1)
    memo.clear()
    assert f.cache_info().currsize == g.cache_info().currsize == 0
    f(1)
    g(1)
    assert len(tally) == 4


# ----- miss notes -------------------------------------------------------------------------


def test_miss_note_is_one_line_naming_the_call_and_its_duration(ns: dict, notes: Notes) -> None:
    define(ns, "@memo\ndef f(a, b=1):\n    return a + b\n")
    ns["f"](2, b=21)
    [note] = notes.of("miss")
    assert "\n" not in note.text
    assert "f(2, b=21)" in note.text
    assert DURATION.search(note.text)


def test_hit_emits_no_miss_note(ns: dict, notes: Notes) -> None:
    define(ns, "@memo\ndef f(a):\n    return a\n")
    ns["f"](1)
    ns["f"](1)
    assert len(notes.of("miss")) == 1


def test_miss_note_names_the_changed_argument_with_old_and_new_value(
    ns: dict, notes: Notes
) -> None:
    define(ns, "@memo\ndef f(x):\n    return x\n")
    ns["f"](1)
    ns["f"](2)
    assert "argument x changed (1 -> 2)" in notes.texts("miss")[-1]


def test_miss_note_names_the_changed_global_with_old_and_new_value(ns: dict, notes: Notes) -> None:
    ns["factor"] = 2
    define(ns, "@memo\ndef f(x):\n    return x * factor\n")
    ns["f"](1)
    ns["factor"] = 3
    ns["f"](1)
    last = notes.texts("miss")[-1]
    assert "global factor" in last
    assert "2 -> 3" in last


def test_miss_note_names_the_changed_attribute_chain(ns: dict, notes: Notes) -> None:
    define(ns, "class Cfg:\n    pass\ncfg = Cfg()\ncfg.threshold = 0.5\n")
    define(ns, "@memo\ndef f(x):\n    return x > cfg.threshold\n")
    ns["f"](1)
    ns["cfg"].threshold = 0.7
    ns["f"](1)
    last = notes.texts("miss")[-1]
    assert "cfg.threshold" in last
    assert "0.5 -> 0.7" in last


def test_miss_note_says_the_function_own_code_changed(ns: dict, notes: Notes) -> None:
    define(ns, "@memo\ndef f(x):\n    return x + 1\n")
    ns["f"](1)
    define(ns, "@memo\ndef f(x):\n    return x + 2\n")
    ns["f"](1)
    assert "code of f changed" in notes.texts("miss")[-1]


def test_miss_note_names_the_called_function_whose_code_changed(ns: dict, notes: Notes) -> None:
    define(ns, "def helper(x):\n    return x\n@memo\ndef f(x):\n    return helper(x)\n")
    ns["f"](1)
    define(ns, "def helper(x):\n    return -x\n")
    ns["f"](1)
    last = notes.texts("miss")[-1]
    assert "code of helper changed" in last
    assert "code of f changed" not in last


# ----- output warning ---------------------------------------------------------------------


def test_output_warning_when_function_prints(ns: dict, notes: Notes) -> None:
    define(ns, "@memo\ndef f(x):\n    print('working on', x)\n    return x\n")
    ns["f"](1)
    [warning] = notes.texts("warning")
    assert "f" in warning
    assert "print" in warning
    assert "suppress_warning=True" in warning


def test_output_warning_when_function_writes_to_stderr(ns: dict, notes: Notes) -> None:
    define(ns, "import sys\n@memo\ndef f(x):\n    sys.stderr.write('careful\\n')\n    return x\n")
    ns["f"](1)
    assert len(notes.of("warning")) == 1


def test_suppress_warning_silences_the_output_warning(ns: dict, notes: Notes) -> None:
    define(ns, "@memo(suppress_warning=True)\ndef f(x):\n    print(x)\n    return x\n")
    ns["f"](1)
    assert notes.of("warning") == []


def test_quiet_function_gets_no_output_warning(ns: dict, notes: Notes) -> None:
    define(ns, "@memo\ndef f(x):\n    return x\n")
    ns["f"](1)
    assert notes.of("warning") == []


# ----- mutation warning -------------------------------------------------------------------


def test_mutation_warning_on_hit_after_the_cached_result_was_mutated(
    ns: dict, notes: Notes
) -> None:
    define(ns, "@memo\ndef f(n):\n    return list(range(n))\n")
    ns["f"](3).append(99)
    result = ns["f"](3)
    assert result == [0, 1, 2, 99]
    [warning] = notes.texts("warning")
    assert "mutated" in warning
    assert "don't mutate" in warning
    assert "copy.deepcopy" in warning
    assert "allow_output_mutation=True" in warning


def test_no_mutation_warning_when_the_cached_result_is_unchanged(ns: dict, notes: Notes) -> None:
    define(ns, "@memo\ndef f(n):\n    return {'rows': list(range(n))}\n")
    copy.deepcopy(ns["f"](3))["rows"].append(99)
    ns["f"](3)
    assert notes.of("warning") == []


def test_mutation_warning_for_a_mutated_dataframe_result(ns: dict, notes: Notes) -> None:
    ns["pd"] = pd
    define(ns, "@memo\ndef f(n):\n    return pd.DataFrame({'a': range(n)})\n")
    ns["f"](3).loc[0, "a"] = 100
    ns["f"](3)
    assert len(notes.of("warning")) == 1


def test_mutation_warning_for_a_mutated_numpy_result(ns: dict, notes: Notes) -> None:
    ns["np"] = np
    define(ns, "@memo\ndef f(n):\n    return np.zeros(n)\n")
    ns["f"](3)[1] = 5.0
    ns["f"](3)
    assert len(notes.of("warning")) == 1


def test_allow_output_mutation_silences_the_mutation_warning(ns: dict, notes: Notes) -> None:
    define(ns, "@memo(allow_output_mutation=True)\ndef f(n):\n    return list(range(n))\n")
    ns["f"](3).append(99)
    assert ns["f"](3) == [0, 1, 2, 99]
    assert notes.of("warning") == []


class Box:
    def __init__(self) -> None:
        self.items: list[int] = []


def _box_memo(allow_output_mutation: bool, hashed: Tally) -> Any:
    def by_items(box: Box) -> tuple:
        hashed(len(box.items))
        return tuple(box.items)

    @memo(allow_output_mutation=allow_output_mutation, hash_funcs={Box: by_items})
    def make(n: int) -> Box:
        return Box()

    return make


def test_allow_output_mutation_skips_the_rehash_on_hit() -> None:
    hashed = Tally()
    make = _box_memo(True, hashed)
    make(1)
    after_miss = len(hashed)
    make(1)
    make(1)
    assert len(hashed) == after_miss


def test_hit_rehashes_the_result_without_allow_output_mutation() -> None:
    hashed = Tally()
    make = _box_memo(False, hashed)
    make(1)
    after_miss = len(hashed)
    make(1)
    assert len(hashed) > after_miss
