"""Files a cached function reads join its key: a changed file misses and the note names
it; an unchanged (or only touched) file hits; outputs are not dependencies."""

from __future__ import annotations

import asyncio
import glob
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import Notes, Tally, define
from files_support import bump, touch

from ipycache_ext import config, memo

MISS = "[ipycache] cache miss"

# name -> (file name, initial content, same-size edit, function source reading it)
READERS = {
    "pandas csv": (
        "sales.csv",
        "a,b\n1,2\n",
        "a,b\n1,3\n",
        "@memo\ndef load(path):\n    tally(path)\n    return pd.read_csv(path)['b'].sum()",
    ),
    "json": (
        "config.json",
        '{"n": 1}',
        '{"n": 2}',
        "@memo\ndef load(path):\n    tally(path)\n    with open(path) as fh:\n"
        "        return json.load(fh)['n']",
    ),
    "open": (
        "notes.txt",
        "alpha",
        "gamma",
        "@memo\ndef load(path):\n    tally(path)\n    with open(path) as fh:\n"
        "        return fh.read()",
    ),
    "Path.read_text": (
        "notes.txt",
        "alpha",
        "gamma",
        "@memo\ndef load(path):\n    tally(path)\n    return Path(path).read_text()",
    ),
    "a helper two calls deep": (
        "notes.txt",
        "alpha",
        "gamma",
        "def read(p):\n    return Path(p).read_text()\n\n"
        "def middle(p):\n    return read(p).upper()\n\n"
        "@memo\ndef load(path):\n    tally(path)\n    return middle(path)",
    ),
}


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's own folder as the working directory (notes name files relative to it)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _define(ns: dict[str, Any], source: str, tally: Tally) -> Any:
    """Run ``source`` (functions marked ``@memo``) as a notebook cell would."""
    ns.update(tally=tally, pd=pd, np=np, json=json, Path=Path, os=os, glob=glob)
    ns.update(asyncio=asyncio, tempfile=tempfile)
    define(ns, source)
    return ns


@pytest.mark.parametrize("reader", list(READERS))
def test_changed_file_misses_with_a_note_naming_it(
    reader: str, here: Path, ns: dict[str, Any], tally: Tally, notes: Notes
) -> None:
    name, content, edited, source = READERS[reader]
    path = here / name
    bump(path, content)
    load = _define(ns, source, tally)["load"]
    first = load(name)
    assert load(name) == first and len(tally) == 1
    touch(path)
    assert load(name) == first and len(tally) == 1  # same bytes: still a hit
    assert len(edited) == len(content)
    bump(path, edited)  # same size, mtime moved
    assert load(name) != first and len(tally) == 2
    assert f"file {name} changed (modified " in notes.texts("miss")[-1]
    assert load(name) != first and len(tally) == 2


def test_npy_through_numpy_misses_after_a_same_size_change(
    here: Path, ns: dict[str, Any], tally: Tally, notes: Notes
) -> None:
    np.save(here / "w.npy", np.arange(4))
    load = _define(ns, "@memo\ndef load(p):\n    tally(p)\n    return np.load(p).sum()", tally)[
        "load"
    ]
    assert load("w.npy") == 6 and load("w.npy") == 6 and len(tally) == 1
    np.save(here / "w.npy", np.arange(1, 5))
    bump(here / "w.npy")
    assert load("w.npy") == 10 and len(tally) == 2
    assert "file w.npy changed" in notes.texts("miss")[-1]


def test_path_from_a_global_is_tracked(here: Path, ns: dict[str, Any], tally: Tally) -> None:
    bump(here / "data.txt", "one")
    ns["DATA"] = "data.txt"
    load = _define(ns, "@memo\ndef load():\n    tally(1)\n    return open(DATA).read()", tally)[
        "load"
    ]
    assert load() == load() == "one" and len(tally) == 1
    bump(here / "data.txt", "two")
    assert load() == "two" and len(tally) == 2


def test_function_writing_an_output_file_hits_on_the_second_and_third_call(
    here: Path, ns: dict[str, Any], tally: Tally
) -> None:
    source = (
        "@memo\ndef report(n):\n    tally(n)\n    pd.DataFrame({'x': range(n)}).to_csv('out.csv')\n"
        "    with open('log.txt', 'a') as fh:\n        fh.write('ran')\n    return n"
    )
    report = _define(ns, source, tally)["report"]
    assert [report(3), report(3), report(3)] == [3, 3, 3]
    assert len(tally) == 1


def test_function_that_writes_then_reads_its_output_is_not_keyed_on_it(
    here: Path, ns: dict[str, Any], tally: Tally
) -> None:
    source = (
        "@memo\ndef roundtrip(n):\n    tally(n)\n"
        "    with tempfile.NamedTemporaryFile('w+', suffix='.txt') as fh:\n"
        "        fh.write(str(n)); fh.flush()\n        return open(fh.name).read()"
    )
    roundtrip = _define(ns, source, tally)["roundtrip"]
    assert roundtrip(5) == roundtrip(5) == roundtrip(5) == "5" and len(tally) == 1


def test_deleted_and_created_files_are_changes(
    here: Path, ns: dict[str, Any], tally: Tally, notes: Notes
) -> None:
    source = (
        "@memo\ndef settings():\n    tally(1)\n    try:\n"
        "        return open('config.json').read()\n"
        "    except FileNotFoundError:\n        return None"
    )
    settings = _define(ns, source, tally)["settings"]
    assert settings() is None and settings() is None and len(tally) == 1
    bump(here / "config.json", "{}")
    assert settings() == "{}" and len(tally) == 2
    assert "file config.json was created" in notes.texts("miss")[-1]
    assert settings() == "{}" and len(tally) == 2
    (here / "config.json").unlink()
    assert settings() is None and len(tally) == 3
    assert "file config.json was deleted" in notes.texts("miss")[-1]


def test_directory_whose_listing_changed_misses(
    here: Path, ns: dict[str, Any], tally: Tally, notes: Notes
) -> None:
    (here / "data").mkdir()
    bump(here / "data" / "a.csv", "x\n1\n")
    source = "@memo\ndef names():\n    tally(1)\n    return sorted(os.listdir('data'))"
    names = _define(ns, source, tally)["names"]
    assert names() == names() == ["a.csv"] and len(tally) == 1
    bump(here / "data" / "b.csv", "x\n2\n")
    assert names() == ["a.csv", "b.csv"] and len(tally) == 2
    assert "directory data/ has new files" in notes.texts("miss")[-1]


def test_glob_in_the_function_tracks_matches_and_new_files(
    here: Path, ns: dict[str, Any], tally: Tally, notes: Notes
) -> None:
    (here / "data").mkdir()
    bump(here / "data" / "a.txt", "1")
    source = (
        "@memo\ndef total():\n    tally(1)\n"
        "    return sum(int(open(p).read()) for p in sorted(glob.glob('data/*.txt')))"
    )
    total = _define(ns, source, tally)["total"]
    assert total() == total() == 1 and len(tally) == 1
    bump(here / "data" / "b.txt", "2")
    assert total() == 3 and len(tally) == 2
    bump(here / "data" / "a.txt", "5")
    assert total() == 7 and len(tally) == 3
    assert "file data/a.txt changed" in notes.texts("miss")[-1]


def test_a_hit_inside_a_miss_passes_its_files_on_to_the_outer_entry(
    here: Path, ns: dict[str, Any], tally: Tally
) -> None:
    bump(here / "a.txt", "1")
    source = (
        "def inner():\n    return open('a.txt').read()\n\n"
        "@memo\ndef outer(k):\n    tally(k)\n    return inner() * k"
    )
    found = _define(ns, source, tally)
    assert found["inner"]() == "1"  # stored: the outer miss below hits it
    assert found["outer"](2) == "11" and found["outer"](2) == "11" and len(tally) == 1
    bump(here / "a.txt", "3")
    assert found["outer"](2) == "33"


def test_async_function_reading_a_file_misses_after_a_change(
    here: Path, ns: dict[str, Any], tally: Tally
) -> None:
    bump(here / "a.txt", "1")
    source = (
        "@memo\nasync def load():\n    tally(1)\n    await asyncio.sleep(0)\n"
        "    return open('a.txt').read()"
    )
    load = _define(ns, source, tally)["load"]
    assert asyncio.run(load()) == asyncio.run(load()) == "1" and len(tally) == 1
    bump(here / "a.txt", "2")
    assert asyncio.run(load()) == "2" and len(tally) == 2


def test_track_files_off_keys_no_file(here: Path, ns: dict[str, Any], tally: Tally) -> None:
    config.SETTINGS.track_files = False
    bump(here / "a.txt", "1")
    load = _define(ns, "@memo\ndef load():\n    tally(1)\n    return open('a.txt').read()", tally)[
        "load"
    ]
    assert load() == "1"
    bump(here / "a.txt", "2")
    assert load() == "1" and len(tally) == 1


def test_in_memory_files_are_keyed_by_content_and_position(tally: Tally) -> None:
    @memo
    def head(buffer: Any) -> Any:
        tally(1)
        return buffer.getvalue()[:2]

    assert head(io.BytesIO(b"abc")) == head(io.BytesIO(b"abc")) == b"ab"
    assert len(tally) == 1
    moved = io.BytesIO(b"abc")
    moved.read(1)
    head(moved)
    head(io.StringIO("abc"))
    head(io.BytesIO(b"abd"))
    assert len(tally) == 4


def test_memo_clear_between_runs_leaves_no_file_state(here: Path, tally: Tally) -> None:
    bump(here / "a.txt", "1")

    @memo
    def load() -> str:
        tally(1)
        return Path("a.txt").read_text()

    load()
    memo.clear()
    assert load() == "1" and len(tally) == 2
