"""polars DataFrame and Series, hashed from their Arrow buffers; LazyFrame refused.

A DataFrame's columns are exported to Arrow without a copy (``to_arrow`` at the
newest compat level: text stays in polars' string views) and hashed by :mod:`.arrow`:
values, validity, type and length, chunking left out.  The polars dtype of each column
is in the digest too (an Arrow type can stand for more than one polars dtype); a
Categorical or Enum column is hashed by its
strings, since its codes index a category table shared by the whole process, and an
Object column by its Python objects (``to_arrow`` gives their memory addresses).

A ``LazyFrame`` is a query plan, not data: its plan may scan files (``scan_parquet``,
``scan_csv``) whose contents a plan digest cannot see, and polars says its serialized
plans are not stable across versions.  So it is refused with the fix, ``.collect()``
it first (or pass the collected frame).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
import xxhash

from ..errors import UnhashableTypeError
from .arrow import column_digest
from .handlers import register
from .wire import pack_len

if TYPE_CHECKING:
    from .core import Hasher


def _series_digest(series: pl.Series, hasher: Hasher) -> bytes:
    dtype = repr(series.dtype)
    if isinstance(series.dtype, pl.Object):
        # By its Python objects: polars exports them to Arrow as their addresses.
        h = xxhash.xxh3_128(b"pl-objects|" + hasher.digest_nested(series.name))
        h.update(hasher.digest_nested(series.to_list()))
        return h.digest()
    if isinstance(series.dtype, (pl.Categorical, pl.Enum)):
        # By its strings: the physical codes follow a process-wide category table.
        series = series.cast(pl.String)
    array = series.to_arrow(compat_level=pl.CompatLevel.newest())  # no copy of text
    chunks = array.chunks if hasattr(array, "chunks") else [array]
    h = xxhash.xxh3_128(b"pl-column|" + dtype.encode())
    h.update(hasher.digest_nested(series.name))
    h.update(column_digest(chunks, array.type, hasher))
    return h.digest()


def digest_frame(value: pl.DataFrame, hasher: Hasher) -> bytes:
    h = xxhash.xxh3_128(b"pl.DataFrame|" + pack_len(value.height) + pack_len(value.width))
    for series in value.iter_columns():
        h.update(_series_digest(series, hasher))
    return h.digest()


def digest_series(value: pl.Series, hasher: Hasher) -> bytes:
    return xxhash.xxh3_128_digest(b"pl.Series|" + _series_digest(value, hasher))


def refuse_lazy_frame(value: pl.LazyFrame, hasher: Hasher) -> bytes:
    raise UnhashableTypeError(type_name="polars.LazyFrame", collect_first=True)


register(pl.DataFrame, digest_frame, root="polars")
register(pl.Series, digest_series, root="polars")
register(pl.LazyFrame, refuse_lazy_frame, root="polars")
