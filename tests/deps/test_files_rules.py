"""What the file tracking records and what it leaves out, rule by rule: reads through
any Python path (``os.open``, ``io.open``, ``pickle``, ``csv``, ``os.scandir``) are
dependencies; outputs, temporary files the call made, the interpreter's and installed
packages' files, ``/proc`` and ``/dev``, the cache's own store, and what another
thread reads meanwhile are not."""

from __future__ import annotations

import csv
import importlib
import io
import os
import pickle
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import Tally
from files_support import bump
from persist_support import forget_memory

from ipycache_ext import memo
from ipycache_ext.store.memory import STORE


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def files_of(fn: Any) -> list[str]:
    """The paths the entries of ``fn`` depend on, relative to the working directory."""
    return sorted(
        os.path.relpath(state.path) for entry in STORE.entries(fn.owner) for state in entry.files
    )


def test_reads_through_os_open_io_open_pickle_csv_and_scandir_are_dependencies(
    here: Path, tally: Tally
) -> None:
    bump(here / "raw.bin", b"abc")
    bump(here / "data.pkl", pickle.dumps({"n": 1}))
    bump(here / "rows.csv", "a,b\n1,2\n")
    (here / "folder").mkdir()

    @memo
    def load() -> tuple:
        tally(1)
        fd = os.open("raw.bin", os.O_RDONLY)
        try:
            raw = os.read(fd, 10)
        finally:
            os.close(fd)
        with io.open("rows.csv", newline="") as fh:  # noqa: UP020 (io.open is the case)
            rows = list(csv.reader(fh))
        with open("data.pkl", "rb") as fh:
            data = pickle.load(fh)
        names = sorted(entry.name for entry in os.scandir("folder"))
        return raw, rows, data, names

    first = load()
    assert files_of(load) == ["data.pkl", "folder", "raw.bin", "rows.csv"]
    assert load() == first and len(tally) == 1
    for name, content in (("raw.bin", b"abd"), ("data.pkl", pickle.dumps({"n": 2}))):
        bump(here / name, content)
        assert load() != first and len(tally.runs) == 2 + (name == "data.pkl")
    bump(here / "rows.csv", "a,b\n1,3\n")
    assert load()[1] == [["a", "b"], ["1", "3"]] and len(tally) == 4
    (here / "folder" / "new.txt").write_text("x")
    assert load()[3] == ["new.txt"] and len(tally) == 5


def test_a_temporary_file_the_call_made_and_read_back_is_not_a_dependency(
    here: Path, tally: Tally
) -> None:
    @memo
    def roundtrip(n: int) -> int:
        tally(n)
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "scratch.npy")
            np.save(path, np.arange(n))
            return int(np.load(path).sum())
        # the folder is gone now: were it a dependency, every call would miss

    assert [roundtrip(4), roundtrip(4), roundtrip(4)] == [6, 6, 6]
    # "scratch.npy" names no file here: only its absence from the working directory is
    # recorded (creating it there would be a miss), not the temporary file.
    assert len(tally) == 1 and files_of(roundtrip) == ["scratch.npy"]
    (entry,) = STORE.entries(roundtrip.owner)
    assert not any(state.exists for state in entry.files)


def test_interpreter_package_proc_and_dev_files_are_not_dependencies(tally: Tally) -> None:
    package_file = np.__file__  # an installed package's own file, read as text

    @memo
    def peek() -> int:
        tally(1)
        with open(package_file) as fh:
            size = len(fh.read())
        with open(os.__file__) as fh:  # the standard library's
            size += len(fh.read(10))
        with open("/proc/self/stat") as fh:  # changes on every read
            size += len(fh.read()) * 0
        with open("/dev/null", "rb") as fh:
            size += len(fh.read())
        return size

    first = peek()
    assert peek() == first and peek() == first
    assert len(tally) == 1 and files_of(peek) == []


def test_what_another_thread_reads_while_the_miss_runs_is_not_its_dependency(
    here: Path, tally: Tally
) -> None:
    bump(here / "mine.txt", "mine")
    bump(here / "theirs.txt", "theirs")
    started, done = threading.Event(), threading.Event()

    def other_thread() -> None:
        started.wait(10)
        with open("theirs.txt") as fh:
            fh.read()
        done.set()

    @memo(hash_funcs={threading.Event: lambda event: b""})
    def load() -> str:
        tally(1)
        started.set()
        assert done.wait(10)  # the other thread's read happens while this miss runs
        with open("mine.txt") as fh:
            return fh.read()

    worker = threading.Thread(target=other_thread)
    worker.start()
    assert load() == "mine"
    worker.join()
    assert files_of(load) == ["mine.txt"]
    bump(here / "theirs.txt", "changed")
    assert load() == "mine" and len(tally) == 1


def test_the_cache_s_own_store_and_key_file_are_not_dependencies(
    store: Path, here: Path, tally: Tally
) -> None:
    @memo(persist=True)
    def inner(n: int) -> int:
        tally(("inner", n))
        return n + 1

    @memo
    def outer(n: int) -> int:
        tally(("outer", n))
        return inner(n) * 2  # inner loads from the store inside outer's miss

    assert inner(1) == 2
    forget_memory()
    assert outer(1) == 4 and tally.runs == [("inner", 1), ("outer", 1)]
    assert files_of(outer) == [] and files_of(inner) == []
    assert outer(1) == 4 and len(tally) == 2


def test_a_module_imported_inside_a_miss_is_not_a_file_it_read(
    here: Path, tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    bump(here / "helper_mod_for_rules.py", "VALUE = 41\n")
    bump(here / "input.txt", "helper_mod_for_rules")
    monkeypatch.syspath_prepend(str(here))
    monkeypatch.setattr("sys.dont_write_bytecode", True)

    @memo
    def load() -> int:
        tally(1)
        # Named by a file, so the walk cannot import it first: the import system opens
        # its source while the miss runs, and that is not a read of the call.
        with open("input.txt") as fh:
            module = importlib.import_module(fh.read())
        return int(module.VALUE) + 1

    try:
        assert load() == 42
        assert files_of(load) == ["input.txt"]
    finally:
        sys.modules.pop("helper_mod_for_rules", None)


def test_a_file_changed_after_a_hit_that_refreshed_its_stat_is_still_a_miss(
    here: Path, tally: Tally
) -> None:
    bump(here / "data.txt", "one")

    @memo
    def load() -> str:
        tally(1)
        with open("data.txt") as fh:
            return fh.read()

    assert load() == "one"
    os.utime(here / "data.txt", ns=(10**18, 10**18))  # touched: same bytes, new stat
    assert load() == "one" and tally.runs == [1]  # a hit, its stat refreshed
    assert load() == "one" and tally.runs == [1]  # and the refreshed stat checked fast
    bump(here / "data.txt", "two")
    assert load() == "two" and tally.runs == [1, 1]
