"""``%%memo --files PATTERN`` as the README writes it: quoted (single or double) or
not, repeatable; a pattern that matches nothing when the entry is stored is said."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import Notes, Tally, run_cell
from files_support import bump

from ipycache_ext import depends_on, memo

MISS = "[ipycache] cache miss"
NOTHING = "matched no file"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    bump(tmp_path / "data" / "a.parquet", "1")
    return tmp_path


@pytest.mark.parametrize("quote", ['"', "'"])
def test_a_quoted_files_pattern_tracks_the_files_it_matches(
    quote: str, ip: Any, here: Path
) -> None:
    cell = f"%%memo --files {quote}data/*.parquet{quote}\nruns = globals().get('runs', 0) + 1"
    run_cell(ip, cell)
    bump(here / "data" / "a.parquet", "2")
    changed = run_cell(ip, cell)
    assert "file data/a.parquet changed" in changed.notes(MISS)[0]
    assert ip.user_ns["runs"] == 2


def test_quoted_and_unquoted_patterns_are_one_key(ip: Any, here: Path) -> None:
    run_cell(ip, "%%memo --files data/*.parquet\nruns = globals().get('runs', 0) + 1")
    again = run_cell(ip, "%%memo --files \"data/*.parquet\"\nruns = globals().get('runs', 0) + 1")
    assert again.notes(MISS) == [] and ip.user_ns["runs"] == 1


def test_files_is_repeatable_with_quoted_patterns(ip: Any, here: Path) -> None:
    bump(here / "data" / "b.csv", "x")
    options = "--files 'data/*.parquet' --files \"data/b.csv\""
    cell = f"%%memo {options}\nruns = globals().get('runs', 0) + 1"
    run_cell(ip, cell)
    bump(here / "data" / "b.csv", "y")
    assert "file data/b.csv changed" in run_cell(ip, cell).notes(MISS)[0]


def test_a_quoted_pattern_on_the_memo_line_magic_tracks_its_files(ip: Any, here: Path) -> None:
    line = "%memo --files \"data/*.parquet\" runs = globals().get('runs', 0) + 1"
    run_cell(ip, line)
    bump(here / "data" / "a.parquet", "3")
    assert run_cell(ip, line).notes(MISS) and ip.user_ns["runs"] == 2


def test_a_files_pattern_matching_nothing_is_said_when_the_entry_is_stored(
    ip: Any, here: Path
) -> None:
    cell = run_cell(ip, "%%memo --files 'data/*.csv'\nx = 1")
    warned = [t for t in cell.texts() if NOTHING in t] or [cell.stderr]
    assert "'data/*.csv'" in warned[0] and NOTHING in warned[0]


def test_a_files_pattern_matching_nothing_misses_once_a_file_matches(ip: Any, here: Path) -> None:
    cell = "%%memo --files 'data/*.csv'\nruns = globals().get('runs', 0) + 1"
    run_cell(ip, cell)
    bump(here / "data" / "new.csv", "1")
    assert run_cell(ip, cell).notes(MISS) and ip.user_ns["runs"] == 2


def test_depends_on_a_missing_file_is_said_and_its_creation_misses(
    here: Path, tally: Tally, notes: Notes
) -> None:
    @memo
    def native() -> int:
        tally(1)
        depends_on("data/missing.h5")
        return len(tally)

    assert native() == 1
    assert any(NOTHING in t and "'data/missing.h5'" in t for t in notes.texts("warning"))
    bump(here / "data" / "missing.h5", "now here")
    assert native() == 2


def test_a_pattern_that_matches_is_not_said(ip: Any, here: Path) -> None:
    cell = run_cell(ip, "%%memo --files 'data/*.parquet'\nx = 1")
    assert not [t for t in cell.texts() if NOTHING in t] and NOTHING not in cell.stderr
