"""pyarrow arrays, chunked arrays, record batches and tables, hashed from their buffers.

A column is hashed as the values it holds, not as the memory that holds them:

* **slicing** does not count: an array sliced out of a bigger one (an offset into
  shared buffers) hashes like its materialized copy; only the bytes of its own rows
  are read (zero copy);
* **chunking** does not count: a chunked array hashes like the same values in one
  contiguous chunk (a table read in batches and the same table combined are equal
  values, and a cache key is about values).  Each column keeps one xxh3 state per
  buffer role (validity, offsets, data), fed chunk after chunk, so the streams are the
  same however the rows are cut; string offsets are fed rebased to where the chunk's
  first string starts in the whole column;
* **what sits under a null** does not count: a chunk holding nulls is hashed with its
  nulls filled (zero, the empty string) plus its validity as one byte per row, so two
  arrays equal as values hash alike whatever garbage their null slots hold.

The type (``int32`` vs ``int64``, a timestamp's unit and zone), the length, the column
names and the validity are in the digest.  Fixed-width and string/binary columns are
read from their buffers; string and binary *views* (how polars holds text) as their
views when every string fits in its view (12 bytes), else cast to their large form
first (one copy); dictionaries by their decoded values (one copy), plus the dictionary
when it is ordered; nested and other types (lists, structs, maps, unions) as their
Python values (correct, slower).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from .handlers import register
from .wire import pack_len

if TYPE_CHECKING:
    from .core import Hasher

_STRINGS = (pa.types.is_string, pa.types.is_binary, pa.types.is_large_string)
_VIEWS = {pa.string_view(): pa.large_string(), pa.binary_view(): pa.large_binary()}
_VIEW_BYTES = 16  # one view: length, then 12 bytes of string or prefix + buffer + offset
_VIEW_INLINE = 12


def _byte_width(t: pa.DataType) -> int:
    """Bytes per value of a fixed-width type, else 0 (bool: bits; variable width)."""
    if pa.types.is_dictionary(t) or pa.types.is_boolean(t) or pa.types.is_null(t):
        return 0
    try:
        bits = t.bit_width
    except ValueError:
        return 0
    return bits // 8 if bits % 8 == 0 else 0


def _all_inline(chunk: pa.Array) -> bool:
    """Whether every string of a view array is held in its view (at most 12 bytes).

    Such a view is the string's length and bytes, zero-padded (the Arrow format says
    so), so the views are the values themselves and are hashed as fixed-width rows
    without a copy.  A longer string's view points into a data buffer at a place that
    depends on how the array was built: those columns are cast to large strings.
    """
    n = len(chunk)
    buffers = chunk.buffers()
    if n == 0 or all(buf is None or buf.size == 0 for buf in buffers[2:]):
        return True  # no data buffer for a view to point into
    views = np.frombuffer(buffers[1], np.int32).reshape(-1, 4)
    return int(views[chunk.offset : chunk.offset + n, 0].max()) <= _VIEW_INLINE


def _is_offsets_type(t: pa.DataType) -> bool:
    return any(test(t) for test in _STRINGS) or pa.types.is_large_binary(t)


def _empty_of(t: pa.DataType) -> pa.Scalar:
    return pa.scalar(b"" if pa.types.is_binary(t) or pa.types.is_large_binary(t) else "", t)


class _Column:
    """The xxh3 states of one column, fed chunk by chunk (see the module docstring)."""

    def __init__(self, t: pa.DataType, nulls: bool, width: int = 0) -> None:
        self.type = t
        self.width = width or _byte_width(t)  # bytes per value, 0: not fixed-width
        self.kind = str(t)  # the column's own type (a view column is fed cast)
        self.nulls = nulls
        # Any: xxhash's stubs leave out numpy arrays, which it reads as buffers.
        self.valid: Any = xxhash.xxh3_128()
        self.offsets: Any = xxhash.xxh3_128()
        self.data: Any = xxhash.xxh3_128()
        self.base = 0  # bytes of string data fed so far
        self.length = 0

    def feed(self, chunk: pa.Array) -> None:
        n = len(chunk)
        if n == 0:
            return
        self.length += n
        if self.nulls:
            self.valid.update(chunk.is_valid().to_numpy(zero_copy_only=False))
            if chunk.null_count:
                chunk = self._filled(chunk)
        t = self.type
        width = self.width
        if width:
            buf = chunk.buffers()[1]
            off = chunk.offset
            self.data.update(np.frombuffer(buf, np.uint8)[off * width : (off + n) * width])
        elif _is_offsets_type(t):
            self._feed_offsets(chunk, n)
        elif pa.types.is_boolean(t):
            self.data.update(chunk.to_numpy(zero_copy_only=False))

    def _filled(self, chunk: pa.Array) -> pa.Array:
        """``chunk`` with nulls filled, so what sits under them does not count."""
        t = self.type
        width = self.width
        if width:  # zero the rows under nulls, whatever the type
            off, n = chunk.offset, len(chunk)
            raw = np.frombuffer(chunk.buffers()[1], np.uint8)[off * width : (off + n) * width]
            rows = raw.reshape(n, width).copy()
            rows[~chunk.is_valid().to_numpy(zero_copy_only=False)] = 0
            return pa.Array.from_buffers(t, n, [None, pa.py_buffer(rows)])
        if _is_offsets_type(t):
            return pc.fill_null(chunk, _empty_of(t))
        if pa.types.is_boolean(t):
            return pc.fill_null(chunk, False)
        return chunk  # the null type: nothing under its nulls

    def _feed_offsets(self, chunk: pa.Array, n: int) -> None:
        large = pa.types.is_large_string(self.type) or pa.types.is_large_binary(self.type)
        kind = np.int64 if large else np.int32
        buffers = chunk.buffers()
        offsets = np.frombuffer(buffers[1], kind)[chunk.offset : chunk.offset + n + 1]
        start, end = int(offsets[0]), int(offsets[-1])
        if start == self.base:  # the common case: a column's first, unsliced chunk
            self.offsets.update(offsets[1:])
        else:
            rebased = offsets[1:].astype(np.int64) - (start - self.base)
            fits = large or rebased[-1] <= np.iinfo(np.int32).max
            self.offsets.update(rebased.astype(kind) if fits else rebased)
        if end > start:
            self.data.update(np.frombuffer(buffers[2], np.uint8)[start:end])
        self.base += end - start

    def digest(self) -> bytes:
        h = xxhash.xxh3_128(b"arrow|" + self.kind.encode() + b"|" + pack_len(self.length))
        if self.nulls:
            h.update(b"V" + self.valid.digest())
        h.update(self.offsets.digest())
        h.update(self.data.digest())
        return h.digest()


def column_digest(chunks: list[pa.Array], t: pa.DataType, hasher: Hasher) -> bytes:
    """The digest of one column given as its chunks (one for a plain array)."""
    nulls = any(chunk.null_count for chunk in chunks)
    if t in _VIEWS:
        if all(_all_inline(chunk) for chunk in chunks):
            column = _Column(t, nulls, width=_VIEW_BYTES)
            for chunk in chunks:
                column.feed(chunk)
            return column.digest()
        column = _Column(_VIEWS[t], nulls)
        column.kind = str(t)
        for chunk in chunks:
            column.feed(chunk.cast(_VIEWS[t]))
        return column.digest()
    if pa.types.is_dictionary(t):
        return _dictionary_digest(chunks, t, hasher)
    if not _by_buffers(t):  # nested and other types: by the column's Python values
        values = pa.chunked_array(chunks, t).to_pylist()
        return xxhash.xxh3_128_digest(b"arrow-py|" + str(t).encode() + hasher.digest_nested(values))
    column = _Column(t, nulls)
    for chunk in chunks:
        column.feed(chunk)
    return column.digest()


def _by_buffers(t: pa.DataType) -> bool:
    """Whether :class:`_Column` reads columns of type ``t`` from their buffers."""
    return bool(
        _byte_width(t) or _is_offsets_type(t) or pa.types.is_boolean(t) or pa.types.is_null(t)
    )


def _dictionary_digest(chunks: list[pa.Array], t: pa.DataType, hasher: Hasher) -> bytes:
    """A dictionary column by its decoded values (the same values encoded with another
    dictionary are equal), and by its dictionary too when it is ordered (the order of the
    categories is then part of what the values mean)."""
    h = xxhash.xxh3_128(b"arrow-dict|" + str(t).encode())
    decoded = [chunk.dictionary_decode() for chunk in chunks]
    h.update(column_digest(decoded, t.value_type, hasher))
    if t.ordered and chunks:
        combined = pa.chunked_array(chunks, t).combine_chunks()
        h.update(column_digest([combined.dictionary], t.value_type, hasher))
    return h.digest()


def _table_digest(kind: bytes, value: pa.Table | pa.RecordBatch, hasher: Hasher) -> bytes:
    h = xxhash.xxh3_128(kind + b"|" + pack_len(value.num_rows) + pack_len(value.num_columns))
    h.update(hasher.digest_nested(list(value.schema.names)))
    if value.schema.metadata:
        h.update(hasher.digest_nested(dict(value.schema.metadata)))
    for column in value.columns:
        chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
        h.update(column_digest(chunks, column.type, hasher))
    return h.digest()


def digest_table(value: pa.Table | pa.RecordBatch, hasher: Hasher) -> bytes:
    """A Table, however its columns are chunked, or a RecordBatch (the kind counts:
    code may treat them differently)."""
    return _table_digest(type(value).__name__.encode(), value, hasher)


def digest_array(value: pa.Array | pa.ChunkedArray, hasher: Hasher) -> bytes:
    """An Array, or a ChunkedArray however it is chunked (the kind counts)."""
    chunked = isinstance(value, pa.ChunkedArray)
    chunks = value.chunks if chunked else [value]
    kind = b"ChunkedArray|" if chunked else b"Array|"
    return xxhash.xxh3_128_digest(kind + column_digest(chunks, value.type, hasher))


register((pa.Table, pa.RecordBatch), digest_table, root="pyarrow")
register((pa.Array, pa.ChunkedArray), digest_array, root="pyarrow")
from . import arrow_datasets  # noqa: E402,F401  (its handlers: Datasets, keyed by their files)
