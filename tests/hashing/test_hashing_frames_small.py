"""Small DataFrames (a 10 x 3 frame as an argument): hashed without a pickling per call,
and still told apart by every column's name, dtype and values, the index and attrs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from ipycache_ext.hashing import core, hexdigest, stream


def small(**changes: Any) -> pd.DataFrame:
    columns: dict[Any, Any] = {
        "i": np.arange(10, dtype=np.int64),
        "f": np.arange(10) * 0.5,
        "s": pd.array([f"s{i}" for i in range(10)], dtype="str"),
    }
    columns.update(changes)
    return pd.DataFrame(columns)


def test_a_small_frame_is_hashed_without_a_pickling(monkeypatch: pytest.MonkeyPatch) -> None:
    picklings: list[int] = []
    real = stream.StreamPickler.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        picklings.append(1)
        real(self, *args, **kwargs)

    monkeypatch.setattr(stream.StreamPickler, "__init__", counting)
    assert core.DEFAULT.digest(small()) == core.DEFAULT.digest(small())
    assert picklings == []


def test_equal_small_frames_hash_equal() -> None:
    assert hexdigest(small()) == hexdigest(small())


def test_small_frames_differing_in_one_cell_differ() -> None:
    assert hexdigest(small()) != hexdigest(small(f=np.arange(10) * 0.5 + (np.arange(10) == 3)))


@pytest.mark.parametrize(
    "column",
    [
        np.arange(10, dtype=np.int32),
        np.arange(10, dtype=np.uint64),
        np.arange(10, dtype=np.float64),
        pd.array(np.arange(10), dtype="Int64"),
        np.arange(10).astype(">i8"),
        np.arange(10, dtype=object),
    ],
    ids=["int32", "uint64", "float64", "Int64", "big-endian", "object"],
)
def test_small_frames_differing_only_in_a_column_dtype_differ(column: Any) -> None:
    assert hexdigest(small()) != hexdigest(small(i=column))


def test_a_str_column_and_an_object_column_of_the_same_strings_differ() -> None:
    objects = pd.Series([f"s{i}" for i in range(10)], dtype=object)
    assert hexdigest(small()) != hexdigest(small(s=objects))


@pytest.mark.parametrize(
    ("a", "b"),
    [("i", "j"), (1, "1"), (0, False), (None, "None"), ("a|b", "a")],
    ids=["renamed", "int-vs-str", "int-vs-bool", "none-vs-str", "separator"],
)
def test_small_frames_differing_only_in_a_column_name_differ(a: Any, b: Any) -> None:
    def named(name: Any) -> pd.DataFrame:
        return pd.DataFrame({name: np.arange(10), "z": np.ones(10)})

    assert hexdigest(named(a)) != hexdigest(named(b))


@pytest.mark.parametrize(
    ("a", "b"),
    [(None, "None"), ("k", None), (0, False), (("a", "b|c"), ("a|b", "c"))],
    ids=["none-vs-str", "named-vs-unnamed", "int-vs-bool", "separator"],
)
def test_small_frames_differing_only_in_index_names_differ(a: Any, b: Any) -> None:
    def with_names(names: Any) -> pd.DataFrame:
        frame = small()
        if isinstance(names, tuple):
            frame.index = pd.MultiIndex.from_arrays([range(10), range(10)], names=list(names))
        else:
            frame.index.name = names
        return frame

    assert hexdigest(with_names(a)) != hexdigest(with_names(b))


def test_small_frames_differing_only_in_the_index_differ() -> None:
    moved = small()
    moved.index = pd.RangeIndex(1, 11)
    as_ints = small()
    as_ints.index = pd.Index(np.arange(10))
    assert len({hexdigest(small()), hexdigest(moved), hexdigest(as_ints)}) == 3


def test_small_frames_differing_only_in_attrs_differ() -> None:
    tagged = small()
    tagged.attrs["unit"] = "m"
    assert hexdigest(small()) != hexdigest(tagged)


def test_a_small_frame_and_its_series_differ() -> None:
    frame = small()
    assert hexdigest(frame[["i"]]) != hexdigest(frame["i"])
