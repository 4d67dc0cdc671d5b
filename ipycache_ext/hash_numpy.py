"""numpy arrays and scalars: dtype, shape and every byte of the data, never a sample.

A C-contiguous buffer goes to xxh3 as it is (zero copy); any other layout is copied
in C order a slab at a time, so a view hashes equal to its contiguous copy without
doubling memory.  Object arrays hash their elements.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import xxhash

if TYPE_CHECKING:
    from .hashing import Hasher

_SLAB_BYTES = 1 << 23


def _header(a: np.ndarray) -> bytes:
    dtype = a.dtype
    descr = repr(dtype.descr) if dtype.fields else dtype.str
    return f"ndarray|{descr}|{a.shape}|".encode()


def feed_array(h: Any, a: np.ndarray, hasher: Hasher) -> None:
    """Stream the header and data of ``a`` into the xxh3 state ``h``."""
    h.update(_header(a))
    if a.dtype.hasobject:
        h.update(hasher._digest(a.ravel().tolist()))
    elif a.size == 0:
        return
    elif a.flags.c_contiguous:
        h.update(a.reshape(-1).view(np.uint8))
    else:
        rows = max(1, _SLAB_BYTES // max(1, a[0].nbytes if a.ndim > 1 else a.itemsize))
        if a.ndim == 1:
            for start in range(0, a.shape[0], rows):
                h.update(np.ascontiguousarray(a[start : start + rows]).view(np.uint8))
        else:
            for start in range(0, a.shape[0], rows):
                slab = np.ascontiguousarray(a[start : start + rows])
                h.update(slab.reshape(-1).view(np.uint8))


def digest_numpy(hasher: Hasher, value: Any) -> bytes | None:
    """Digest of an ndarray or numpy scalar; None for other numpy objects."""
    if isinstance(value, np.ndarray) and type(value) is np.ndarray:
        h = xxhash.xxh3_128()
        feed_array(h, value, hasher)
        return h.digest()
    if isinstance(value, np.generic):
        return xxhash.xxh3_128_digest(_header(np.asarray(value)) + np.asarray(value).tobytes())
    if isinstance(value, np.dtype):
        return xxhash.xxh3_128_digest(b"dtype|" + repr(value).encode())
    return None
