"""Clearing reaches the persistent store: ``f.cache_clear()``, ``%memo_clear NAME`` and
``memo.clear()`` remove the persisted entries of what they clear (a note says how
many), so the next call runs instead of loading the old value back;
``%memo_info --store`` lists the store per function or cell, ``%memo_clear --store``
empties it.  Real InteractiveShell, real directory store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import Tally, run_cell

from ipycache_ext.config import SETTINGS
from ipycache_ext.engine.stats import STATS
from ipycache_ext.store.memory import STORE


@pytest.fixture
def persisted(ip: Any, store: Path) -> Tally:
    """``square`` (persist=True) defined in the shell, computed once for 3 and 4."""
    tally = Tally()
    ip.push({"tally": tally})
    run_cell(ip, "@memo(persist=True)\ndef square(x):\n    tally(x)\n    return x * x\n")
    run_cell(ip, "square(3)\nsquare(4)")
    assert tally.runs == [3, 4]
    return tally


def _forget_memory() -> None:
    """What a new kernel starts with: nothing in memory, the store as it was."""
    for owner, _ in list(STATS.owners()):
        STORE.clear(owner)


@pytest.mark.parametrize("clear", ["square.cache_clear()", "%memo_clear square", "memo.clear()"])
def test_clearing_a_persisted_function_removes_its_persisted_entries(
    ip: Any, persisted: Tally, clear: str
) -> None:
    cleared = run_cell(ip, clear)
    assert any("removed 2 persisted entries of" in t for t in cleared.texts()), cleared.texts()
    again = run_cell(ip, "square(3)")
    assert again.result.result == 9
    assert not again.notes("loaded")
    assert persisted.runs == [3, 4, 3]


def test_memo_info_store_lists_entries_per_function_and_cell(ip: Any, persisted: Tally) -> None:
    run_cell(ip, "%%memo --persist --name totals\ntotal = 1 + 2")
    table = repr(ip.run_line_magic("memo_info", "--store"))
    rows = {line.split()[0]: line.split()[1:] for line in table.splitlines()[3:]}
    assert rows["square"] == ["function", "2"]
    assert rows["totals"] == ["cell", "1"]


def test_memo_clear_store_empties_the_store_and_the_next_kernel_recomputes(
    ip: Any, persisted: Tally
) -> None:
    cleared = run_cell(ip, "%memo_clear --store")
    assert any("removed 2 persisted entries of every" in t for t in cleared.texts())
    assert "is empty" in repr(ip.run_line_magic("memo_info", "--store"))
    _forget_memory()
    run_cell(ip, "square(4)")
    assert persisted.runs == [3, 4, 4]


def test_memo_clear_store_by_name_keeps_the_others(ip: Any, persisted: Tally) -> None:
    run_cell(ip, "%%memo --persist --name totals\ntotal = 1 + 2")
    run_cell(ip, "%memo_clear --store square")
    table = repr(ip.run_line_magic("memo_info", "--store"))
    assert "totals" in table and "square" not in table
    unknown = run_cell(ip, "%memo_clear --store nope")
    assert "nothing stored for 'nope'" in str(unknown.error)


def test_clearing_in_a_new_kernel_reaches_entries_an_earlier_kernel_stored(
    ip: Any, persisted: Tally
) -> None:
    _forget_memory()
    SETTINGS.persist = True  # %config MemoMagics.persist = True in the new kernel
    run_cell(ip, "%memo_clear square")
    run_cell(ip, "square(3)")
    assert persisted.runs == [3, 4, 3]
