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
  A few items spread over the value are looked at first, so a list of strs gives up
  before pickling; anything else is caught by the memo after the pass.
* a NaN is hashed by its bits, sign and payload included, as in an array (see
  :mod:`.arrays`): ``math.copysign`` and ``numpy.signbit`` tell ``nan`` from ``-nan``,
  so keeping them apart can only cost a miss, never hand back a result computed from
  the other one.  Finding NaNs to make them alike would cost a second pass over the
  items (``sum``), a third of the pickling again.

The stream begins with protocol 5's header, which no other digest input does.

Where the package was built with a C compiler, ``_numbers`` (csrc/numbers.c) writes the
same bytes with an exact type check and a few bytes per item, without the pickler's
per-item dispatch and memo: about 2.5x faster for ints.  It declines what it does not
write itself (an int past 64 bits, a subclass, a str), and the pickler takes over.  The
digest is the stream either way, so machines with and without it share keys.
"""

from __future__ import annotations

import pickle
from itertools import islice
from typing import Any

from .wire import xxh

try:
    from . import _numbers
except ImportError:  # built without a C compiler: the pickler writes the stream
    _numbers = None  # type: ignore[assignment]  # mypy types the name as the module

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
    """A file whose ``write`` is xxh3's own ``update``: the frames go in with no Python
    frame between (one per 64 KiB frame cost a 1e6-float list 1 % over pickle)."""

    __slots__ = ("write",)

    def __init__(self, update: Any) -> None:
        self.write = update


# Items looked at before pickling (besides the first): a container whose strs or
# nested parts show up there gives up at once, not after a whole pass.
_SAMPLES = 8


def _sampled(value: Any) -> Any:
    """A few of ``value``'s items (keys and values of a dict), spread over it."""
    if type(value) is dict:
        return [*islice(value, _SAMPLES), *islice(value.values(), _SAMPLES)]
    return value[:: max(1, len(value) // _SAMPLES)]


def numbers_digest(value: Any) -> bytes | None:
    """The digest of ``value``, an exact list, tuple or dict of at least
    :data:`MIN_LEN` items, when every item (every key and value) is an exact int,
    float, bool or None; else None, for the other paths to hash it.

    A value that holds something else only where no sample looked is found out by
    pickle's memo after the pass: one wasted pass, for a rare mix."""
    if not all(type(item) in NUMBERS for item in _sampled(value)):
        return None
    if _numbers is not None:
        h = xxh()
        if _numbers.stream(value, h.update):
            return h.digest()
    h = xxh()
    pickler = _Pickler(_Sink(h.update), protocol=5)
    try:
        pickler.dump(value)
    except (_GiveUp, RecursionError):
        return None
    if len(pickler.memo.copy()) > 1:
        return None
    return h.digest()
