"""Readers that open files outside Python (DuckDB, polars, pyarrow, h5py) are not seen
by the file tracking: the first miss that recorded no file but calls into one says so,
once, with how to declare the file; a declared file is then keyed.  SQLite is seen: its
``sqlite3.connect`` raises an audit event naming the database.

The paths here are built at run time (``name + ".parquet"``), so no value or constant
of the code names the file (those are dependencies, see test_files_named.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import Notes, Tally, define, run_cell

from ipycache_ext import depends_on, memo

MISS = "[ipycache] cache miss"
NATIVELY = "which reads files natively"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    make_db(tmp_path / "data.db", 3)
    pq.write_table(pa.table({"x": [1, 2, 3]}), tmp_path / "data.parquet")
    return tmp_path


def make_db(path: Path, rows: int) -> None:
    with sqlite3.connect(path) as con:
        con.execute("create table if not exists t (x integer)")
        con.execute("delete from t")
        con.executemany("insert into t values (?)", [(i,) for i in range(rows)])
    con.close()


def _namespace(tally: Tally) -> dict[str, Any]:
    return {
        "memo": memo,
        "sqlite3": sqlite3,
        "depends_on": depends_on,
        "tally": tally,
        "duckdb": duckdb,
        "pl": pl,
        "pd": pd,
    }


def test_a_native_reader_with_nothing_seen_is_named_once_in_the_miss_note(
    here: Path, tally: Tally, notes: Notes
) -> None:
    ns = define(
        _namespace(tally),
        """
        @memo
        def count(name, low):
            tally(name)
            query = f"select count(*) from read_parquet('{name}.parquet') where x >= {low}"
            return duckdb.sql(query).fetchall()[0][0]
        """,
    )
    assert ns["count"]("data", 0) == 3
    first = notes.texts("miss")
    assert len(first) == 1 and "calls duckdb.sql, " + NATIVELY in first[0]
    assert "depends_on(" in first[0]
    assert ns["count"]("data", 2) == 2
    assert NATIVELY not in notes.texts("miss")[1]


def test_a_native_reader_called_through_an_object_is_named(
    here: Path, tally: Tally, notes: Notes
) -> None:
    ns = define(
        {**_namespace(tally), "con": duckdb.connect()},
        """
        @memo(hash_funcs={"_duckdb.DuckDBPyConnection": lambda con: "in memory"})
        def count(name):
            tally(name)
            return con.sql(f"select count(*) from read_parquet('{name}.parquet')").fetchall()
        """,
    )
    assert ns["count"]("data") == [(3,)]
    assert "calls con.sql, " + NATIVELY in notes.texts("miss")[0]


def test_pandas_read_sql_on_a_connection_made_before_is_named(
    here: Path, tally: Tally, notes: Notes
) -> None:
    ns = define(
        {**_namespace(tally), "con": sqlite3.connect("data.db")},
        """
        @memo(hash_funcs={"sqlite3.Connection": lambda con: "data.db"})
        def count(low):
            tally(low)
            return len(pd.read_sql_query(f"select x from t where x >= {low}", con))
        """,
    )
    assert ns["count"](0) == 3
    assert "calls pd.read_sql_query, " + NATIVELY in notes.texts("miss")[0]
    ns["con"].close()


def test_a_sqlite_database_the_call_connects_to_is_a_dependency(
    here: Path, tally: Tally, notes: Notes
) -> None:
    ns = define(
        _namespace(tally),
        """
        @memo
        def count(name):
            tally(name)
            con = sqlite3.connect(name + ".db")
            try:
                return con.execute("select count(*) from t").fetchone()[0]
            finally:
                con.close()
        """,
    )
    assert ns["count"]("data") == 3 and ns["count"]("data") == 3
    make_db(here / "data.db", 5)
    assert ns["count"]("data") == 5 and len(tally) == 2
    assert "file data.db changed" in notes.texts("miss")[1]
    assert all(NATIVELY not in text for text in notes.texts("miss"))


def test_a_commit_by_a_writer_that_stays_connected_in_wal_mode_misses(
    here: Path, tally: Tally
) -> None:
    writer = sqlite3.connect(here / "data.db")
    writer.execute("pragma journal_mode=wal")
    writer.execute("insert into t values (10)")
    writer.commit()
    ns = define(
        _namespace(tally),
        """
        @memo
        def count(name):
            tally(name)
            con = sqlite3.connect(name + ".db")
            try:
                return con.execute("select count(*) from t").fetchone()[0]
            finally:
                con.close()
        """,
    )
    try:
        assert ns["count"]("data") == 4
        assert ns["count"]("data") == 4 and len(tally) == 1  # reading touched -shm only
        writer.execute("insert into t values (11)")
        writer.commit()  # into data.db-wal: data.db itself is unchanged
        assert ns["count"]("data") == 5 and len(tally) == 2
    finally:
        writer.close()


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
    assert all(NATIVELY not in text for text in misses)
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
    assert NATIVELY not in notes.texts("miss")[0]


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
        def rows(name):
            return pl.read_parquet(name + ".parquet").height

        @memo
        def count(name):
            tally(name)
            return rows(name)
        """,
    )
    assert ns["count"]("data") == 3
    assert "calls pl.read_parquet, " + NATIVELY in notes.texts("miss")[0]


def test_a_cell_calling_a_native_reader_is_told_about_files_once(ip: Any, here: Path) -> None:
    cell = (
        "%%memo --name db\nimport duckdb\n"
        "n = duckdb.sql(f\"select count(*) from '{name}.parquet' where x >= {low}\")"
        ".fetchall()[0][0]"
    )
    ip.user_ns.update(name="data", low=0)
    first = run_cell(ip, cell)
    assert first.error is None and ip.user_ns["n"] == 3
    assert "calls duckdb, " + NATIVELY in first.notes(MISS)[0]
    assert "--files PATTERN" in first.notes(MISS)[0]
    ip.user_ns["low"] = 2
    second = run_cell(ip, cell)
    assert ip.user_ns["n"] == 2 and NATIVELY not in second.notes(MISS)[0]


def test_a_cell_declaring_the_database_with_files_misses_when_it_changes(
    ip: Any, here: Path
) -> None:
    cell = (
        "%%memo --name db --files data.db\nimport sqlite3\ncon = sqlite3.connect('data.db')\n"
        "n = con.execute('select count(*) from t').fetchone()[0]\ncon.close()"
    )
    first = run_cell(ip, cell)
    assert ip.user_ns["n"] == 3 and NATIVELY not in first.notes(MISS)[0]
    assert run_cell(ip, cell).notes(MISS) == []
    make_db(here / "data.db", 4)
    changed = run_cell(ip, cell)
    assert ip.user_ns["n"] == 4 and "file data.db changed" in changed.notes(MISS)[0]


def test_reading_back_a_file_the_run_wrote_gives_no_hint(
    here: Path, tally: Tally, notes: Notes
) -> None:
    import pandas as pd

    ns = define(
        {"memo": memo, "pd": pd, "tally": tally},
        """
        @memo
        def roundtrip(n):
            tally(n)
            pd.DataFrame({"x": range(n)}).to_csv("out.csv", index=False)
            return len(pd.read_csv("out.csv"))
        """,
    )
    assert ns["roundtrip"](3) == 3
    assert "natively" not in notes.texts("miss")[0]
