"""A relative path means the file it named in the working directory of the run:
after ``%cd`` or ``os.chdir`` the same name read again names another file, and the
call misses saying so."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import Notes, Tally, run_cell
from files_support import bump

from ipycache_ext import memo

MISS = "[ipycache] cache miss"


@pytest.fixture
def projects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """projA/data.csv and projB/data.csv, same size, other numbers; cwd: projA."""
    for name, value in (("projA", 1), ("projB", 2)):
        (tmp_path / name).mkdir()
        bump(tmp_path / name / "data.csv", f"a\n{value}\n")
    monkeypatch.chdir(tmp_path / "projA")
    return tmp_path


def test_a_relative_path_read_after_os_chdir_names_the_other_file(
    projects: Path, tally: Tally, notes: Notes
) -> None:
    @memo
    def load(p: str) -> int:
        tally(p)
        return int(pd.read_csv(p)["a"].sum())

    assert load("data.csv") == 1
    os.chdir(projects / "projB")
    assert load("data.csv") == 2 and len(tally) == 2
    why = notes.texts("miss")[-1]
    assert "file data.csv was read relative to the working directory, which changed" in why
    assert why.endswith("projB))")


def test_going_back_to_the_first_directory_gives_its_file_again(
    projects: Path, tally: Tally
) -> None:
    @memo
    def load(p: str) -> str:
        tally(p)
        return Path(p).read_text()

    load("data.csv")
    os.chdir(projects / "projB")
    load("data.csv")
    os.chdir(projects / "projA")
    assert load("data.csv") == "a\n1\n"


def test_an_absolute_path_read_after_os_chdir_still_hits(projects: Path, tally: Tally) -> None:
    path = str(projects / "projA" / "data.csv")

    @memo
    def load(p: str) -> str:
        tally(p)
        return Path(p).read_text()

    load(path)
    os.chdir(projects / "projB")
    assert load(path) == "a\n1\n" and len(tally) == 1


def test_a_listing_of_the_working_directory_misses_after_os_chdir(
    projects: Path, tally: Tally
) -> None:
    bump(projects / "projB" / "extra.csv", "a\n3\n")

    @memo
    def names() -> list[str]:
        tally(1)
        return sorted(os.listdir())

    assert names() == ["data.csv"]
    os.chdir(projects / "projB")
    assert names() == ["data.csv", "extra.csv"] and len(tally) == 2


def test_a_cell_reading_a_relative_path_misses_after_cd(ip: Any, projects: Path) -> None:
    cell = "%%memo\nimport pandas as pd\ntotal = int(pd.read_csv('data.csv')['a'].sum())"
    run_cell(ip, cell)
    assert ip.user_ns["total"] == 1
    run_cell(ip, f"%cd {projects / 'projB'}")
    moved = run_cell(ip, cell)
    assert ip.user_ns["total"] == 2
    assert "relative to the working directory, which changed" in moved.notes(MISS)[0]
