"""pandas DataFrame, Series and Index: values of every column, dtypes, names, index.

Numeric columns are hashed from their own buffers (a column of a consolidated block is
one contiguous row of it), column by column, so the block layout does not count.
Columns pyarrow holds (``pd.ArrowDtype``, and the strings pandas 3 stores with
pyarrow when it is installed) are hashed from their Arrow buffers by :mod:`.arrow`.
Other string columns are joined into one text (much cheaper than pickling a million
small strings); other object columns go through the value hasher.  Nothing is sampled: a
one-cell change changes the digest.  Float columns hash their bits, like numpy arrays
(see :mod:`.arrays`): a NaN with another sign or payload counts as a change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xxhash

from .arrays import array_parts, feed
from .atoms import atom_bytes
from .handlers import register

if TYPE_CHECKING:
    from .core import Hasher

# Below this many bytes, plain bytes calls beat numpy's per-call overhead.
_SMALL = 1 << 12
_MASKED = (pd.arrays.IntegerArray, pd.arrays.FloatingArray, pd.arrays.BooleanArray)


def _dtype_part(dtype: Any) -> bytes:
    """A column's dtype as text: numpy's by its C-level code (``<i8``, with fields for a
    structured one: the name ``str(dtype)`` builds in Python costs more than hashing a
    small column), pandas' own by name."""
    if isinstance(dtype, np.dtype):
        return f"|np:{dtype.descr if dtype.fields else dtype.str}|".encode()
    return f"|{dtype}|".encode()


def _names_part(names: list[Any], hasher: Hasher) -> bytes:
    """An index's names: None, str and int names spelled out (one small frame has
    two indexes: a pickling each for their names would cost more than the data),
    anything else by its digest."""
    out = [b"n%d|" % len(names)]
    for name in names:
        atom = atom_bytes(name) if type(name) in (str, int, type(None)) else None
        if atom is None:
            return b"N" + hasher.digest_nested(names)
        out.append(b"%d|" % len(atom))
        out.append(atom)
    return b"".join(out)


def _value_parts(values: Any, hasher: Hasher) -> list[Any]:
    """One column's (or index's) dtype and values, as parts for :func:`feed`."""
    parts: list[Any] = [_dtype_part(values.dtype)]
    if isinstance(values, np.ndarray):
        parts += array_parts(values, hasher)
    elif isinstance(values, pd.Categorical):
        parts.append(b"ordered|" if values.ordered else b"unordered|")
        parts += array_parts(np.asarray(values.codes), hasher)
        parts.append(_index_digest(values.categories, hasher))
    elif _arrow_backed(values):
        from .arrow import column_digest

        chunked = values.__arrow_array__()
        parts.append(column_digest(chunked.chunks, chunked.type, hasher))
    elif isinstance(values.dtype, pd.StringDtype):
        parts += _string_parts(values, hasher)
    elif isinstance(values, _MASKED):
        parts += array_parts(np.asarray(values.isna(), dtype=bool), hasher)
        numpy_dtype = values.dtype.numpy_dtype
        data = values.to_numpy(numpy_dtype, na_value=numpy_dtype.type(0))
        parts += array_parts(data, hasher)
    elif isinstance(getattr(values, "asi8", None), np.ndarray):
        parts += array_parts(values.asi8, hasher)
    else:
        parts.append(hasher.digest_nested(np.asarray(values, dtype=object).tolist()))
    return parts


def _arrow_backed(values: Any) -> bool:
    """A column held in pyarrow: ``pd.ArrowDtype``, or strings stored by pyarrow (what
    pandas 3 makes of text when pyarrow is installed)."""
    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype):
        return dtype.storage == "pyarrow" and hasattr(values, "__arrow_array__")
    return isinstance(dtype, pd.ArrowDtype) and hasattr(values, "__arrow_array__")


def _string_parts(values: Any, hasher: Hasher) -> list[Any]:
    """A string column: its strings joined by NUL, missing cells as a mask.

    The joined text is unambiguous when it holds exactly one NUL fewer than there are
    strings; a column where some string contains a NUL is pickled instead.
    """
    parts: list[Any] = []
    objects = getattr(values, "_ndarray", None)  # python-backed: the strings themselves
    if not (isinstance(objects, np.ndarray) and objects.dtype == object):
        objects = np.asarray(values, dtype=object)
    items = objects.tolist()
    joined = _joined(items)
    if joined is None:
        missing = np.asarray(values.isna(), dtype=bool)
        if missing.any():
            parts.append(b"M")
            parts += array_parts(missing, hasher)
            items = objects[~missing].tolist()
            joined = _joined(items)
    if joined is None:
        parts.append(b"P" + hasher.digest_nested(items))
    else:
        parts += [b"J%d|" % len(items), joined]
    return parts


def _joined(items: list[Any]) -> bytes | None:
    """``items`` joined by NUL as UTF-8, or None if they are not all str or one has a NUL."""
    try:
        joined = "\0".join(items).encode("utf-8", "surrogatepass")
    except TypeError:
        return None
    # UTF-8 has a zero byte only for U+0000; numpy counts them ~5x faster than bytes.count
    # (once past its own call overhead).
    if len(joined) < _SMALL:
        nuls = joined.count(0)
    else:
        nuls = int(np.count_nonzero(np.frombuffer(joined, dtype=np.uint8) == 0))
    return joined if nuls == max(len(items) - 1, 0) else None


def _index_digest(index: pd.Index, hasher: Hasher) -> bytes:
    h = xxhash.xxh3_128()
    h.update(b"Index|" + type(index).__name__.encode())
    h.update(_names_part(list(index.names), hasher))
    if isinstance(index, pd.RangeIndex):
        h.update(repr((index.start, index.stop, index.step)).encode())
    elif isinstance(index, pd.MultiIndex):
        h.update(hasher.digest_nested(index.to_flat_index().tolist()))
    else:
        values = index.to_numpy() if isinstance(index.dtype, np.dtype) else index.array
        feed(h, _value_parts(values, hasher))
    return h.digest()


def _columns(frame: pd.DataFrame) -> list[Any]:
    """Each column's values: a numpy array for a numpy dtype, else the pandas array.

    The block manager's ``iget_values`` (private, so only when present) gives them
    without building a Series per column, a tenth of the cost of ``items()``.
    """
    iget = getattr(getattr(frame, "_mgr", None), "iget_values", None)
    if iget is None:
        return [_column_values(series) for _, series in frame.items()]
    columns = [iget(i) for i in range(frame.shape[1])]
    return [np.asarray(v) if isinstance(v.dtype, np.dtype) else v for v in columns]


def _column_values(series: pd.Series) -> Any:
    if isinstance(series.dtype, np.dtype):
        return series.to_numpy(copy=False)
    return series.array


def digest_frame(value: pd.DataFrame, hasher: Hasher) -> bytes:
    parts: list[Any] = [
        b"DataFrame|" + repr(value.shape).encode(),
        _index_digest(value.columns, hasher),
        _index_digest(value.index, hasher),
    ]
    for values in _columns(value):
        parts += _value_parts(values, hasher)
    return _finish(value, parts, hasher)


def digest_series(value: pd.Series, hasher: Hasher) -> bytes:
    parts = [
        b"Series|" + hasher.digest_nested(value.name),
        _index_digest(value.index, hasher),
        *_value_parts(_column_values(value), hasher),
    ]
    return _finish(value, parts, hasher)


def digest_index(value: pd.Index, hasher: Hasher) -> bytes:
    return _index_digest(value, hasher)


def _finish(value: pd.DataFrame | pd.Series, parts: list[Any], hasher: Hasher) -> bytes:
    if value.attrs:  # metadata a function may read (units, provenance)
        parts.append(b"attrs|" + hasher.digest_nested(dict(value.attrs)))
    h = xxhash.xxh3_128()
    feed(h, parts)
    return h.digest()


# Other pandas objects (Timestamp, Categorical, ...) are hashed by their state.
register(pd.DataFrame, digest_frame, root="pandas")
register(pd.Series, digest_series, root="pandas")
register(pd.Index, digest_index, root="pandas")
