"""The fast path's plumbing: a pickler streaming into xxh3, watched for NaN floats.

What it hands to the hasher and what it writes in place of a specially hashed object
are given to it (:mod:`.core` owns both), so this module knows nothing of the Hasher.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Callable
from typing import Any

# Protocol 3 on purpose: from protocol 4 on, exact sets are written by the pickler
# itself in iteration order (which follows the per-process ``hash()`` of str) without
# consulting ``reducer_override``; up to 3 they are reduced to ``set(list)``, and the
# reference to ``set`` is what sends them to the walk path.
PICKLE_PROTOCOL = 3
# A BINFLOAT opcode whose exponent bits are all set: a NaN (or an infinity).  It may
# also match other bytes, which only costs a walk.
_NAN_LIKE = re.compile(rb"G[\x7f\xff][\xf0-\xff]")


class Fallback(Exception):
    """Raised inside the pickler when the value needs the walk path."""


class Sink:
    """A write-only file: bytes go straight into an xxh3 state, watched for NaN floats."""

    __slots__ = ("update", "tail", "nan_like")

    def __init__(self, h: Any) -> None:
        self.update = h.update
        self.tail = b""
        self.nan_like = False

    def write(self, data: bytes) -> None:
        self.update(data)
        if not self.nan_like:
            seam = self.tail + bytes(data[:2])
            self.nan_like = bool(_NAN_LIKE.search(data) or _NAN_LIKE.search(seam))
            self.tail = bytes(data[-2:])


class StreamPickler(pickle.Pickler):
    """Pickler in fast mode (no memo) that hands objects to ``special`` first.

    An object ``special`` gives a digest for is written as ``stand_in(digest)``.

    ``reducer_override`` is not consulted for None, bools and exact int, float, str,
    bytes, list, tuple, dict, set and frozenset (pickle writes those itself), so it
    runs once per other object, not once per element.
    """

    def __init__(self, file: Any, special: Callable[[Any], bytes | None], stand_in: type) -> None:
        super().__init__(file, protocol=PICKLE_PROTOCOL)
        self.fast = True
        self.special = special
        self.stand_in = stand_in

    def reducer_override(self, obj: Any) -> Any:
        # Exact sets arrive here as a reference to ``set``/``frozenset``; subclasses
        # as themselves, reduced (by default) to a list in iteration order.
        if obj is set or obj is frozenset or isinstance(obj, (set, frozenset)):
            raise Fallback
        if obj is self.stand_in:
            return NotImplemented
        special = self.special(obj)
        if special is None:
            return NotImplemented
        return self.stand_in, (special,)
