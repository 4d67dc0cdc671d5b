"""Freeing memory and keeping the persisted entries (a kernel short of RAM, a benchmark of
the store's hits): ``memo.clear(store=False)``, ``f.cache_clear(store=False)`` and
``%memo_clear --memory [NAME | call]``; the next call loads its result from the store.
Real InteractiveShell, real directory store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import Notes, Tally, run_cell
from persist_support import LOADED, persisted_double

from ipycache_ext import memo
from ipycache_ext.store.memory import STORE


def test_memo_clear_without_the_store_frees_memory_and_the_next_call_loads_from_the_store(
    store: Path, tally: Tally, notes: Notes
) -> None:
    double = persisted_double(tally)
    double(2)
    memo.clear(store=False)
    assert STORE.memory_bytes() == 0
    assert double(2) == 4
    assert tally.runs == [2]
    assert any(t.startswith(LOADED) for t in notes.texts("hit"))


def test_cache_clear_without_the_store_keeps_the_functions_persisted_entries(
    store: Path, tally: Tally, notes: Notes
) -> None:
    double = persisted_double(tally)
    double(2)
    double.cache_clear(store=False)
    assert double(2) == 4
    assert tally.runs == [2]
    assert not any("removed" in t for t in notes.texts("info"))


@pytest.fixture
def persisted(ip: Any, store: Path) -> Tally:
    """``square`` (persist=True) defined in the shell, computed once for 3 and 4."""
    tally = Tally()
    ip.push({"tally": tally})
    run_cell(ip, "@memo(persist=True)\ndef square(x):\n    tally(x)\n    return x * x\n")
    run_cell(ip, "square(3)\nsquare(4)")
    return tally


@pytest.mark.parametrize(
    ("clear", "what"),
    [
        ("%memo_clear --memory", "2 entries of every function and cell"),
        ("%memo_clear --memory square", "2 entries of square"),
        ("%memo_clear --memory square(3)", "1 entry of square(3)"),
    ],
)
def test_memo_clear_memory_says_what_it_freed_and_the_next_call_loads_from_the_store(
    ip: Any, persisted: Tally, clear: str, what: str
) -> None:
    cleared = run_cell(ip, clear)
    assert cleared.error is None
    assert f"[ipycache] cleared {what} from memory; persisted entries are kept" in cleared.texts()
    again = run_cell(ip, "square(3)")
    assert again.result.result == 9
    assert again.notes(LOADED)
    assert persisted.runs == [3, 4]


def test_memo_clear_memory_of_a_persisted_cell_replays_it_from_the_store(
    ip: Any, store: Path
) -> None:
    run_cell(ip, "%%memo --persist --name totals\ntotal = 1 + 2\nprint('ran')")
    run_cell(ip, "%memo_clear --memory totals")
    replayed = run_cell(ip, "%%memo --persist --name totals\ntotal = 1 + 2\nprint('ran')")
    assert replayed.notes(LOADED)
    assert ip.user_ns["total"] == 3
