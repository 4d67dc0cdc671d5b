"""Scalars and flat lists of scalars: their tagged encodings and digests.

The building blocks both hashing paths share: an ``int`` is never equal to a ``float``
or a ``str`` of the same value, every NaN hashes alike, and long strings and number
lists are fed to xxh3 without building Python objects per element.
"""

from __future__ import annotations

import operator
import struct
import sys
from array import array
from collections.abc import Callable
from typing import Any

from .wire import DICT, FLOATS, INT64S, LIST, TUPLE, pack_d, pack_len, pack_q
from .wire import xxh as _xxh
from .wire import xxh_digest as _xxh_digest

# Strings longer than this are encoded a chunk at a time (no full-size copy).
STR_CHUNK = 1 << 18
# The one NaN every NaN in a float list becomes (quiet, positive, no payload).
_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000000))[0]


def type_name(tp: type) -> str:
    """The name a user would write for ``tp`` (``module.QualName``, builtins bare)."""
    module = getattr(tp, "__module__", None)
    if module in (None, "builtins", "__main__"):
        return tp.__qualname__
    return f"{module}.{tp.__qualname__}"


def _int_atom(value: int) -> bytes:
    if -(1 << 63) <= value < (1 << 63):
        return b"i" + pack_q(value)
    return b"I" + value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)


def _canon_float(x: float) -> bytes:
    return b"nan" if x != x else pack_d(x)


# The tagged encoding of each atom type (exact types only: subclasses are not atoms).
ATOMS: dict[type, Callable[[Any], bytes]] = {
    int: _int_atom,
    str: lambda v: b"s" + v.encode("utf-8", "surrogatepass"),
    float: lambda v: b"f" + _canon_float(v),
    bool: lambda v: b"T" if v else b"F",
    type(None): lambda v: b"N",
    bytes: lambda v: b"b" + v,
    complex: lambda v: b"c" + _canon_float(v.real) + _canon_float(v.imag),
}


def atom_bytes(value: Any) -> bytes | None:
    """A short tagged encoding of a scalar, or None when ``value`` is not one."""
    encode = ATOMS.get(type(value))
    return None if encode is None else encode(value)


def feed_str(h: Any, text: str) -> None:
    """Stream ``text`` as UTF-8 (lone surrogates allowed) into the xxh3 state ``h``.

    Equal to ``h.update(text.encode("utf-8", "surrogatepass"))``: the encoder maps
    each code point on its own, so chunks can be cut anywhere.
    """
    if len(text) <= STR_CHUNK:
        h.update(text.encode("utf-8", "surrogatepass"))
        return
    for start in range(0, len(text), STR_CHUNK):
        h.update(text[start : start + STR_CHUNK].encode("utf-8", "surrogatepass"))


def atom_digest(value: Any) -> bytes | None:
    """``xxh3_128(atom_bytes(value))`` without building a big atom; None for non-atoms."""
    t = type(value)
    encode = ATOMS.get(t)
    if encode is None:
        return None
    if (t is str or t is bytes) and len(value) > STR_CHUNK:
        h = _xxh(b"s" if t is str else b"b")
        if t is str:
            feed_str(h, value)
        else:
            h.update(value)
        return h.digest()
    return _xxh_digest(encode(value))


def int_list_digest(value: list) -> bytes | None:
    """Digest of a list of exact ints that all fit in int64, else None.

    Their values are laid out as one little-endian int64 buffer by numpy (when it is
    already imported) or ``array``; both give the same bytes.
    """
    n = len(value)
    if operator.countOf(map(type, value), int) != n:
        return None
    np = sys.modules.get("numpy")
    try:
        if np is not None:
            data: Any = np.fromiter(value, dtype="<i8", count=n)
        else:
            data = array("q", value)
            if sys.byteorder == "big":
                data.byteswap()
    except OverflowError:
        return None
    h = _xxh(INT64S + pack_len(n))
    h.update(data)
    return h.digest()


def float_list_digest(value: list) -> bytes | None:
    """Digest of a list of exact floats with every NaN made the same, else None.

    For a list that may hold a NaN: walking a million floats one by one is slow.
    numpy (when already imported) and ``array`` give the same bytes.
    """
    n = len(value)
    if operator.countOf(map(type, value), float) != n:
        return None
    np = sys.modules.get("numpy")
    if np is not None:
        data: Any = np.fromiter(value, dtype="<f8", count=n)
        data[np.isnan(data)] = _NAN
    else:
        data = array("d", value)
        for i in [i for i, x in enumerate(value) if x != x]:
            data[i] = _NAN
        if sys.byteorder == "big":
            data.byteswap()
    h = _xxh(FLOATS + pack_len(n))
    h.update(data)
    return h.digest()


def flat_digest(value: Any) -> bytes | None:
    """What the walk gives a list, tuple or dict of atoms only (None for others),
    without the cost of a walker for each small record."""
    tp = type(value)
    if tp is dict:
        h = _xxh(DICT + pack_len(len(value)))
        for k, v in value.items():
            key, val = atom_digest(k), atom_digest(v)
            if key is None or val is None:
                return None
            h.update(key)
            h.update(val)
    else:
        h = _xxh((LIST if tp is list else TUPLE) + pack_len(len(value)))
        for item in value:
            found = atom_digest(item)
            if found is None:
                return None
            h.update(found)
    return h.digest()
