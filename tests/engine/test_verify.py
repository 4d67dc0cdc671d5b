"""Proof that a stored result is fresh: ``f.verify(...)``, ``%memo_verify`` and
``verify_share`` run the code again and compare the new result with the stored one.
A stale result (here: a parquet file read in C, which Python's ``open`` hook does not
see) is said with what the key could not see, and replaced."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import Notes, Tally, define, run_cell

from ipycache_ext import config, memo
from ipycache_ext.engine.verify import Freshness, Verification

FRESH = "fresh: the stored result equals a new run"
STALE = "STALE: the stored result differs from a new run, and the key saw no change"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write_table(tmp_path, [1, 2])
    return tmp_path


def write_table(folder: Path, values: list[int]) -> None:
    """Rewrite ``table.parquet`` in place (the folder's listing stays the same)."""
    pq.write_table(pa.table({"x": values}), folder / "table.parquet")


# The file's name is built at run time: no string in the code names it.
LOADER = """
@memo
def load():
    tally(1)
    return pq.read_table("".join(("table", ".parquet"))).column("x").to_pylist()
"""


def loader(ns: dict, tally: Tally, source: str = LOADER) -> Any:
    ns.update(tally=tally, pq=pq)
    return define(ns, source)["load"]


def times(ns: dict, tally: Tally) -> Any:
    ns["tally"] = tally
    define(ns, "@memo\ndef double(n):\n    tally(n)\n    return [2 * n]")
    return ns["double"]


def test_verify_of_an_unchanged_call_says_fresh_and_runs_it_again(
    ns: dict, tally: Tally, notes: Notes
) -> None:
    double = times(ns, tally)
    double(21)
    found = double.verify(21)
    assert isinstance(found, Verification) and found.fresh
    assert tally.runs == [21, 21]
    assert notes.texts("hit")[-1] == f"[ipycache] verified double(21): {FRESH}"


def test_verify_is_not_counted_as_a_hit_or_a_miss(ns: dict, tally: Tally) -> None:
    double = times(ns, tally)
    double(21)
    double.verify(21)
    assert double.cache_info()[:2] == (0, 1)


def test_verify_of_a_call_never_made_says_nothing_is_stored_and_runs_nothing(
    ns: dict, tally: Tally
) -> None:
    double = times(ns, tally)
    found = double.verify(3)
    assert found.freshness is Freshness.NOT_STORED and tally.runs == []


def test_verify_after_a_file_read_in_c_changed_says_stale_naming_the_reader(
    here: Path, ns: dict, tally: Tally, notes: Notes
) -> None:
    load = loader(ns, tally)
    load()
    write_table(here, [3, 4])
    assert load() == [1, 2] and len(tally) == 1  # a hit: the key saw no change
    found = load.verify()
    assert found.stale
    [warning] = [text for text in notes.texts("warning") if STALE in text]
    assert f"verified load(): {STALE}" in warning
    assert "a native file reader (read_table)" in warning and "depends_on(" in warning


def test_a_stale_entry_is_replaced_by_the_verify_runs_result(
    here: Path, ns: dict, tally: Tally
) -> None:
    load = loader(ns, tally)
    load()
    write_table(here, [3, 4])
    load.verify()
    assert load() == [3, 4] and len(tally) == 2


def test_verify_names_randomness_a_stale_run_drew(ns: dict, notes: Notes) -> None:
    ns["random"] = random
    define(ns, "@memo\ndef draw():\n    return random.random()")
    ns["draw"]()
    assert ns["draw"].verify().stale
    assert "randomness (random)" in notes.texts("warning")[-1]
    assert "pass a seed as an argument" in notes.texts("warning")[-1]


def test_verify_of_an_async_function_is_a_one_line_error(ns: dict) -> None:
    define(ns, "@memo\nasync def fetch(n):\n    return n")
    with pytest.raises(TypeError, match="fetch is a coroutine function: verify runs sync"):
        ns["fetch"].verify(1)


def test_verify_of_a_method_binds_the_instance(ns: dict, tally: Tally) -> None:
    ns["tally"] = tally
    define(
        ns,
        "class E:\n    @memo\n    def foo(self, x):\n        tally(x)\n        return x + 1",
    )
    e = ns["E"]()
    e.foo(1)
    assert e.foo.verify(1).fresh and tally.runs == [1, 1]


# ----- verify_share ---------------------------------------------------------------------------


def test_verify_share_one_rechecks_every_hit_and_warns_on_a_stale_one(
    here: Path, ns: dict, tally: Tally, notes: Notes
) -> None:
    config.SETTINGS.verify_share = 1.0
    load = loader(ns, tally)
    load()
    load()
    assert len(tally) == 2 and not [text for text in notes.texts("warning") if STALE in text]
    write_table(here, [3, 4])
    assert load() == [3, 4]
    assert f"verified load(): {STALE}" in notes.texts("warning")[-1]


def test_verify_share_zero_never_rechecks(here: Path, ns: dict, tally: Tally) -> None:
    load = loader(ns, tally)
    for _ in range(5):
        load()
    assert len(tally) == 1


def test_verify_share_of_a_quarter_rechecks_every_fourth_hit(ns: dict, tally: Tally) -> None:
    config.SETTINGS.verify_share = 0.25
    double = times(ns, tally)
    for _ in range(9):
        double(1)
    assert tally.runs == [1, 1, 1]


def test_memo_verify_share_option_overrides_the_setting(ns: dict, tally: Tally) -> None:
    config.SETTINGS.verify_share = 1.0
    ns["tally"] = tally
    define(ns, "@memo(verify_share=0)\ndef one(n):\n    tally(n)\n    return n")
    ns["one"](1)
    ns["one"](1)
    assert tally.runs == [1]


def test_memo_verify_share_option_rechecks_its_own_hits(ns: dict, tally: Tally) -> None:
    ns["tally"] = tally
    define(ns, "@memo(verify_share=1)\ndef one(n):\n    tally(n)\n    return n")
    ns["one"](1)
    ns["one"](1)
    assert tally.runs == [1, 1]


def test_verify_share_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="verify_share"):
        memo(verify_share=2)(lambda: 1)


# ----- in IPython ---------------------------------------------------------------------------


def test_memo_verify_of_a_call_says_fresh(ip: Any) -> None:
    run_cell(ip, "@memo\ndef f(a, b):\n    return a * b\n\nf(2, 21)")
    cell = run_cell(ip, "%memo_verify f(2, 21)")
    assert cell.notes(f"[ipycache] verified f(2, 21): {FRESH}")


def test_memo_verify_of_a_name_verifies_every_entry_of_the_function(ip: Any) -> None:
    run_cell(ip, "@memo\ndef f(a, b):\n    return a * b\n\nf(2, 21)\nf(3, 4)")
    cell = run_cell(ip, "%memo_verify f")
    assert len(cell.notes(FRESH)) == 2


def test_memo_verify_of_a_stale_cell_says_stale_and_rebinds_its_names(here: Path, ip: Any) -> None:
    body = (
        "%%memo\nimport pyarrow.parquet as pq\n"
        'xs = pq.read_table("".join(("table", ".parquet"))).column("x").to_pylist()\n'
    )
    run_cell(ip, body)
    write_table(here, [3, 4])
    run_cell(ip, body)
    assert ip.user_ns["xs"] == [1, 2]
    cell = run_cell(ip, "%memo_verify cell [xs]")
    assert cell.notes(f"verified cell [xs]: {STALE}")
    assert ip.user_ns["xs"] == [3, 4]


def test_memo_verify_of_an_unchanged_cell_says_fresh(ip: Any) -> None:
    run_cell(ip, "a = 2")
    run_cell(ip, "%%memo\nb = a * 21\n")
    cell = run_cell(ip, "%memo_verify cell [b]")
    assert cell.notes(f"[ipycache] verified cell [b]: {FRESH}")


def test_config_verify_share_rechecks_cell_hits(ip: Any) -> None:
    ip.push({"tally": Tally()})
    run_cell(ip, "%config MemoMagics.verify_share = 1.0")
    run_cell(ip, "%%memo\nb = tally(1)\n")
    run_cell(ip, "%%memo\nb = tally(1)\n")
    cell = run_cell(ip, "%%memo\nb = tally(1)\n")
    assert ip.user_ns["tally"].runs == [1, 1, 1]
    assert cell.notes(f"verified cell [b]: {STALE}")
