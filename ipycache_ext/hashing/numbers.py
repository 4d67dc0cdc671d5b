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
* a NaN is hashed by its bits, sign and payload included, as in an array (see
  :mod:`.arrays`): ``math.copysign`` and ``numpy.signbit`` tell ``nan`` from ``-nan``,
  so keeping them apart can only cost a miss, never hand back a result computed from
  the other one.  Finding NaNs to make them alike would cost a second pass over the
  items (``sum``), a third of the pickling again.

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


class _GiveUp(Exception):
    """Raised inside the pickler: the value is not a container of numbers only."""


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        raise _GiveUp


class _Sink:
    """Frames go straight into xxh3; each one first checked for a memoized item."""

    __slots__ = ("update", "pickler")

    def __init__(self, update: Any) -> None:
        self.update = update
        self.pickler: pickle.Pickler | None = None

    def write(self, data: Any) -> None:
        if self.pickler is not None and len(self.pickler.memo.copy()) > 1:
            raise _GiveUp
        self.update(data)


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
    return h.digest()
