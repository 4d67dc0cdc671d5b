"""Entries a store holds outlive the code that wrote them: a store written by the package
before its modules moved into ``engine/``, ``keys/`` and ``store/backends/`` still serves
hits, because every class a persisted entry pickles keeps its import path.

``tests/data/written_before_the_move/`` holds that store's index and its key, written by
commit 2f4f490 under Python 3.11 with the two scripts below (one ``@memo`` function, one
``%%memo`` cell).  The hits are ``pinned``: another Python's bytecode is another key."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import pytest
from persist_support import LOADED, lines, run_script, store_env

WRITTEN = Path(__file__).resolve().parent.parent / "data" / "written_before_the_move"

FUNCTION = """
import sys
from ipycache_ext import memo

@memo(persist=True)
def square(x):
    with open("runs.log", "a") as log:
        log.write(f"{x}\\n")
    return {"square": x * x, "of": [x]}

print(square(int(sys.argv[1])))
"""

CELL = """
from IPython.core.interactiveshell import InteractiveShell

shell = InteractiveShell.instance()
shell.run_line_magic("load_ext", "ipycache_ext")
shell.run_cell("n = 5")
shell.run_cell('''%%memo --persist
with open("runs.log", "a") as log:
    log.write("ran\\\\n")
del log
total = sum(range(n))
print("total is", total)
''')
print("bound", shell.user_ns["total"])
"""


@pytest.fixture
def old_store(tmp_path: Path) -> dict[str, str]:
    """A copy of the store written before the move, with the key and modes it had."""
    store = tmp_path / "store"
    store.mkdir(mode=0o700)
    shutil.copy(WRITTEN / "cache.db", store / "cache.db")
    key = tmp_path / "secret.key"
    shutil.copy(WRITTEN / "fixture.key", key)
    key.chmod(0o600)
    return store_env(store, key)


@pytest.mark.pinned
def test_a_function_entry_written_before_the_move_is_a_hit(
    tmp_path: Path, old_store: dict[str, str]
) -> None:
    out, notes = run_script(tmp_path, FUNCTION, old_store, "7")
    assert out == "{'square': 49, 'of': [7]}\n"
    assert f"{LOADED} square(7)" in notes
    assert lines(tmp_path / "runs.log") == []


@pytest.mark.pinned
def test_a_cell_entry_written_before_the_move_is_replayed(
    tmp_path: Path, old_store: dict[str, str]
) -> None:
    out, notes = run_script(tmp_path, CELL, old_store)
    assert "total is 10" in out and "bound 10" in out
    assert LOADED in out + notes and "cache miss" not in out + notes
    assert lines(tmp_path / "runs.log") == []


@pytest.mark.parametrize(
    "path",
    [
        "ipycache_ext.store.entry.Entry",
        "ipycache_ext.parts.PartId",
        "ipycache_ext.parts.Seen",
        "ipycache_ext.parts.FileState",
        "ipycache_ext.parts.SplitSnapshot",
        "ipycache_ext.parts.Reason",
        "ipycache_ext.ipython.cellrun.CellRecord",
    ],
)
def test_every_pickled_class_keeps_its_import_path(path: str) -> None:
    module, name = path.rsplit(".", 1)
    found = getattr(importlib.import_module(module), name)
    assert f"{found.__module__}.{found.__qualname__}" == path
