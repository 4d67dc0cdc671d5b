"""The fast path's plumbing: a pickler streaming into xxh3, watched for NaN floats.

What it hands to the hasher and what it writes in place of a specially hashed object
are given to it (:mod:`.core` owns both), so this module knows nothing of the Hasher.
"""

from __future__ import annotations

import copyreg
import pickle
import re
from collections.abc import Callable
from operator import countOf
from typing import Any

# Protocol 3 on purpose: from protocol 4 on, exact sets are written by the pickler
# itself in iteration order (which follows the per-process ``hash()`` of str) without
# consulting ``reducer_override``; up to 3 they are reduced to ``set(list)``, and the
# reference to ``set`` is what sends them to the walk path.
PICKLE_PROTOCOL = 3
# A BINFLOAT opcode whose exponent bits are all set: a NaN (or an infinity).  It may
# also match other bytes, which only costs a walk.
_NAN_LIKE = re.compile(rb"G[\x7f\xff][\xf0-\xff]")


# Classes and functions put in the pickler's memo per pickling (see StreamPickler).
_MEMO_KEPT = 256


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
        # No ``G`` in these bytes nor at the end of the last ones: no NaN can start
        # here (one memchr, where the searches cost a small value's whole pickling).
        if self.nan_like or (not self.tail and b"G" not in data):
            return
        seam = self.tail + bytes(data[:2])
        self.nan_like = bool(_NAN_LIKE.search(data) or _NAN_LIKE.search(seam))
        end = bytes(data[-2:])
        self.tail = end if b"G" in end else b""


class StreamPickler(pickle.Pickler):
    """Pickler in fast mode (no memo) that hands objects to ``special`` first.

    An object ``special`` gives a digest for is written as ``stand_in(digest)``.

    ``reducer_override`` is not consulted for None, bools and exact int, float, str,
    bytes, list, tuple, dict, set and frozenset (pickle writes those itself), so it
    runs once per other object, not once per element.  A list of 100,000 instances of
    one class meets that class 100,000 times, so two answers are kept for the length of
    one pickling (a class cannot change in the middle of one hash):

    * per type, ``asks(type)``: None when the type's instances may be hashed by a
      handler, else the predicates still to ask of each instance (usually none): an
      instance none of them claims is reduced by pickle as usual;
    * per class or function (``code_types``): pickle's memo (see ``seen``), so its
      code is analysed, and its digest written, once.
    """

    def __init__(
        self,
        file: Sink,
        special: Callable[[Any], bytes | None],
        stand_in: type,
        asks: Callable[[type], tuple[Callable[[Any], bool], ...] | None],
        code_types: tuple[type, ...],
        set_digest: Callable[[Any], Any] | None = None,
    ) -> None:
        super().__init__(file, protocol=PICKLE_PROTOCOL)
        self.sink = file
        self.fast = True
        self.special = special
        self.stand_in = stand_in
        self.asks = asks
        self.code_types = code_types
        self.set_digest = set_digest
        self.by_type: dict[type, tuple[Callable[[Any], bool], ...] | None] = {}
        # Classes and functions met before: pickle's memo, read even in fast mode, so
        # their later occurrences are a two-byte BINGET without a call into Python.
        # The stand-in is entry 0; each other one takes the next index when first met
        # (written in full that time), so the stream stays a function of the value.
        # Nothing else is ever memoized (fast mode), so sharing still never counts.
        # Past _MEMO_KEPT of them (setting the memo copies it), the rest are written in
        # full each time, from ``reductions``.
        self.seen: dict[int, tuple[int, Any]] = {id(stand_in): (0, stand_in)}
        self.memo = self.seen
        self.reductions: dict[int, tuple[Any, Any]] = {}

    def restart(self, update: Callable[[Any], Any]) -> None:
        """Ready for the next value, its bytes going to ``update``: as a new pickler
        would be (making one costs more than hashing a short list), with what it
        learnt of types and classes forgotten (they may change between two hashes).
        Only a pickler whose last value was pickled without an error is restarted."""
        sink = self.sink
        sink.update, sink.tail, sink.nan_like = update, b"", False
        # Only what the last value changed (setting the memo copies it).
        if self.by_type:
            self.by_type.clear()
        if self.reductions:
            self.reductions.clear()
        if len(self.seen) > 1:
            self.seen = {id(self.stand_in): (0, self.stand_in)}
            self.memo = self.seen

    def reducer_override(self, obj: Any) -> Any:
        tp = type(obj)
        try:
            predicates = self.by_type[tp]
        except KeyError:
            predicates = self.by_type[tp] = self._asks(tp)
        if predicates is None:
            return self._reduce(obj)
        for predicate in predicates:
            if predicate(obj):
                return self._reduce(obj)
        if self.set_digest is None or tp in copyreg.dispatch_table:
            return NotImplemented
        # The second try of a value whose first pickling met a set: ``obj`` reduced as
        # pickle would, each set or frozenset in its state (pydantic's fields set)
        # written as its order-free digest, so instances carrying one need no walk.
        # Inline: this runs once per instance.
        reduced = obj.__reduce_ex__(PICKLE_PROTOCOL)
        if type(reduced) is not tuple or len(reduced) < 3:
            return reduced
        state = reduced[2]
        if type(state) is dict:
            new = None
            for key, item in state.items():
                if type(item) is set or type(item) is frozenset:
                    if new is None:
                        new = dict(state)
                    new[key] = self.set_digest(item)
            if new is None:
                return reduced
            if len(reduced) == 5:  # what object.__reduce_ex__ gives
                return (reduced[0], reduced[1], new, reduced[3], reduced[4])
            return (*reduced[:2], new, *reduced[3:])
        if type(state) is tuple and len(state) == 2:  # (__dict__, slots)
            pair = (self._state_without_sets(state[0]), self._state_without_sets(state[1]))
            if pair[0] is not state[0] or pair[1] is not state[1]:
                return (*reduced[:2], pair, *reduced[3:])
        return reduced

    def _asks(self, tp: type) -> tuple[Callable[[Any], bool], ...] | None:
        # Sets are written in iteration order (the per-process hash() of str): walked.
        if issubclass(tp, (set, frozenset)):
            return None
        return self.asks(tp)

    def _state_without_sets(self, state: Any) -> Any:
        """``state`` with each set or frozenset value as ``stand_in(its digest)``."""
        if type(state) is not dict:
            return state
        found = None
        for key, item in state.items():
            if type(item) is set or type(item) is frozenset:
                if found is None:
                    found = dict(state)
                found[key] = self.set_digest(item)  # type: ignore[misc]
        return state if found is None else found

    def _reduce(self, obj: Any) -> Any:
        # Exact sets arrive here as a reference to ``set``/``frozenset``; subclasses
        # as themselves, reduced (by default) to a list in iteration order.
        if obj is set or obj is frozenset or isinstance(obj, (set, frozenset)):
            raise Fallback
        if not isinstance(obj, self.code_types):
            special = self.special(obj)
            return NotImplemented if special is None else (self.stand_in, (special,))
        known = self.reductions.get(id(obj))
        if known is not None:
            return known[1]
        special = self.special(obj)
        found = NotImplemented if special is None else (self.stand_in, (special,))
        self.reductions[id(obj)] = (obj, found)  # obj kept alive: its id stays its own
        if len(self.seen) < _MEMO_KEPT:
            self.seen[id(obj)] = (len(self.seen), obj)
            self.memo = self.seen  # the setter copies: one copy per distinct class
        return found


def _no_update(data: Any, /) -> None:
    """Where an idle pickler's sink points: it writes nothing while idle."""


def reuse(idle: list[StreamPickler], update: Callable[[Any], Any]) -> StreamPickler | None:
    """A hasher's idle pickler, restarted for a new value's bytes; None when none is
    idle (a nested hash, or another thread's, has it).  Making a pickler costs more
    than hashing a short list."""
    try:
        pickler = idle.pop()
    except IndexError:
        return None
    pickler.restart(update)
    return pickler


def keep_idle(idle: list[StreamPickler], pickler: StreamPickler) -> None:
    """Keep ``pickler`` (its last value pickled without an error) as the hasher's idle
    one, unless it has one: at most one is kept, holding nothing of that value."""
    if not idle:
        pickler.restart(_no_update)
        idle.append(pickler)


def order_free_sets(nested: Callable[[Any], bytes], stand_in: type) -> Callable[[Any], Any]:
    """The ``set_digest`` of :class:`StreamPickler`: a set or frozenset as
    ``stand_in(digest)``, the digest being ``nested`` (the walk's order-free digest of a
    set).  Remembered for sets of str during one hash (a model's set of field names is
    the same for most instances); equal sets of other types are not merged:
    ``{1} == {True}``."""
    known: dict[tuple[type, frozenset[str]], Any] = {}

    def set_digest(value: Any) -> Any:
        if countOf(map(type, value), str) != len(value):
            return (stand_in, (nested(value),))
        key = (type(value), frozenset(value))  # a set and a frozenset differ
        found = known.get(key)
        if found is None:
            found = known[key] = (stand_in, (nested(value),))
        return found

    return set_digest
