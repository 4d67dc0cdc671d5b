"""Data files a user package reads through ``importlib.resources`` or
``pkgutil.get_data`` are inputs of the cached code that calls it; the package's own
modules, imported during the miss, are not files it read."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Tally
from files_support import bump

from ipycache_ext import memo

READERS = """
import importlib.resources as resources
import pkgutil

def by_files():
    return resources.files(__package__).joinpath("table.txt").read_text()

def by_read_text():
    return resources.read_text(__package__, "table.txt")

def by_open_binary():
    with resources.open_binary(__package__, "table.txt") as fh:
        return fh.read().decode()

def by_as_file():
    with resources.as_file(resources.files(__package__) / "table.txt") as path:
        return path.read_text()

def by_get_data():
    return pkgutil.get_data(__package__, "table.txt").decode()
"""


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``datapkg`` in the working directory: a module of readers and ``table.txt``."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "datapkg"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "readers.py").write_text(textwrap.dedent(READERS))
    bump(root / "table.txt", "one")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield root
    for name in ("datapkg.readers", "datapkg"):
        sys.modules.pop(name, None)


@pytest.mark.parametrize(
    "reader", ["by_files", "by_read_text", "by_open_binary", "by_as_file", "by_get_data"]
)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_package_data_file_read_through_resources_is_an_input(
    reader: str, package: Path, tally: Tally
) -> None:
    readers: Any = importlib.import_module("datapkg.readers")
    read = getattr(readers, reader)

    @memo
    def table() -> str:
        tally(1)
        return str(read())

    assert table() == table() == "one" and len(tally) == 1
    bump(package / "table.txt", "two")
    assert table() == "two" and len(tally) == 2


def test_a_package_imported_during_the_miss_is_not_a_file_it_read(
    package: Path, tally: Tally
) -> None:
    @memo
    def table() -> str:
        tally(1)
        return str(importlib.import_module("datapkg.readers").by_get_data())

    assert table() == "one"
    bump(package / "readers.py", (package / "readers.py").read_text() + "\n")
    assert table() == "one" and len(tally) == 1
