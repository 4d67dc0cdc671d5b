"""A file a run opens to read and write is an input, keyed as the run found it; a
folder that existed already is not made by the run, so what is read under it counts."""

from __future__ import annotations

import mmap
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import Notes, Tally, run_cell
from files_support import bump

from ipycache_ext import memo

CHANGES_IT = "which it also reads"
MISS = "[ipycache] cache miss"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("mode", ["r+", "rb+", "a+"])
def test_a_file_opened_to_read_and_write_is_an_input(mode: str, here: Path, tally: Tally) -> None:
    bump(here / "data.txt", "alpha")

    @memo
    def load() -> str:
        tally(1)
        with open("data.txt", mode) as fh:
            fh.seek(0)
            text = fh.read()
        return text if isinstance(text, str) else text.decode()

    assert load() == load() == "alpha" and len(tally) == 1
    bump(here / "data.txt", "gamma")
    assert load() == "gamma" and len(tally) == 2


def test_a_file_opened_w_plus_is_an_output(here: Path, tally: Tally) -> None:
    @memo
    def scratch() -> str:
        tally(1)
        with open("scratch.txt", "w+") as fh:
            fh.write("made here")
            fh.seek(0)
            return fh.read()

    assert scratch() == scratch() == "made here" and len(tally) == 1


def test_a_file_opened_with_os_o_rdwr_is_an_input(here: Path, tally: Tally) -> None:
    bump(here / "raw.bin", b"abc")

    @memo
    def load() -> bytes:
        tally(1)
        fd = os.open("raw.bin", os.O_RDWR)
        try:
            return os.read(fd, 10)
        finally:
            os.close(fd)

    assert load() == load() == b"abc" and len(tally) == 1
    bump(here / "raw.bin", b"abd")
    assert load() == b"abd" and len(tally) == 2


def test_a_memmap_opened_r_plus_is_an_input(here: Path, tally: Tally) -> None:
    np.arange(4, dtype="int64").tofile(here / "arr.bin")

    @memo
    def total() -> int:
        tally(1)
        return int(np.memmap("arr.bin", dtype="int64", mode="r+").sum())

    assert total() == total() == 6 and len(tally) == 1
    np.arange(1, 5, dtype="int64").tofile(here / "arr.bin")
    bump(here / "arr.bin")
    assert total() == 10 and len(tally) == 2


def test_an_mmap_of_a_file_opened_rb_plus_is_an_input(here: Path, tally: Tally) -> None:
    bump(here / "blob.bin", b"xyz")

    @memo
    def first_byte() -> int:
        tally(1)
        with open("blob.bin", "rb+") as fh, mmap.mmap(fh.fileno(), 0) as view:
            return view[0]

    assert first_byte() == first_byte() == ord("x") and len(tally) == 1
    bump(here / "blob.bin", b"qyz")
    assert first_byte() == ord("q") and len(tally) == 2


def test_a_file_read_then_rewritten_by_the_run_is_an_input_and_is_never_stale(
    here: Path, tally: Tally, notes: Notes
) -> None:
    bump(here / "counter.txt", "1")

    @memo
    def advance() -> int:
        tally(1)
        n = int(Path("counter.txt").read_text())
        Path("counter.txt").write_text(str(n + 1))
        return n

    assert [advance(), advance(), advance()] == [1, 2, 3] and len(tally) == 3
    assert len([t for t in notes.texts("warning") if CHANGES_IT in t]) == 1


def test_a_run_that_rewrites_the_same_bytes_it_read_is_hit_again(
    here: Path, tally: Tally, notes: Notes
) -> None:
    bump(here / "config.txt", "a=1")

    @memo
    def normalize() -> str:
        tally(1)
        with open("config.txt", "r+") as fh:
            text = fh.read()
            fh.seek(0)
            fh.write(text.strip())
        return text

    assert normalize() == normalize() == "a=1" and len(tally) == 1
    assert not [t for t in notes.texts("warning") if CHANGES_IT in t]


def test_makedirs_of_a_folder_that_exists_keeps_the_reads_under_it(
    here: Path, tally: Tally
) -> None:
    (here / "out").mkdir()
    bump(here / "out" / "prev.txt", "one")

    @memo
    def load() -> str:
        tally(1)
        os.makedirs("out", exist_ok=True)
        return Path("out/prev.txt").read_text()

    assert load() == load() == "one" and len(tally) == 1
    bump(here / "out" / "prev.txt", "two")
    assert load() == "two" and len(tally) == 2


def test_path_mkdir_with_exist_ok_on_a_folder_that_exists_keeps_the_reads_under_it(
    here: Path, tally: Tally
) -> None:
    (here / "out").mkdir()
    bump(here / "out" / "prev.txt", "one")

    @memo
    def load() -> str:
        tally(1)
        Path("out").mkdir(parents=True, exist_ok=True)
        return Path("out/prev.txt").read_text()

    assert load() == "one"
    bump(here / "out" / "prev.txt", "two")
    assert load() == "two" and len(tally) == 2


def test_os_mkdir_that_fails_because_the_folder_exists_keeps_the_reads_under_it(
    here: Path, tally: Tally
) -> None:
    (here / "out").mkdir()
    bump(here / "out" / "prev.txt", "one")

    @memo
    def load() -> str:
        tally(1)
        try:
            os.mkdir("out")
        except FileExistsError:
            pass
        return Path("out/prev.txt").read_text()

    assert load() == "one"
    bump(here / "out" / "prev.txt", "two")
    assert load() == "two" and len(tally) == 2


def test_a_folder_the_run_makes_is_still_its_output(here: Path, tally: Tally) -> None:
    @memo
    def build() -> str:
        tally(1)
        os.makedirs("made/inner", exist_ok=True)
        Path("made/inner/x.txt").write_text("x")
        return Path("made/inner/x.txt").read_text()

    assert build() == "x"
    Path("made/inner/x.txt").write_text("changed by someone")
    assert build() == "x" and len(tally) == 1


def test_a_cell_opening_a_file_r_plus_misses_when_it_is_edited(ip: Any, here: Path) -> None:
    bump(here / "notes.txt", "alpha")
    cell = "%%memo\nwith open('notes.txt', 'r+') as fh:\n    text = fh.read()"
    run_cell(ip, cell)
    bump(here / "notes.txt", "gamma")
    edited = run_cell(ip, cell)
    assert "file notes.txt changed" in edited.notes(MISS)[0] and ip.user_ns["text"] == "gamma"


def test_a_cell_making_a_folder_that_exists_misses_when_a_file_under_it_is_edited(
    ip: Any, here: Path
) -> None:
    (here / "out").mkdir()
    bump(here / "out" / "prev.txt", "one")
    cell = "%%memo\nimport os\nos.makedirs('out', exist_ok=True)\n"
    cell += "prev = open('out/prev.txt').read()"
    run_cell(ip, cell)
    bump(here / "out" / "prev.txt", "two")
    assert run_cell(ip, cell).notes(MISS) and ip.user_ns["prev"] == "two"
