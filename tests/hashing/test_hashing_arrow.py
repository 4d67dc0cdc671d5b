"""pyarrow arrays and tables, arrow-backed pandas columns and polars frames: hashed from
their buffers as the values they hold (slicing and chunking left out), and told apart by
one value, a null, the type and a column's name."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from conftest import Tally

from ipycache_ext import memo
from ipycache_ext.errors import UnhashableTypeError
from ipycache_ext.hashing import digest

TEXT = ["a", "bb", None, "dddd", "é", ""] * 20
INTS = list(range(120))


def test_a_sliced_int_array_hashes_like_its_copy() -> None:
    whole = pa.array(INTS, pa.int64())
    assert digest(whole.slice(13, 50)) == digest(pa.array(INTS[13:63], pa.int64()))


@pytest.mark.parametrize("start", [0, 3, 7, 9])
def test_a_sliced_string_array_with_nulls_hashes_like_its_copy(start: int) -> None:
    whole = pa.array(TEXT)
    assert digest(whole.slice(start, 41)) == digest(pa.array(TEXT[start : start + 41]))


def test_a_sliced_bool_array_hashes_like_its_copy() -> None:
    flags = [i % 3 == 0 if i % 5 else None for i in range(100)]
    assert digest(pa.array(flags).slice(5, 33)) == digest(pa.array(flags[5:38]))


def test_a_chunked_array_hashes_like_the_same_values_in_one_chunk() -> None:
    whole = pa.array(TEXT)
    chunked = pa.chunked_array([whole.slice(0, 7), whole.slice(7, 50), whole.slice(57)])
    assert digest(chunked) == digest(pa.chunked_array([pa.array(TEXT)]))


def test_a_table_read_in_batches_hashes_like_the_combined_table() -> None:
    table = pa.table({"s": pa.array(TEXT), "i": pa.array(INTS)})
    batches = pa.Table.from_batches(table.to_batches(max_chunksize=17))
    assert batches.column(0).num_chunks > 1
    assert digest(batches) == digest(table.combine_chunks())


def test_what_sits_under_a_null_does_not_count() -> None:
    data = pa.py_buffer(np.array([1, 2, 3, 4], dtype=np.int64).tobytes())
    garbage = pa.py_buffer(np.array([1, 99, 3, 4], dtype=np.int64).tobytes())
    validity = pa.array([True, False, True, True]).buffers()[1]
    a = pa.Array.from_buffers(pa.int64(), 4, [validity, data])
    b = pa.Array.from_buffers(pa.int64(), 4, [validity, garbage])
    assert a.equals(b)
    assert digest(a) == digest(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (pa.array([1, 2, 3]), pa.array([1, 2, 4])),
        (pa.array(["x", "y"]), pa.array(["x", "z"])),
        (pa.array(["ab", "c"]), pa.array(["a", "bc"])),
        (pa.array([1, None, 3]), pa.array([1, 0, 3])),
        (pa.array(["x", None]), pa.array(["x", ""])),
        (pa.array([True, None]), pa.array([True, False])),
        (pa.array([1, 2], pa.int32()), pa.array([1, 2], pa.int64())),
        (pa.array(["x"], pa.string()), pa.array(["x"], pa.large_string())),
        (pa.array([1, 2]), pa.chunked_array([[1, 2]])),
    ],
)
def test_a_changed_value_null_type_or_kind_changes_an_arrays_digest(a: Any, b: Any) -> None:
    assert digest(a) != digest(b)


def test_a_renamed_or_changed_table_column_changes_the_digest() -> None:
    table = pa.table({"s": pa.array(TEXT), "i": pa.array(INTS)})
    assert digest(table) == digest(pa.table({"s": pa.array(TEXT), "i": pa.array(INTS)}))
    assert digest(table) != digest(table.rename_columns(["s", "j"]))
    assert digest(table) != digest(table.set_column(1, "i", pa.array(INTS, pa.int32())))
    changed = INTS[:50] + [-1] + INTS[51:]
    assert digest(table) != digest(table.set_column(1, "i", pa.array(changed)))


def test_nested_arrays_hash_by_their_values_sliced_or_chunked() -> None:
    lists = pa.array([[1, 2], None, [3]] * 10)
    assert digest(lists.slice(2, 10)) == digest(pa.array(lists.slice(2, 10).to_pylist()))
    assert digest(lists) != digest(pa.array([[1, 2], None, [4]] * 10))
    rows = pa.array([{"x": 1, "y": "a"}, None, {"x": 3, "y": None}] * 5)
    chunked = pa.chunked_array([rows.slice(0, 4), rows.slice(4)])
    assert digest(chunked) == digest(pa.chunked_array([rows]))


def test_dictionary_arrays_hash_by_their_decoded_values() -> None:
    codes = pa.array(["a", "b", "a", None, "c"]).dictionary_encode()
    assert digest(codes.slice(1, 3)) == digest(pa.array(["b", "a", None]).dictionary_encode())
    assert digest(codes) != digest(pa.array(["a", "b", "b", None, "c"]).dictionary_encode())
    assert digest(codes) != digest(pa.array(["a", "b", "a", None, "c"]))


def frame(text: list[Any] | None = None, dtype: Any = "str") -> pd.DataFrame:
    return pd.DataFrame(
        {"i": np.arange(6), "s": pd.array(text or ["a", "b", None, "d", "e", "f"], dtype=dtype)}
    )


def test_a_pandas_text_column_is_held_by_pyarrow_here() -> None:
    values = frame()["s"].array
    assert values.dtype.storage == "pyarrow"  # what the slow hits came from


@pytest.mark.parametrize("dtype", ["str", "string[pyarrow]", pd.ArrowDtype(pa.string())])
def test_arrow_backed_pandas_columns_hash_by_their_values(dtype: Any) -> None:
    assert digest(frame(dtype=dtype)) == digest(frame(dtype=dtype))
    assert digest(frame(dtype=dtype)) != digest(frame(["a", "b", None, "d", "e", "g"], dtype))
    assert digest(frame(dtype=dtype)) != digest(frame(["a", "b", "", "d", "e", "f"], dtype))
    assert digest(frame(dtype=dtype)) != digest(frame(dtype=dtype).rename(columns={"s": "t"}))


def test_the_str_and_string_dtypes_of_the_same_text_differ() -> None:
    assert digest(frame(dtype="str")) != digest(frame(dtype="string[pyarrow]"))


def test_an_arrow_int_column_differs_from_its_int32_form() -> None:
    a = pd.Series([1, 2, None], dtype=pd.ArrowDtype(pa.int64()))
    b = pd.Series([1, 2, None], dtype=pd.ArrowDtype(pa.int32()))
    assert digest(a) == digest(pd.Series([1, 2, None], dtype=pd.ArrowDtype(pa.int64())))
    assert digest(a) != digest(b)


def polars_frame(**changes: Any) -> pl.DataFrame:
    columns: dict[str, Any] = {"i": [1, 2, None, 4], "s": ["x", None, "zz", ""]}
    columns.update(changes)
    return pl.DataFrame(columns)


def test_equal_polars_frames_hash_equal_however_they_are_chunked() -> None:
    whole = polars_frame()
    stacked = polars_frame()[:2].vstack(polars_frame()[2:])
    assert stacked.n_chunks() > 1
    assert digest(whole) == digest(polars_frame())
    assert digest(whole) == digest(stacked)
    assert digest(whole["s"]) == digest(stacked["s"])


@pytest.mark.parametrize(
    "other",
    [
        polars_frame(i=[1, 2, None, 5]),
        polars_frame(i=[1, 2, 0, 4]),
        polars_frame(s=["x", "", "zz", ""]),
        polars_frame(i=pl.Series([1, 2, None, 4], dtype=pl.Int32)),
        polars_frame().rename({"s": "t"}),
    ],
)
def test_a_value_null_dtype_or_name_change_changes_a_polars_digest(other: pl.DataFrame) -> None:
    assert digest(polars_frame()) != digest(other)


def test_a_polars_categorical_hashes_by_its_strings() -> None:
    pl.Series(["zz", "yy"], dtype=pl.Categorical)  # other categories met first
    a = pl.Series(["b", "a", "b"], dtype=pl.Categorical)
    assert digest(a) == digest(pl.Series(["b", "a", "b"], dtype=pl.Categorical))
    assert digest(a) != digest(pl.Series(["b", "a", "a"], dtype=pl.Categorical))
    assert digest(a) != digest(pl.Series(["b", "a", "b"]))


def test_a_polars_object_column_hashes_by_its_objects_not_their_addresses() -> None:
    inner = [1]
    column = pl.Series("o", [inner, 2], dtype=pl.Object)
    before = digest(column)
    assert digest(pl.Series("o", [[1], 2], dtype=pl.Object)) == before
    inner.append(2)
    assert digest(column) != before


def test_a_polars_lazy_frame_argument_is_refused_saying_to_collect_it() -> None:
    @memo
    def total(frame: Any) -> int:
        return 0

    with pytest.raises(UnhashableTypeError) as caught:
        total(polars_frame().lazy())
    text = str(caught.value)
    assert "polars.lazyframe.frame.LazyFrame" not in text
    assert ".collect()" in text and "argument frame" in text
    assert "\n" not in text


def test_an_arrow_table_argument_hits_until_a_value_changes(tally: Tally) -> None:
    @memo
    def rows(table: Any) -> int:
        return tally(table.num_rows)

    rows(pa.table({"s": pa.array(TEXT)}))
    rows(pa.table({"s": pa.array(TEXT)}).slice(0))
    assert len(tally) == 1
    rows(pa.table({"s": pa.array(TEXT[:-1] + ["x"])}))
    assert len(tally) == 2


@pytest.mark.parametrize("words", [["ab", None, "c", ""], ["a string longer than 12", None, "c"]])
def test_string_views_hash_by_their_strings_sliced_or_chunked(words: list[Any]) -> None:
    views = pa.array(words * 10, pa.string_view())
    copy = pa.array((words * 10)[3:25], pa.string_view())
    assert digest(views.slice(3, 22)) == digest(copy)
    chunked = pa.chunked_array([views.slice(0, 5), views.slice(5)])
    assert digest(chunked) == digest(pa.chunked_array([views]))
    assert digest(views) != digest(pa.array((words * 10)[:-1] + ["x"], pa.string_view()))
    assert digest(views) != digest(pa.array(words * 10, pa.large_string()))


def test_polars_text_long_and_short_hashes_by_its_strings() -> None:
    short = polars_frame(s=["x", None, "zz", ""])
    long = polars_frame(s=["a string longer than 12", None, "zz", ""])
    assert digest(long) == digest(polars_frame(s=["a string longer than 12", None, "zz", ""]))
    assert digest(long) != digest(short)
    assert digest(long[1:]) == digest(
        polars_frame(s=["a string longer than 12", None, "zz", ""])[1:]
    )
