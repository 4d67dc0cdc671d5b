"""Values that name files are file dependencies: a string or path object the code holds
(an argument, a global, a closure value, a constant of its code or of a helper it
calls, a path quoted in SQL text) is checked by stat like an opened file, so a file
read natively (pyarrow, polars, DuckDB) is seen; one naming a missing file is recorded
as absent, so creating it is a miss.  The working directory, the folders above it, the
root and the home folder are not dependencies, plain words and URLs are not paths, and
a folder is keyed by its listing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import Tally, define, run_cell
from files_support import bump

from ipycache_ext import memo
from ipycache_ext.store.memory import STORE


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write_parquet(tmp_path / "sales.parquet", [1, 2, 3])
    return tmp_path


def write_parquet(path: Path, values: list[int]) -> None:
    pq.write_table(pa.table({"x": values}), path)
    bump(path)


def files_of(fn: Any) -> list[str]:
    """The paths (relative to the working directory) the entries of ``fn`` depend on."""
    return sorted(
        os.path.relpath(state.path) for entry in STORE.entries(fn.owner) for state in entry.files
    )


def _ns(tally: Tally) -> dict[str, Any]:
    return {"__name__": "__main__", "memo": memo, "tally": tally, "pq": pq, "pl": pl, "os": os}


def test_a_path_argument_read_natively_misses_when_the_file_changes(
    here: Path, tally: Tally
) -> None:
    @memo
    def total(path: str) -> int:
        tally(path)
        return int(pq.read_table(path)["x"].to_pylist()[-1])

    assert total("sales.parquet") == 3 and total("sales.parquet") == 3
    write_parquet(here / "sales.parquet", [1, 2, 4])
    assert total("sales.parquet") == 4 and len(tally) == 2


def test_a_pathlib_argument_is_a_file_dependency_too(here: Path, tally: Tally) -> None:
    @memo
    def total(path: Path) -> int:
        tally(path)
        return int(pl.read_parquet(path)["x"].sum())

    assert total(Path("sales.parquet")) == 6
    write_parquet(here / "sales.parquet", [1])
    assert total(Path("sales.parquet")) == 1 and len(tally) == 2


def test_a_path_in_a_list_argument_is_a_file_dependency(here: Path, tally: Tally) -> None:
    write_parquet(here / "more.parquet", [10])

    @memo
    def total(paths: list[str]) -> int:
        tally(1)
        return sum(int(pl.read_parquet(p)["x"].sum()) for p in paths)

    assert total(["sales.parquet", "more.parquet"]) == 16
    write_parquet(here / "more.parquet", [20])
    assert total(["sales.parquet", "more.parquet"]) == 26 and len(tally) == 2


def test_a_global_naming_a_file_is_a_file_dependency(here: Path, tally: Tally) -> None:
    ns = define(
        {**_ns(tally), "DATA": "sales.parquet"},
        """
        @memo
        def total():
            tally(1)
            return int(pl.read_parquet(DATA)["x"].sum())
        """,
    )
    assert ns["total"]() == 6
    write_parquet(here / "sales.parquet", [5])
    assert ns["total"]() == 5 and len(tally) == 2


def test_a_closure_value_naming_a_file_is_a_file_dependency(here: Path, tally: Tally) -> None:
    def make(path: str) -> Any:
        @memo
        def total() -> int:
            tally(1)
            return int(pl.read_parquet(path)["x"].sum())

        return total

    total = make("sales.parquet")
    assert total() == 6
    write_parquet(here / "sales.parquet", [7])
    assert total() == 7 and len(tally) == 2


def test_a_path_constant_in_a_helper_the_code_calls_is_a_file_dependency(
    here: Path, tally: Tally
) -> None:
    ns = define(
        _ns(tally),
        """
        def load():
            return pl.read_parquet("sales.parquet")

        @memo
        def total():
            tally(1)
            return int(load()["x"].sum())
        """,
    )
    assert ns["total"]() == 6 and files_of(ns["total"]) == ["sales.parquet"]
    write_parquet(here / "sales.parquet", [8])
    assert ns["total"]() == 8 and len(tally) == 2


def test_a_path_quoted_in_sql_text_is_a_file_dependency(here: Path, tally: Tally) -> None:
    ns = define(
        {**_ns(tally), "duckdb": duckdb},
        """
        @memo
        def total():
            tally(1)
            return duckdb.sql("select sum(x) from read_parquet('sales.parquet')").fetchall()[0][0]
        """,
    )
    assert ns["total"]() == 6 and ns["total"]() == 6
    write_parquet(here / "sales.parquet", [9])
    assert ns["total"]() == 9 and len(tally) == 2


def test_a_new_file_matching_a_glob_quoted_in_sql_misses(here: Path, tally: Tally) -> None:
    (here / "data").mkdir()
    (here / "data" / "a.csv").write_text("x\n1\n")
    ns = define(
        {**_ns(tally), "duckdb": duckdb},
        """
        @memo
        def total():
            tally(1)
            return duckdb.sql("SELECT sum(x) FROM 'data/*.csv'").fetchall()[0][0]
        """,
    )
    assert ns["total"]() == 1 and ns["total"]() == 1
    (here / "data" / "b.csv").write_text("x\n2\n")
    assert ns["total"]() == 3 and len(tally) == 2


def test_creating_a_file_the_code_found_missing_misses(here: Path, tally: Tally) -> None:
    ns = define(
        _ns(tally),
        """
        @memo
        def settings():
            tally(1)
            if os.path.exists("o.json"):
                return open("o.json").read()
            return "defaults"
        """,
    )
    assert ns["settings"]() == "defaults" and ns["settings"]() == "defaults"
    (here / "o.json").write_text("{}")
    assert ns["settings"]() == "{}" and len(tally) == 2


def test_creating_a_file_named_by_an_argument_that_was_missing_misses(
    here: Path, tally: Tally
) -> None:
    @memo
    def settings(path: str) -> str:
        tally(1)
        return Path(path).read_text() if Path(path).is_file() else "defaults"

    assert settings("conf/o.json") == "defaults" and settings("conf/o.json") == "defaults"
    (here / "conf").mkdir()
    (here / "conf" / "o.json").write_text("{}")
    assert settings("conf/o.json") == "{}" and len(tally) == 2


def test_creating_a_file_a_cell_found_missing_misses(ip: Any, here: Path) -> None:
    cell = "%%memo\nimport os\nfound = os.path.exists('o.json')"
    assert run_cell(ip, cell).error is None and ip.user_ns["found"] is False
    assert run_cell(ip, cell).notes("cache miss") == []
    (here / "o.json").write_text("{}")
    again = run_cell(ip, cell)
    assert ip.user_ns["found"] is True and "o.json was created" in again.notes("cache miss")[0]


def test_a_cell_reading_a_file_natively_misses_when_it_changes(ip: Any, here: Path) -> None:
    cell = "%%memo\nimport polars as pl\ntotal = int(pl.read_parquet('sales.parquet')['x'].sum())"
    run_cell(ip, cell)
    assert ip.user_ns["total"] == 6 and run_cell(ip, cell).notes("cache miss") == []
    write_parquet(here / "sales.parquet", [2])
    changed = run_cell(ip, cell)
    assert ip.user_ns["total"] == 2 and "sales.parquet changed" in changed.notes("cache miss")[0]


def test_a_folder_argument_is_keyed_by_its_names_not_its_mtime(here: Path, tally: Tally) -> None:
    (here / "parts").mkdir()
    write_parquet(here / "parts" / "a.parquet", [1])

    @memo
    def total(folder: str) -> int:
        tally(1)
        return int(pl.read_parquet(f"{folder}/*.parquet")["x"].sum())

    assert total("parts") == 1
    (here / "parts" / "scratch").write_text("")
    (here / "parts" / "scratch").unlink()  # the folder's mtime moved, its names did not
    assert total("parts") == 1 and len(tally) == 1
    write_parquet(here / "parts" / "b.parquet", [2])
    assert total("parts") == 3 and len(tally) == 2


@pytest.mark.parametrize("name", [".", "..", "/", "~", "/tmp", os.getcwd])
def test_the_working_directory_root_home_and_system_folders_are_not_dependencies(
    here: Path, tally: Tally, name: Any
) -> None:
    @memo
    def listing(folder: str, path: str) -> int:
        tally(folder)
        return len(folder) + len(path)

    listing(name() if callable(name) else name, "sales.parquet")
    assert files_of(listing) == ["sales.parquet"]


def test_plain_words_urls_and_numbers_are_not_paths(here: Path, tally: Tally) -> None:
    ns = define(
        _ns(tally),
        """
        @memo
        def describe(how, path):
            tally(how)
            return [how, "mean", "s3://bucket/a.parquet", "http://host/a.csv", "a\\nb.csv", 1.5]
        """,
    )
    ns["describe"]("median", "sales.parquet")
    assert files_of(ns["describe"]) == ["sales.parquet"]
