"""A dry run is the lookup: for every kind of dependency, what ``f.explain(...)``,
``%memo_explain`` and ``%%memo --explain`` say (hit or miss, and why) is what the next
real call does.  And on a memoized method, ``explain`` and ``clear`` bind the instance."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import Notes, Tally, define, run_cell
from files_support import bump

from ipycache_ext import depends_on
from ipycache_ext.admin import Explanation


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's own folder as the working directory (notes name files relative to it)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def why(text: str) -> str:
    """The reasons in a miss note (after its duration) or in a would-miss note."""
    found = re.search(r"(?: in [\d.]+ \S+| would run) \((.*)\)$", text)
    assert found is not None, text
    return found.group(1)


def agrees(explained: Explanation, notes: Notes, tally: Tally, call: Any) -> None:
    """The next real call does what ``explained`` said: hit, or miss for its reasons."""
    runs, misses = len(tally), len(notes.of("miss"))
    call()
    assert explained.would_hit == (len(tally) == runs)
    if not explained.would_hit:
        assert len(notes.of("miss")) == misses + 1
        assert why(notes.texts("miss")[-1]) == why(repr(explained))


def reader(ns: dict[str, Any], tally: Tally, body: str, **options: Any) -> Any:
    ns.update(tally=tally, os=os, depends_on=depends_on, options=options)
    define(ns, "@memo(**options)\ndef load():\n    tally(1)\n" + body)
    return ns["load"]


READ_CFG = (
    "    if not os.path.exists('cfg.txt'):\n        return None\n"
    "    return open('cfg.txt').read()\n"
)


def test_explain_of_a_call_whose_file_changed_says_would_miss_naming_the_file(
    here: Path, ns: dict, tally: Tally, notes: Notes
) -> None:
    bump(here / "cfg.txt", "first")
    load = reader(ns, tally, READ_CFG)
    load()
    bump(here / "cfg.txt", "changed")
    found = load.explain()
    assert not found.would_hit and "file cfg.txt changed" in repr(found)
    agrees(found, notes, tally, load)


def test_explain_of_a_call_whose_file_was_deleted_says_would_miss(
    here: Path, ns: dict, tally: Tally, notes: Notes
) -> None:
    bump(here / "cfg.txt", "first")
    load = reader(ns, tally, READ_CFG)
    load()
    (here / "cfg.txt").unlink()
    found = load.explain()
    assert "file cfg.txt was deleted" in repr(found)
    agrees(found, notes, tally, load)


def test_explain_of_a_call_whose_missing_file_was_created_says_would_miss(
    here: Path, ns: dict, tally: Tally, notes: Notes
) -> None:
    body = (
        "    try:\n        return open('cfg.txt').read()\n"
        "    except OSError:\n        return None\n"
    )
    load = reader(ns, tally, body)
    load()
    bump(here / "cfg.txt", "new")
    found = load.explain()
    assert "file cfg.txt was created" in repr(found)
    agrees(found, notes, tally, load)


def test_explain_after_a_file_was_only_touched_says_would_hit(
    here: Path, ns: dict, tally: Tally, notes: Notes
) -> None:
    bump(here / "cfg.txt", "same")
    load = reader(ns, tally, READ_CFG)
    load()
    bump(here / "cfg.txt")
    found = load.explain()
    assert found.would_hit
    agrees(found, notes, tally, load)


def test_explain_sees_a_new_file_matching_a_depends_on_glob(
    here: Path, ns: dict, tally: Tally, notes: Notes
) -> None:
    (here / "data").mkdir()
    bump(here / "data" / "a.parquet", "1")
    load = reader(ns, tally, "    depends_on('data/*.parquet')\n    return 1\n")
    load()
    bump(here / "data" / "b.parquet", "2")
    found = load.explain()
    assert not found.would_hit and "data/" in repr(found)
    agrees(found, notes, tally, load)


def test_explain_sees_a_changed_file_declared_with_depends_on(
    here: Path, ns: dict, tally: Tally, notes: Notes
) -> None:
    bump(here / "table.bin", "1")
    load = reader(ns, tally, "    depends_on('table.bin')\n    return 1\n")
    load()
    bump(here / "table.bin", "2")
    found = load.explain()
    assert "file table.bin changed" in repr(found)
    agrees(found, notes, tally, load)


def test_explain_sees_a_changed_file_of_a_function_with_validate(
    here: Path, ns: dict, tally: Tally, notes: Notes
) -> None:
    bump(here / "cfg.txt", "first")
    load = reader(ns, tally, READ_CFG, validate=lambda value: True)
    load()
    bump(here / "cfg.txt", "changed")
    found = load.explain()
    assert "file cfg.txt changed" in repr(found)
    agrees(found, notes, tally, load)


def test_explain_calls_validate_once_and_keeps_the_entry(ns: dict, tally: Tally) -> None:
    checks: list[Any] = []
    load = reader(ns, tally, "    return 1\n", validate=lambda value: checks.append(value) or True)
    load()
    assert load.explain().would_hit
    assert checks == [1]
    load()
    assert len(tally) == 1 and checks == [1, 1]


def test_explain_after_a_ttl_ran_out_agrees_with_the_call(
    ns: dict, tally: Tally, notes: Notes
) -> None:
    load = reader(ns, tally, "    return 1\n", ttl=0.05)
    load()
    time.sleep(0.1)
    found = load.explain()
    assert not found.would_hit
    agrees(found, notes, tally, load)


def test_explain_after_a_code_change_agrees_with_the_call(
    ns: dict, tally: Tally, notes: Notes
) -> None:
    load = reader(ns, tally, "    return 1\n")
    load()
    load = reader(ns, tally, "    return 2\n")
    found = load.explain()
    assert not found.would_hit
    agrees(found, notes, tally, load)


# ----- the same in a cell -------------------------------------------------------------------


def test_cell_explain_after_its_file_changed_says_would_miss_as_the_cell_then_does(
    here: Path, ip: Any
) -> None:
    bump(here / "cfg.txt", "first")
    body = "%%memo{}\ntext = open('cfg.txt').read()\n"
    run_cell(ip, body.format(""))
    bump(here / "cfg.txt", "changed")
    found = run_cell(ip, body.format(" --explain")).result.result
    assert not found.would_hit
    ran = run_cell(ip, body.format(""))
    [miss] = ran.notes("cache miss")
    assert why(miss) == why(repr(found)) and "file cfg.txt changed" in miss
    assert ip.user_ns["text"] == "changed"


def test_cell_explain_sees_a_new_file_matching_its_files_glob(here: Path, ip: Any) -> None:
    (here / "data").mkdir()
    bump(here / "data" / "a.parquet", "1")
    body = "%%memo --files data/*.parquet{}\nn = 1\n"
    run_cell(ip, body.format(""))
    assert run_cell(ip, body.format(" --explain")).result.result.would_hit
    bump(here / "data" / "b.parquet", "2")
    found = run_cell(ip, body.format(" --explain")).result.result
    assert not found.would_hit
    [miss] = run_cell(ip, body.format("")).notes("cache miss")
    assert why(miss) == why(repr(found))


def test_memo_explain_of_a_call_whose_file_changed_says_would_miss(here: Path, ip: Any) -> None:
    bump(here / "cfg.txt", "first")
    run_cell(ip, "@memo\ndef readcfg():\n    return open('cfg.txt').read()\n\nreadcfg()")
    bump(here / "cfg.txt", "changed")
    found = run_cell(ip, "%memo_explain readcfg()").result.result
    assert "file cfg.txt changed" in repr(found)
    [miss] = run_cell(ip, "readcfg()").notes("cache miss")
    assert why(miss) == why(repr(found))


# ----- a memoized method ----------------------------------------------------------------------


METHOD = """
class E:
    def __init__(self, step):
        self.step = step

    @memo
    def foo(self, x):
        tally(x)
        return self.step * x
"""


def test_explain_on_an_instances_method_binds_the_instance(ns: dict, tally: Tally) -> None:
    ns["tally"] = tally
    E = define(ns, METHOD)["E"]
    e = E(2)
    assert e.foo(1) == 2
    assert e.foo.explain(1).would_hit
    assert not e.foo.explain(3).would_hit


def test_clear_on_an_instances_method_removes_that_entry(ns: dict, tally: Tally) -> None:
    ns["tally"] = tally
    E = define(ns, METHOD)["E"]
    e = E(2)
    e.foo(1)
    assert e.foo.clear(1) is True
    e.foo(1)
    assert tally.runs == [1, 1]
