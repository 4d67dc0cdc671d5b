"""Long lists, tuples and dicts of numbers: one pass of the C pickler, nothing more.

A list of a million ints is hashed about as fast as ``pickle.dumps`` can write it only
if nothing else walks its items: a type check (``map(type, ...)``), a look for shared
parts (:mod:`.sharing`) or a NaN check over the items each cost about as much as the
pickling itself, since each touches every item once more.  So here the pickler is
the type check:

* protocol 5 with its memo on, as ``pickle.dumps`` runs: ints, floats, bools and None
  are never memoized, while every str, bytes, list, tuple, dict, set and frozenset is.
  A stream whose memo holds the container alone therefore holds nothing but those
  four (and empty tuples), exact types only: a subclass, or anything else pickle does
  not write itself, reaches ``reducer_override``, which gives up.  No set means no
  iteration order, no nested container means no shared part, and no memoized item
  means no back reference (``BINGET``), so the stream is a function of the value.
  The memo is looked at on each 64 KiB frame, so a list of strs gives up early.
* a NaN is written with its sign and payload bits, while every NaN must hash alike:
  each frame is searched for the ``BINFLOAT`` opcode, and when it may carry a NaN or
  an infinity (or there are too many floats to look at one by one) ``sum`` of the
  items decides, a C loop without a Python object per item.  A NaN, an infinity or
  a sum that fails sends the value to the other paths, which hash NaNs canonically.

The stream begins with protocol 5's header, which no other digest input does.
"""

from __future__ import annotations

import pickle
from typing import Any

from .wire import xxh

# Shorter containers take the general fast path, whose pickler is reused between
# hashes (making a pickler costs more than hashing a short list).
MIN_LEN = 64
NUMBERS = frozenset({int, float, bool, type(None)})
_BINFLOAT = b"G"
# Floats looked at one by one in a frame before ``sum`` is asked instead.
_FLOATS_LOOKED_AT = 512


class _GiveUp(Exception):
    """Raised inside the pickler: the value is not a container of numbers only."""


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        raise _GiveUp


class _Sink:
    """Frames go straight into xxh3; each one checked for a memoized item and NaN."""

    __slots__ = ("update", "pickler", "maybe_nan")

    def __init__(self, update: Any) -> None:
        self.update = update
        self.pickler: pickle.Pickler | None = None
        self.maybe_nan = False

    def write(self, data: Any) -> None:
        if self.pickler is not None and len(self.pickler.memo.copy()) > 1:
            raise _GiveUp
        self.update(data)
        if not self.maybe_nan and _BINFLOAT in data:
            self.maybe_nan = _may_hold_nan(bytes(data))


def _may_hold_nan(data: bytes) -> bool:
    """False when no ``BINFLOAT`` in ``data`` is a NaN or an infinity (its first two
    bytes, big-endian, have every exponent bit set); True when one may be, or when
    there are too many to look at here."""
    at = data.find(_BINFLOAT)
    last = len(data) - 9  # a frame holds whole opcodes: a BINFLOAT starts at most here
    for _ in range(_FLOATS_LOOKED_AT):
        if at == -1 or at > last:
            return False
        if data[at + 1] & 0x7F == 0x7F and data[at + 2] >= 0xF0:
            return True
        at = data.find(_BINFLOAT, at + 1)
    return at != -1 and at <= last


def _finite(items: Any) -> bool:
    """True when the numbers ``items`` hold no NaN and no infinity (``sum`` is NaN or
    infinite otherwise, or fails on a huge int beside a float)."""
    try:
        total = sum(items)
    except (TypeError, OverflowError):
        return False
    return total - total == 0


def numbers_digest(value: Any) -> bytes | None:
    """The digest of ``value``, an exact list, tuple or dict of at least
    :data:`MIN_LEN` items, when every item (every key and value) is an exact int,
    float, bool or None; else None, for the other paths to hash it."""
    first = next(iter(value))
    if type(first) not in NUMBERS:
        return None
    h = xxh()
    sink = _Sink(h.update)
    pickler = _Pickler(sink, protocol=5)
    sink.pickler = pickler
    try:
        pickler.dump(value)
    except (_GiveUp, RecursionError):
        return None
    if len(pickler.memo.copy()) > 1:
        return None
    if sink.maybe_nan:
        parts = (value.keys(), value.values()) if type(value) is dict else (value,)
        if not all(_finite(part) for part in parts):
            return None
    return h.digest()
