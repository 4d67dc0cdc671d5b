"""numpy arrays and scalars: dtype, shape and every byte of the data, never a sample.

A C-contiguous buffer goes to xxh3 as it is (zero copy); any other layout is copied
in C order through ``nditer``'s small buffer, so a view hashes equal to its contiguous
copy without doubling memory.  Object arrays hash their elements.

Array data is hashed by its bits: a float array holding a NaN with another sign or
payload hashes differently (finding NaNs would cost a second pass over the data).
NaN scalars are made canonical, as Python floats are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import xxhash

if TYPE_CHECKING:
    from .hashing import Hasher

# nditer copies a non-contiguous array through a buffer of about this many bytes.
_BUFFER_BYTES = 1 << 18


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
        chunks = np.nditer(
            a,
            flags=["external_loop", "buffered", "zerosize_ok"],
            op_flags=[["readonly", "contig"]],
            order="C",
            buffersize=max(1, _BUFFER_BYTES // a.itemsize),
        )
        for chunk in chunks:
            h.update(chunk.view(np.uint8))


def digest_numpy(hasher: Hasher, value: Any) -> bytes | None:
    """Digest of an ndarray or numpy scalar; None for other numpy objects."""
    if isinstance(value, np.ndarray) and type(value) is np.ndarray:
        h = xxhash.xxh3_128()
        feed_array(h, value, hasher)
        return h.digest()
    if isinstance(value, np.generic):
        scalar = np.asarray(value)
        if isinstance(value, np.inexact) and value != value:
            parts = (value.real, value.imag) if isinstance(value, np.complexfloating) else ()
            canon = [np.nan if p != p else p for p in parts] or [np.nan]
            scalar = np.asarray(complex(*canon) if parts else canon[0], dtype=scalar.dtype)
        return xxhash.xxh3_128_digest(_header(scalar) + scalar.tobytes())
    if isinstance(value, np.dtype):
        return xxhash.xxh3_128_digest(b"dtype|" + repr(value).encode())
    return None
