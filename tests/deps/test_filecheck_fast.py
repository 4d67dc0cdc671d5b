"""The fast check of a hit (every stat compared at once) agrees with the full check on
files, folders and absent paths: whatever the full check calls a change, the fast one
does not pass."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from files_support import bump

from ipycache_ext.deps import filecheck, files
from ipycache_ext.parts import FileState


def _states(here: Path) -> tuple[FileState, ...]:
    (here / "data.csv").write_text("a,b\n1,2\n")
    (here / "folder").mkdir()
    (here / "folder" / "part.txt").write_text("x")
    return (
        files.current(str(here / "data.csv"), False),
        files.current(str(here / "folder"), True),
        files.current(str(here / "missing.txt"), False),
    )


def test_nothing_changed_passes_the_fast_check_and_the_full_one(tmp_path: Path) -> None:
    found = _states(tmp_path)
    fast = filecheck.stat_check(found)
    assert fast is not None
    assert filecheck.unchanged(fast)
    assert filecheck.check(found) == ([], None)


CHANGES: dict[str, Callable[[Path], None]] = {
    "a same-size edit": lambda here: bump(here / "data.csv", "a,b\n1,3\n"),
    "a longer file": lambda here: (here / "data.csv").write_text("a,b\n1,2\n3,4\n"),
    "a deleted file": lambda here: (here / "data.csv").unlink(),
    "a file made where one was absent": lambda here: (here / "missing.txt").write_text("y"),
    "a folder made where a file was absent": lambda here: (here / "missing.txt").mkdir(),
    "a new name in a folder": lambda here: (here / "folder" / "new.txt").write_text("z"),
    "a deleted folder": lambda here: [
        (here / "folder" / "part.txt").unlink(),
        (here / "folder").rmdir(),
    ],
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_fails_the_fast_check_and_the_full_one_names_it(
    tmp_path: Path, change: str
) -> None:
    found = _states(tmp_path)
    fast = filecheck.stat_check(found)
    assert fast is not None
    CHANGES[change](tmp_path)
    assert not filecheck.unchanged(fast)
    reasons, _ = filecheck.check(found)
    assert len(reasons) == 1
