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

from .handlers import register

if TYPE_CHECKING:
    from .core import Hasher

# nditer copies a non-contiguous array through a buffer of about this many bytes.
_BUFFER_BYTES = 1 << 18
_SMALL = 1 << 12


def _header(a: np.ndarray) -> bytes:
    dtype = a.dtype
    descr = repr(dtype.descr) if dtype.fields else dtype.str
    return f"ndarray|{descr}|{a.shape}|".encode()


class Strided:
    """Part of a stream: an array whose bytes must be copied out in C order."""

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray) -> None:
        self.array = array


def array_parts(a: np.ndarray, hasher: Hasher) -> list[Any]:
    """The header and data of ``a`` as parts for :func:`feed` (no data is copied)."""
    return data_parts(a, hasher, [_header(a)])


def data_parts(a: np.ndarray, hasher: Hasher, parts: list[Any]) -> list[Any]:
    """``parts`` with the data of ``a`` appended, for :func:`feed` (no data is copied):
    for a caller whose header says the rest (a tensor's dtype, shape and device)."""
    if a.dtype.hasobject:
        parts.append(hasher.digest_nested(a.ravel().tolist()))
    elif a.size == 0:
        pass
    elif a.flags.c_contiguous:
        # A small array's bytes copied cost less than a reshaped view of them.
        parts.append(a.tobytes() if a.nbytes < _SMALL else a.reshape(-1).view(np.uint8))
    else:
        parts.append(Strided(a))
    return parts


def feed(h: Any, parts: list[Any]) -> None:
    """Stream ``parts`` (buffers and :class:`Strided` arrays) into the xxh3 state ``h``.

    Callers gather every part first and stream them in one tight loop: Python work
    done between big buffers runs on a cache the data has just flushed.
    """
    for part in parts:
        if type(part) is Strided:
            a = part.array
            # numpy's stubs leave out the valid "contig" operand flag.
            chunks = np.nditer(  # type: ignore[call-overload]
                a,
                flags=["external_loop", "buffered", "zerosize_ok"],
                op_flags=[["readonly", "contig"]],
                order="C",
                buffersize=max(1, _BUFFER_BYTES // a.itemsize),
            )
            for chunk in chunks:
                h.update(chunk.view(np.uint8))
        else:
            h.update(part)


def digest_array(value: np.ndarray, hasher: Hasher) -> bytes:
    """An ndarray (exactly: subclasses such as ``np.matrix`` are hashed by their state)."""
    h = xxhash.xxh3_128()
    feed(h, array_parts(value, hasher))
    return h.digest()


def digest_scalar(value: np.generic, hasher: Hasher) -> bytes:
    """A numpy scalar, as a 0-d array of its dtype, every NaN made the same."""
    scalar = np.asarray(value)
    if isinstance(value, np.inexact) and value != value:
        parts = (value.real, value.imag) if isinstance(value, np.complexfloating) else ()
        canon = [np.nan if p != p else p for p in parts] or [np.nan]
        scalar = np.asarray(complex(*canon) if parts else canon[0], dtype=scalar.dtype)
    return xxhash.xxh3_128_digest(_header(scalar) + scalar.tobytes())


def digest_dtype(value: np.dtype, hasher: Hasher) -> bytes:
    return xxhash.xxh3_128_digest(b"dtype|" + repr(value).encode())


# Other numpy objects (ufuncs, generators, array subclasses) are hashed by their state.
register(np.ndarray, digest_array, root="numpy", exact=True)
register(np.generic, digest_scalar, root="numpy")
register(np.dtype, digest_dtype, root="numpy")
