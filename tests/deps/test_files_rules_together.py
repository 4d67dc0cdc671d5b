"""The file rules of three lines of work, together: names the code holds
(``deps.pathlike``) and SQLite databases keep the working directory a relative name was
read in, as a relative open does; ``depends_on`` in a thread a miss started is the
miss's, and says a pattern that matched nothing; a file the run writes stays an output
when the code also names it; a file a thread opens ``r+`` and changes is an input."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest
from conftest import Notes, Tally
from files_support import bump

from ipycache_ext import depends_on, memo

MISS = "[ipycache] cache miss"


@pytest.fixture
def projects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """projA/data.txt and projB/data.txt, same size; cwd: projA."""
    for name, value in (("projA", 1), ("projB", 2)):
        (tmp_path / name).mkdir()
        bump(tmp_path / name / "data.txt", f"{value}\n")
    monkeypatch.chdir(tmp_path / "projA")
    return tmp_path


def test_a_relative_name_the_code_holds_keeps_its_working_directory(
    projects: Path, tally: Tally
) -> None:
    @memo
    def size(p: str) -> int:  # os.stat raises no audit event: only the name is seen
        tally(p)
        return os.stat(p).st_size

    assert size("data.txt") == 2
    os.chdir(projects / "projB")
    os.chdir(projects / "projA")
    assert size("data.txt") == 2
    assert len(tally) == 1  # back in the directory it was read in: a hit
    os.chdir(projects / "projB")
    size("data.txt")
    assert len(tally) == 2  # the same name is another file here
    size("data.txt")
    assert len(tally) == 2


def test_an_absent_relative_name_keeps_its_working_directory(projects: Path, tally: Tally) -> None:
    @memo
    def maybe() -> bool:
        tally(1)
        return os.path.exists("missing/result.parquet")

    assert maybe() is False
    assert maybe() is False
    assert len(tally) == 1
    os.chdir(projects / "projB")
    maybe()
    assert len(tally) == 2


def test_a_relative_sqlite_database_keeps_its_working_directory(
    projects: Path, tally: Tally
) -> None:
    for name in ("projA", "projB"):
        with sqlite3.connect(projects / name / "db.sqlite") as con:
            con.execute("create table t (x)")
            con.execute("insert into t values (?)", (len(name),))
        con.close()

    @memo
    def total() -> int:
        tally(1)
        con = sqlite3.connect("db.sqlite")
        try:
            return int(con.execute("select sum(x) from t").fetchone()[0])
        finally:
            con.close()

    total()
    total()
    assert len(tally) == 1
    os.chdir(projects / "projB")
    total()
    assert len(tally) == 2


def test_depends_on_in_a_thread_the_miss_started_is_the_miss_s(
    projects: Path, tally: Tally, notes: Notes
) -> None:
    data = projects / "projA" / "data.txt"

    @memo
    def load() -> int:
        tally(1)
        worker = threading.Thread(target=depends_on, args=("data.txt", "nothing/*.h5"))
        worker.start()
        worker.join()
        return 1

    load()
    assert any("matched no file" in t and "nothing/*.h5" in t for t in notes.texts("warning"))
    load()
    assert len(tally) == 1
    bump(data, "9\n")
    load()
    assert len(tally) == 2


def test_a_file_the_run_writes_and_names_stays_an_output(projects: Path, tally: Tally) -> None:
    out = projects / "projA" / "out.txt"

    @memo
    def write() -> int:
        tally(1)
        with open("out.txt", "w") as fh:  # the constant "out.txt" names it too
            fh.write("done\n")
        return 1

    write()
    bump(out, "edited by hand\n")
    write()
    assert len(tally) == 1


def test_a_file_a_thread_of_the_miss_opens_r_plus_and_changes_is_an_input(
    projects: Path, tally: Tally, notes: Notes
) -> None:
    data = projects / "projA" / "data.txt"

    def append_one() -> None:
        with open(data, "r+") as fh:
            fh.seek(0, os.SEEK_END)
            fh.write("1\n")

    @memo
    def grow() -> int:
        tally(1)
        worker = threading.Thread(target=append_one)
        worker.start()
        worker.join()
        return 1

    grow()
    grow()  # the file it read is not the one it left: never a stale hit
    assert len(tally) == 2
    assert len([t for t in notes.texts("warning") if "data.txt" in t]) == 1
