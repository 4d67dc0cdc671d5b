"""A pyarrow Dataset is keyed by the files it reads (their paths, sizes and times), so an
edited file is a miss; one the key cannot see into (another filesystem) is refused
with the fix, like a polars LazyFrame."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from conftest import Tally
from files_support import bump

from ipycache_ext import memo
from ipycache_ext.errors import UnhashableTypeError
from ipycache_ext.store.memory import STORE


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "parts").mkdir()
    write(tmp_path / "parts" / "a.parquet", [1, 2])
    write(tmp_path / "parts" / "b.parquet", [3])
    return tmp_path


def write(path: Path, values: list[int]) -> None:
    pq.write_table(pa.table({"x": values}), path)
    bump(path)


@memo
def total(data: ds.Dataset) -> int:
    return sum(data.to_table()["x"].to_pylist())


def test_an_arrow_dataset_argument_misses_when_one_of_its_files_changes(here: Path) -> None:
    assert total(ds.dataset("parts")) == 6
    assert total(ds.dataset("parts")) == 6 and total.cache_info().hits == 1
    write(here / "parts" / "b.parquet", [4])
    assert total(ds.dataset("parts")) == 7


def test_an_arrow_dataset_depends_on_the_files_it_reads(here: Path) -> None:
    total(ds.dataset("parts"))
    (entry,) = STORE.entries(total.owner)
    paths = sorted(os.path.relpath(state.path) for state in entry.files)
    assert paths == ["parts/a.parquet", "parts/b.parquet"]


def test_a_parquet_dataset_is_keyed_by_its_files_too(here: Path, tally: Tally) -> None:
    @memo
    def rows(data: pq.ParquetDataset) -> int:
        tally(1)
        return data.read().num_rows

    assert rows(pq.ParquetDataset("parts")) == 3
    write(here / "parts" / "a.parquet", [1, 2, 3])
    assert rows(pq.ParquetDataset("parts")) == 4 and len(tally) == 2


def test_an_arrow_dataset_on_another_filesystem_is_refused_like_a_lazy_frame() -> None:
    from pyarrow._fs import _MockFileSystem

    elsewhere = _MockFileSystem()
    elsewhere.create_dir("parts")
    pq.write_table(pa.table({"x": [1]}), "parts/a.parquet", filesystem=elsewhere)
    with pytest.raises(UnhashableTypeError, match=r"query plan, not data.*\.to_table\(\)"):
        total(ds.dataset("parts", filesystem=elsewhere, format="parquet"))
