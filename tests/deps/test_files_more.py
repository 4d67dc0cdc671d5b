"""File dependencies beyond a plain read: cells, declared files (``depends_on``,
``%%memo --files``), reads in a thread pool, ``%memo_info``, and two kernels
sharing a store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Tally, run_cell
from files_support import bump, touch
from persist_support import Kernels, result, store_env, texts

from ipycache_ext import depends_on, memo

MISS = "[ipycache] cache miss"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


CELL_READERS = {
    "pandas csv": "import pandas as pd\ntotal = pd.read_csv('data.txt')['b'].sum()\ntotal",
    "json": "import json\nwith open('data.txt') as fh:\n    total = json.load(fh)['b'][0]\ntotal",
    "Path.read_text": "from pathlib import Path\ntotal = Path('data.txt').read_text()\ntotal",
}
CONTENTS = {
    "pandas csv": ("a,b\n1,2\n", "a,b\n1,3\n"),
    "json": ('{"b": [1]}', '{"b": [2]}'),
    "Path.read_text": ("alpha", "gamma"),
}


@pytest.mark.parametrize("reader", list(CELL_READERS))
def test_cell_reading_a_changed_file_misses_and_names_it(reader: str, ip: Any, here: Path) -> None:
    before, after = CONTENTS[reader]
    bump(here / "data.txt", before)
    cell = "%%memo --name reader\n" + CELL_READERS[reader]
    first = run_cell(ip, cell)
    assert first.error is None and first.notes(MISS)
    touch(here / "data.txt")
    assert run_cell(ip, cell).notes(MISS) == []
    assert len(before) == len(after)
    bump(here / "data.txt", after)
    changed = run_cell(ip, cell)
    assert "file data.txt changed (modified " in changed.notes(MISS)[0]
    assert run_cell(ip, cell).notes(MISS) == []


def test_memo_files_option_declares_what_the_cell_depends_on(ip: Any, here: Path) -> None:
    (here / "parts").mkdir()
    bump(here / "parts" / "a.parquet", "1")
    cell = "%%memo --name native --files parts/*.parquet\nruns = globals().get('runs', 0) + 1"
    run_cell(ip, cell)
    assert run_cell(ip, cell).notes(MISS) == [] and ip.user_ns["runs"] == 1
    bump(here / "parts" / "a.parquet", "2")
    note = run_cell(ip, cell).notes(MISS)[0]
    assert "file parts/a.parquet changed" in note and ip.user_ns["runs"] == 2
    bump(here / "parts" / "b.parquet", "3")
    assert "directory parts/ has new files" in run_cell(ip, cell).notes(MISS)[0]


def test_memo_info_counts_the_files_entries_depend_on(ip: Any, here: Path) -> None:
    bump(here / "a.txt", "1")
    bump(here / "b.txt", "2")
    run_cell(ip, "%%memo --name two_files\nx = open('a.txt').read() + open('b.txt').read()")
    table = repr(ip.run_line_magic("memo_info", ""))
    header, _, row = table.splitlines()[:3]
    assert "files" in header.split()
    assert row.split()[header.split().index("files") + 1] == "2"  # "memory" holds 2 words


def test_depends_on_with_a_glob_tracks_files_no_open_reads(here: Path, tally: Tally) -> None:
    (here / "data").mkdir()
    bump(here / "data" / "a.parquet", "1")

    @memo
    def native() -> int:
        tally(1)
        depends_on("data/*.parquet")
        return len(tally)

    assert native() == native() == 1
    bump(here / "data" / "a.parquet", "2")
    assert native() == 2
    bump(here / "data" / "b.parquet", "3")
    assert native() == 3
    assert native() == 3


def test_depends_on_outside_a_cached_call_does_nothing(here: Path) -> None:
    depends_on("missing/*.csv", "absent.txt")


@pytest.fixture
def kernels(tmp_path: Path) -> Iterator[Kernels]:
    started = Kernels(tmp_path, store_env(tmp_path / "store", tmp_path / "secret.key"))
    yield started
    started.stop_all()


READ_CELL = """
@memo(persist=True)
def load():
    with open("runs.log", "a") as log:
        log.write("ran\\n")
    return open("data.txt").read()

load()
"""


def test_second_kernel_misses_when_the_file_changed_in_between(
    kernels: Kernels, tmp_path: Path
) -> None:
    bump(tmp_path / "data.txt", "one")
    first = kernels.start()
    assert result(first.run(READ_CELL)) == "'one'"
    bump(tmp_path / "data.txt", "two")
    second = kernels.start()
    outputs = second.run(READ_CELL)
    assert result(outputs) == "'two'"
    assert any("file data.txt changed" in t for t in texts(outputs))
    assert (tmp_path / "runs.log").read_text() == "ran\nran\n"
    third = kernels.start()
    assert result(third.run(READ_CELL)) == "'two'"
    assert (tmp_path / "runs.log").read_text() == "ran\nran\n"
