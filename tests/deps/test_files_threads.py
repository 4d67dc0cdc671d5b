"""Files read by threads a miss started, or by work it submitted to a thread pool, are
the miss's reads; reads by a thread unrelated to the miss are not.  Work handed to a
process pool is out of sight: the miss says so once, pointing to ``depends_on``.

The paths are built at run time (``"a" + ".txt"``) so that no value or constant of the
code names them: only the reads themselves can make them dependencies."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import Notes, Tally, define
from files_support import bump

from ipycache_ext import memo
from ipycache_ext.store.memory import STORE

SUFFIX = ".txt"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in "ab":
        bump(tmp_path / (name + SUFFIX), "1")
    return tmp_path


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    """A pool made before any miss: its threads were started by no miss."""
    with ThreadPoolExecutor(2) as made:
        list(made.map(len, ["warm", "up"]))
        yield made


def _read(name: str) -> str:
    return Path(name + SUFFIX).read_text()  # SUFFIX: a global, not folded into "a.txt"


def files_of(fn: Any) -> list[str]:
    return sorted(
        os.path.relpath(state.path) for entry in STORE.entries(fn.owner) for state in entry.files
    )


def test_a_file_read_by_a_thread_the_miss_started_is_its_read(here: Path, tally: Tally) -> None:
    @memo
    def load() -> str:
        tally(1)
        found: list[str] = []
        worker = threading.Thread(target=lambda: found.append(_read("a")))
        worker.start()
        worker.join()
        return found[0]

    assert load() == "1"
    bump(here / "a.txt", "2")
    assert load() == "2" and len(tally) == 2


def test_a_thread_started_by_a_thread_of_the_miss_reads_for_it_too(
    here: Path, tally: Tally
) -> None:
    def inner(found: list[str]) -> None:
        worker = threading.Thread(target=lambda: found.append(_read("a")))
        worker.start()
        worker.join()

    @memo
    def load() -> str:
        tally(1)
        found: list[str] = []
        worker = threading.Thread(target=inner, args=(found,))
        worker.start()
        worker.join()
        return found[0]

    assert load() == "1" and files_of(load) == ["a.txt"]


def test_work_submitted_to_a_pool_made_before_the_miss_is_its_read(
    here: Path, tally: Tally, pool: ThreadPoolExecutor
) -> None:
    @memo
    def load(_pool: ThreadPoolExecutor) -> list[str]:
        tally(1)
        return list(_pool.map(_read, ["a", "b"]))

    assert load(pool) == ["1", "1"] and load(pool) == ["1", "1"]
    bump(here / "b.txt", "2")
    assert load(pool) == ["1", "2"] and len(tally) == 2


def test_a_pool_made_inside_the_miss_reads_for_it(here: Path, tally: Tally) -> None:
    @memo
    def load() -> str:
        tally(1)
        with ThreadPoolExecutor(1) as inner:
            return inner.submit(_read, "a").result()

    assert load() == "1"
    bump(here / "a.txt", "2")
    assert load() == "2" and len(tally) == 2


def test_work_run_in_the_loop_default_executor_is_the_miss_read(here: Path, tally: Tally) -> None:
    @memo
    async def load() -> str:
        tally(1)
        return await asyncio.get_running_loop().run_in_executor(None, _read, "a")

    assert asyncio.run(load()) == "1" and files_of(load) == ["a.txt"]


def test_reads_by_a_thread_unrelated_to_the_miss_are_not_its_reads(
    here: Path, tally: Tally
) -> None:
    started, go, done = threading.Event(), threading.Event(), threading.Event()

    def elsewhere() -> None:
        started.set()
        go.wait(5)
        _read("b")
        done.set()

    bystander = threading.Thread(target=elsewhere)
    bystander.start()
    started.wait(5)

    @memo
    def load(_go: threading.Event, _done: threading.Event) -> str:
        tally(1)
        found: list[str] = []
        worker = threading.Thread(target=lambda: found.append(_read("a")))
        worker.start()
        _go.set()
        _done.wait(5)  # the bystander read while this miss and its thread ran
        worker.join()
        return found[0]

    assert load(go, done) == "1"
    bystander.join()
    assert files_of(load) == ["a.txt"]


def test_work_a_pool_runs_for_no_miss_is_no_miss_read(
    here: Path, tally: Tally, pool: ThreadPoolExecutor
) -> None:
    @memo
    def load(_pool: ThreadPoolExecutor) -> str:
        tally(1)
        return _pool.submit(_read, "a").result()

    assert load(pool) == "1"
    pool.submit(_read, "b").result()  # after the miss: read for no one
    assert files_of(load) == ["a.txt"]


def test_a_process_pool_gives_one_hint_pointing_to_depends_on(tally: Tally, notes: Notes) -> None:
    from concurrent.futures import ProcessPoolExecutor

    ns = define(
        {"__name__": "__main__", "memo": memo, "tally": tally, "Pool": ProcessPoolExecutor},
        """
        @memo
        def total(n):
            tally(n)
            with Pool(1) as pool:
                return sum(pool.map(abs, range(n)))
        """,
    )
    assert ns["total"](3) == 3 and ns["total"](4) == 6
    hints = [text for text in notes.texts("warning") if "other processes" in text]
    assert len(hints) == 1 and "Pool" in hints[0] and "depends_on(" in hints[0]
