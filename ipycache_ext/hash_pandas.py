"""pandas DataFrame, Series and Index: values of every column, dtypes, names, index.

Numeric columns are hashed from their own buffers (a column of a consolidated block is
one contiguous row of it); object and string columns go through the value hasher.
Nothing is sampled: a one-cell change changes the digest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xxhash

from .hash_numpy import feed_array

if TYPE_CHECKING:
    from .hashing import Hasher


def _feed_values(h: Any, values: Any, hasher: Hasher) -> None:
    """Stream one column's (or index's) dtype and values into ``h``."""
    h.update(f"|{values.dtype}|".encode())
    if isinstance(values, np.ndarray):
        feed_array(h, values, hasher)
        return
    if isinstance(values, pd.Categorical):
        feed_array(h, np.asarray(values.codes), hasher)
        h.update(_index_digest(values.categories, hasher))
        return
    asi8 = getattr(values, "asi8", None)
    if isinstance(asi8, np.ndarray):
        feed_array(h, asi8, hasher)
        return
    objects = np.asarray(values, dtype=object)
    h.update(hasher._digest(objects.tolist()))


def _index_digest(index: pd.Index, hasher: Hasher) -> bytes:
    h = xxhash.xxh3_128()
    h.update(b"Index|" + type(index).__name__.encode())
    h.update(hasher._digest(list(index.names)))
    if isinstance(index, pd.RangeIndex):
        h.update(repr((index.start, index.stop, index.step)).encode())
    elif isinstance(index, pd.MultiIndex):
        h.update(hasher._digest(index.to_flat_index().tolist()))
    else:
        _feed_values(
            h, index.array if not isinstance(index.dtype, np.dtype) else index.to_numpy(), hasher
        )
    return h.digest()


def _column_values(series: pd.Series) -> Any:
    if isinstance(series.dtype, np.dtype):
        return series.to_numpy(copy=False)
    return series.array


def digest_pandas(hasher: Hasher, value: Any) -> bytes | None:
    """Digest of a DataFrame, Series or Index; None for other pandas objects."""
    if isinstance(value, pd.DataFrame):
        h = xxhash.xxh3_128()
        h.update(b"DataFrame|" + repr(value.shape).encode())
        h.update(_index_digest(value.columns, hasher))
        h.update(_index_digest(value.index, hasher))
        for i in range(value.shape[1]):
            _feed_values(h, _column_values(value.iloc[:, i]), hasher)
        return h.digest()
    if isinstance(value, pd.Series):
        h = xxhash.xxh3_128()
        h.update(b"Series|" + hasher._digest(value.name))
        h.update(_index_digest(value.index, hasher))
        _feed_values(h, _column_values(value), hasher)
        return h.digest()
    if isinstance(value, pd.Index):
        return _index_digest(value, hasher)
    return None
