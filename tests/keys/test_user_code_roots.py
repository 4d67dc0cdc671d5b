"""Which files are the user's code: under the working directory, the folder the kernel
started in, or a configured user path; not a folder outside all three."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO

from ipycache_ext import config
from ipycache_ext.deps import usercode

HELPERS = REPO / "tests" / "userpkg" / "helpers.py"


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A module in a folder outside the repository; the working directory moved to
    another such folder, the repository being where the kernel started."""
    usercode.set_starting_folder(str(REPO))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "mod.py").write_text("X = 1\n")
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path / "data")
    return tmp_path


def test_a_module_of_the_starting_folder_is_user_code_after_chdir(elsewhere: Path) -> None:
    assert usercode.is_user_file(str(HELPERS))


def test_a_module_outside_the_working_and_starting_folders_is_not_user_code(
    elsewhere: Path,
) -> None:
    assert not usercode.is_user_file(str(elsewhere / "other" / "mod.py"))


def test_a_module_in_a_user_path_is_user_code(elsewhere: Path) -> None:
    config.SETTINGS.user_paths = (str(elsewhere / "other"),)
    assert usercode.is_user_file(str(elsewhere / "other" / "mod.py"))
