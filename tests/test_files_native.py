"""Readers that open files outside Python (sqlite3 here, as pyarrow, polars and h5py do)
are not seen by the file tracking: the first miss that read nothing visible but calls
one says so, once, with how to declare the file; a declared file is then keyed."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import Notes, Tally, define, run_cell

from ipycache_ext import depends_on, memo

MISS = "[ipycache] cache miss"
HINT = "calls connect, which reads files natively"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    make_db(tmp_path / "data.db", 3)
    return tmp_path


def make_db(path: Path, rows: int) -> None:
    with sqlite3.connect(path) as con:
        con.execute("create table if not exists t (x integer)")
        con.execute("delete from t")
        con.executemany("insert into t values (?)", [(i,) for i in range(rows)])
    con.close()


def _namespace(tally: Tally) -> dict[str, Any]:
    return {"memo": memo, "sqlite3": sqlite3, "depends_on": depends_on, "tally": tally}


def test_a_native_reader_with_nothing_seen_is_named_once_in_the_miss_note(
    here: Path, tally: Tally, notes: Notes
) -> None:
    ns = define(
        _namespace(tally),
        """
        @memo
        def count(path, where):
            tally(path)
            con = sqlite3.connect(path)
            try:
                return con.execute(f"select count(*) from t where {where}").fetchone()[0]
            finally:
                con.close()
        """,
    )
    assert ns["count"]("data.db", "x >= 0") == 3
    first = notes.texts("miss")
    assert len(first) == 1 and HINT in first[0] and "depends_on(" in first[0]
    assert ns["count"]("data.db", "x > 0") == 2
    assert HINT not in notes.texts("miss")[1]


def test_a_declared_database_file_is_keyed_and_gives_no_hint(
    here: Path, tally: Tally, notes: Notes
) -> None:
    ns = define(
        _namespace(tally),
        """
        @memo
        def count(path):
            tally(path)
            depends_on(path)
            con = sqlite3.connect(path)
            try:
                return con.execute("select count(*) from t").fetchone()[0]
            finally:
                con.close()
        """,
    )
    assert ns["count"]("data.db") == 3
    assert ns["count"]("data.db") == 3 and len(tally.runs) == 1
    make_db(here / "data.db", 5)
    assert ns["count"]("data.db") == 5 and len(tally.runs) == 2
    misses = notes.texts("miss")
    assert all(HINT not in text for text in misses)
    assert "file data.db changed" in misses[1]


def test_a_native_reader_next_to_a_seen_read_gives_no_hint(
    here: Path, tally: Tally, notes: Notes
) -> None:
    (here / "query.sql").write_text("select count(*) from t")
    ns = define(
        _namespace(tally),
        """
        @memo
        def count(path):
            tally(path)
            with open("query.sql") as fh:
                query = fh.read()
            con = sqlite3.connect(path)
            try:
                return con.execute(query).fetchone()[0]
            finally:
                con.close()
        """,
    )
    assert ns["count"]("data.db") == 3
    assert HINT not in notes.texts("miss")[0]


def test_code_without_native_readers_gives_no_hint(tally: Tally, notes: Notes) -> None:
    ns = define(
        _namespace(tally),
        """
        @memo
        def double(x):
            tally(x)
            return 2 * x
        """,
    )
    assert ns["double"](4) == 8
    assert "natively" not in notes.texts("miss")[0]


def test_a_helper_calling_the_native_reader_is_named_too(
    here: Path, tally: Tally, notes: Notes
) -> None:
    ns = define(
        _namespace(tally),
        """
        def rows(path):
            con = sqlite3.connect(path)
            try:
                return con.execute("select count(*) from t").fetchone()[0]
            finally:
                con.close()

        @memo
        def count(path):
            tally(path)
            return rows(path)
        """,
    )
    assert ns["count"]("data.db") == 3
    assert HINT in notes.texts("miss")[0]


def test_a_cell_calling_a_native_reader_is_told_about_files_once(ip: Any, here: Path) -> None:
    cell = (
        "%%memo --name db\nimport sqlite3\ncon = sqlite3.connect('data.db')\n"
        "n = con.execute('select count(*) from t where x >= {}'.format(low)).fetchone()[0]\n"
        "con.close()"
    )
    ip.user_ns["low"] = 0
    first = run_cell(ip, cell)
    assert first.error is None and ip.user_ns["n"] == 3
    assert HINT in first.notes(MISS)[0] and "--files PATTERN" in first.notes(MISS)[0]
    ip.user_ns["low"] = 1
    second = run_cell(ip, cell)
    assert ip.user_ns["n"] == 2 and HINT not in second.notes(MISS)[0]


def test_a_cell_declaring_the_database_with_files_misses_when_it_changes(
    ip: Any, here: Path
) -> None:
    cell = (
        "%%memo --name db --files data.db\nimport sqlite3\ncon = sqlite3.connect('data.db')\n"
        "n = con.execute('select count(*) from t').fetchone()[0]\ncon.close()"
    )
    first = run_cell(ip, cell)
    assert ip.user_ns["n"] == 3 and HINT not in first.notes(MISS)[0]
    assert run_cell(ip, cell).notes(MISS) == []
    make_db(here / "data.db", 4)
    changed = run_cell(ip, cell)
    assert ip.user_ns["n"] == 4 and "file data.db changed" in changed.notes(MISS)[0]
