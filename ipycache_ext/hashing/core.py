"""Values -> 128-bit xxh3 digests, the same in every process.

Two paths give one digest per value:

* the fast path streams the value through a C pickler in "fast" mode (no memo, so a
  shared object and an equal copy encode alike) straight into xxh3, unless shared
  parts would make that stream huge (:mod:`.sharing`).  Types pickle
  cannot encode deterministically are taken over in ``reducer_override``: arrays,
  frames, functions (by code), user classes (by code), modules (by name), and
  ``hash_funcs`` types, each replaced in the stream by its own digest.  A long list,
  tuple or dict of numbers only is one protocol 5 stream, NaNs by their bits (:mod:`.numbers`).
* the walk path is a Merkle walk in Python.  It is taken when the value holds a set
  (whose pickle order follows ``hash()`` of str, randomised per process), a cycle,
  a float that may be a NaN (pickle keeps a NaN's sign and payload bits, the walk
  hashes every NaN alike), parts shared so often that the stream would be huge
  (each distinct part is hashed once, by its contents), or something pickle
  refuses, and it is the one that can say *where* an unhashable object sits
  (``argument cfg.pool[0]``).

Which path a value takes depends only on the value, so equal values always get
equal digests.  Which types are hashed by a handler of their own is the table in
:mod:`.handlers`; numpy and pandas are imported only when such an object is hashed.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

from ..errors import Subject, UnhashableTypeError, UserHashError
from .atoms import (
    atom_bytes,
    atom_digest,
    flat_digest,
    float_list_digest,
    int_list_digest,
    type_name,
)
from .handlers import (
    Handler,
    dispatch,
    predicates_for,
    register,
    register_lazy_module,
    state_filter,
    unregister,
)
from .labels import LOCATED as _LOCATED
from .labels import Label, Walker
from .labels import placed as _placed
from .labels import placed_user as _placed_user
from .labels import prefix as _prefix
from .numbers import MIN_LEN as _NUMBERS_MIN_LEN
from .numbers import numbers_digest
from .sharing import fits_one_stream
from .stream import Fallback, Sink, StreamPickler, keep_idle, order_free_sets, reuse
from .userfuncs import HashFuncs, UserHashes
from .wire import (
    DICT,
    FROZENSET,
    GLOBAL,
    LIST,
    PART_DIGEST,
    REDUCED,
    REF,
    SET,
    SUBSET,
    TUPLE,
    pack_len,
    pack_q,
)
from .wire import xxh as _xxh
from .wire import xxh_digest as _xxh_digest

# Long lists and tuples are pickled this many items at a time, so the pickler's
# output stays in cache on its way to xxh3 (protocol 3 does not stream by itself).
_PICKLE_SLICE = 8192
# The walk tries the fast path first on containers at least this long.
_FAST_CHILD_LEN = 64
# Objects a walk may visit: a ``__reduce__`` that builds a new object every time it is
# called would otherwise be walked until memory runs out.
WALK_BOUND = 250_000
_PLAIN_CONTAINERS = frozenset({list, tuple, dict})
# What is hashed by its code or name, the same every time it is met in one value.
_CODE_TYPES = (type, types.FunctionType, types.BuiltinFunctionType)


class _Digest:
    """Stand-in written into the pickle stream in place of a specially hashed object.

    It is entry 0 of the pickler's memo (:class:`.stream.StreamPickler`), so the stream
    writes it as ``BINGET 0``, never by its name.
    """


_SET_MET = object()  # the first pickling met a set


class _NeedsWalk(Exception):
    """Raised inside the pickler: an object whose state must be filtered (the walk does)."""


def _ref_tag(depth: int) -> bytes:
    return REF + pack_q(depth)


class Hasher:
    """Hashes values for one memoized function or cell: its ``hash_funcs`` and ``subject``."""

    def __init__(self, hash_funcs: HashFuncs | None = None, subject: Subject | None = None) -> None:
        # Who the values belong to: errors are worded for it (a function, a cell).
        self.subject = subject or Subject()
        self._user = UserHashes(hash_funcs)
        self.has_hash_funcs = self._user.any
        self._walk_only = self._user.covers_atoms
        # At most one pickler kept between two hashes (see :meth:`_stream`).
        self._idle: list[StreamPickler] = []

    # ----- public --------------------------------------------------------------------

    def digest(self, value: Any, where: str = "a value", param: str | None = None) -> bytes:
        """The 16-byte digest of ``value``; ``where``/``param`` label errors."""
        if not self.has_hash_funcs:
            found = atom_digest(value)
            if found is not None:
                return found
        outermost = self.has_hash_funcs and self._user.start()
        try:
            return self.digest_nested(value)
        except UnhashableTypeError as err:
            raise _placed(err, self.subject, where, param) from None
        except UserHashError as err:
            raise _placed_user(err, self.subject, where) from None
        finally:
            if outermost:
                self._user.stop()

    def part(self, value: Any, where: str = "a value", param: str | None = None) -> bytes:
        """A compact encoding for a key component: short scalars as-is, else the digest."""
        if not self.has_hash_funcs and (type(value) not in (str, bytes) or len(value) <= 64):
            atom = atom_bytes(value)
            if atom is not None and len(atom) <= 64:
                return atom
        return PART_DIGEST + self.digest(value, where, param)

    # ----- dispatch --------------------------------------------------------------------

    def digest_nested(self, value: Any) -> bytes:
        """The digest of a value found inside another, for handlers.

        Errors keep the place relative to the outer value, which :meth:`digest` adds
        to, so a handler must let them propagate.  An exact ``str``, ``int``, ... is
        looked up first: the table never claims one, but tried every rule (2.4 µs).
        """
        found = None if self.has_hash_funcs else atom_digest(value)
        if found is None:
            found = self._special(value)
        if found is None and self.has_hash_funcs:  # else it was looked up above
            found = atom_digest(value)
        if found is None:
            found = self._fast(value)
        return self._walk(value) if found is None else found

    def claims(self, value: Any) -> bool:
        """True if a ``hash_funcs`` entry hashes ``value``: it is asked before any
        refusal (an iterator argument with ``hash_funcs={types.GeneratorType: id}``)."""
        return self.has_hash_funcs and self._user.entry(type(value)) is not None

    def _special(self, value: Any) -> bytes | None:
        """Digest of the types that are not hashed by their pickle state, else None."""
        if self.has_hash_funcs:
            found = self._user.digest(value, DEFAULT.digest_nested)
            if found is not None:
                return found
        if type(value) in _PLAIN_CONTAINERS:
            return None
        return dispatch(value, self)

    # ----- fast path -------------------------------------------------------------------

    def _fast_special(self, value: Any) -> bytes | None:
        """:meth:`_special` for the pickler, which cannot filter an object's state: an
        object with a state filter sends the value to the walk path."""
        found = self._special(value)
        if found is None and state_filter(type(value)) is not None:
            raise _NeedsWalk
        return found

    def _fast(self, value: Any) -> bytes | None:
        """The fast-path digest of a non-atom, or None when it must be walked."""
        if self._walk_only:
            return None
        if type(value) in _PLAIN_CONTAINERS:
            found = None
            if len(value) >= _NUMBERS_MIN_LEN:
                found = numbers_digest(value)
            elif type(value) is list and value and type(value[0]) is int:
                found = int_list_digest(value)  # short ones keep the digests they had
            if found is not None:
                return found
            if not fits_one_stream(value):
                return None  # shared parts would be written once per occurrence: walk
        found = self._stream(value, None)
        if found is _SET_MET:  # again, with sets in objects' states hashed order-free
            found = self._stream(value, order_free_sets(self.digest_nested, _Digest))
        return None if found is _SET_MET else found

    def _stream(self, value: Any, set_digest: Callable[[Any], Any] | None) -> Any:
        """The fast-path digest, None when it must be walked, or ``_SET_MET``."""
        h = _xxh()
        pickler = reuse(self._idle, h.update) if set_digest is None else None
        if pickler is None:
            pickler = StreamPickler(
                Sink(h), self._fast_special, _Digest, self._asks, _CODE_TYPES, set_digest
            )
        try:
            if type(value) in (list, tuple) and len(value) > _PICKLE_SLICE:
                for start in range(0, len(value), _PICKLE_SLICE):
                    pickler.dump(value[start : start + _PICKLE_SLICE])
            else:
                pickler.dump(value)
        except UserHashError:
            raise
        except Fallback:
            return _SET_MET
        except Exception:
            return None  # a cycle, or something pickle refuses
        nan_like = pickler.sink.nan_like
        if set_digest is None:
            keep_idle(self._idle, pickler)
        if not nan_like:
            return h.digest()
        if type(value) is list and value and type(value[0]) is float:
            return float_list_digest(value)
        return None

    def _asks(self, tp: type) -> tuple[Callable[[Any], bool], ...] | None:
        """For :class:`.stream.StreamPickler`: None when a ``hash_funcs`` entry or a
        handler may claim instances of ``tp``, else the predicates to ask of each."""
        if state_filter(tp) is not None:
            return None  # its state must be filtered: _fast_special sends it to the walk
        if self.has_hash_funcs and self._user.entry(tp) is not None:
            return None
        return predicates_for(tp)

    # ----- walk path -------------------------------------------------------------------

    def _walk(self, root: Any) -> bytes:
        """Merkle digest of ``root``, driven by a loop rather than by recursion.

        Each container being walked is a generator that yields ``(label, child)`` and
        is sent the child's digest back, so a long linked structure needs no deep
        Python stack.  ``path`` maps the ids of those containers to their depth: a child
        found on it closes a cycle and is hashed as its distance up the path.
        """
        done: dict[int, tuple[Any, bytes]] = {}
        path = {id(root): 0}
        stack: list[tuple[Walker, Any, Label]] = [(self._walk_container(root), root, "")]
        reply: Any = None
        while True:
            walker, container, _ = stack[-1]
            try:
                label, item = walker.send(reply)
            except StopIteration as stop:
                stack.pop()
                del path[id(container)]
                done[id(container)] = (container, stop.value)  # keeps temporaries alive
                if not stack:
                    return stop.value
                reply = stop.value
                continue
            except _LOCATED as err:
                _prefix(err, [entry[2] for entry in stack])
                raise
            try:
                reply = self._walk_leaf(item, path, done)
            except _LOCATED as err:
                _prefix(err, [entry[2] for entry in stack] + [label])
                raise
            if reply is None:
                if len(done) + len(stack) >= WALK_BOUND:
                    tp = type(root)
                    raise UnhashableTypeError(
                        type_name=f"{tp.__module__}.{tp.__qualname__}", endless=WALK_BOUND
                    )
                path[id(item)] = len(stack)
                stack.append((self._walk_container(item), item, label))

    def _walk_leaf(
        self, value: Any, path: dict[int, int], done: dict[int, tuple[Any, bytes]]
    ) -> Any:
        """The digest of ``value`` when it needs no walk of its own, else None."""
        if not self.has_hash_funcs:
            found = atom_digest(value)
            if found is not None:
                return found
        key = id(value)
        if key in done:
            return done[key][1]
        depth = path.get(key)
        if depth is not None:
            return _xxh_digest(_ref_tag(len(path) - depth))
        found = self._special(value)
        if found is None and self.has_hash_funcs:
            found = atom_digest(value)
        if found is None and type(value) in _PLAIN_CONTAINERS:
            if len(value) >= _FAST_CHILD_LEN:
                found = self._fast(value)
            elif not self.has_hash_funcs:
                found = flat_digest(value)
        if found is not None:
            done[key] = (value, found)  # a class met once per instance is hashed once
        return found

    def _walk_container(self, value: Any) -> Walker:
        """Yield ``(label, child)`` for each part of ``value``; return its digest."""
        tp = type(value)
        h = _xxh()
        # Atoms are hashed in place (no round trip through the driver) unless a
        # hash_funcs entry may claim them.
        atom = (lambda item: None) if self.has_hash_funcs else atom_digest
        if tp is list or tp is tuple:
            h.update((LIST if tp is list else TUPLE) + pack_len(len(value)))
            for i, item in enumerate(value):
                h.update(atom(item) or (yield ("[]", i), item))
        elif tp is dict:
            h.update(DICT + pack_len(len(value)))
            for k, v in value.items():
                h.update(atom(k) or (yield ("key", k), k))
                h.update(atom(v) or (yield ("[k]", k), v))
        elif isinstance(value, (set, frozenset)):
            # By sorted digest: iteration order follows the per-process hash() of str.
            exact = tp is set or tp is frozenset
            if exact:
                h.update(SET if tp is set else FROZENSET)
            else:
                h.update(REDUCED + type_name(tp).encode() + SUBSET)
            digests = []
            for item in value:
                digests.append((yield "{...}", item))
            for d in sorted(digests):
                h.update(d)
            if not exact:
                h.update((yield "", getattr(value, "__dict__", None)))
        else:
            # What __reduce_ex__ says reconstructs it, as pickle would.
            try:
                reduced = value.__reduce_ex__(4)
            except Exception:
                tp_name = f"{tp.__module__}.{tp.__qualname__}"
                raise UnhashableTypeError(type_name=tp_name) from None
            h.update(REDUCED + type_name(tp).encode() + b"\0")
            if isinstance(reduced, str):
                h.update(GLOBAL + reduced.encode())
                return h.digest()
            parts = list(reduced) + [None] * (6 - len(reduced))
            func, args, state, list_items, dict_items = parts[:5]
            if isinstance(state, dict):
                keep = state_filter(tp)
                if keep is not None:
                    state = keep(value, state)
            h.update((yield "", func))
            h.update((yield "", args))
            if isinstance(state, dict):
                for k, v in state.items():
                    h.update((yield (".", k), k))
                    h.update((yield (".", k), v))
            elif state is not None:
                h.update((yield "", state))
            if list_items is not None:
                h.update((yield "", list(list_items)))
            if dict_items is not None:
                h.update((yield "", list(dict_items)))
        return h.digest()


def digest(value: Any, hash_funcs: HashFuncs | None = None) -> bytes:
    """The 16-byte digest of ``value``; the plain-Python entry point."""
    hasher = Hasher(hash_funcs) if hash_funcs else DEFAULT
    return hasher.digest(value)


__all__ = [
    "DEFAULT",
    "Handler",
    "Hasher",
    "digest",
    "hexdigest",
    "register",
    "register_lazy_module",
    "unregister",
]


def hexdigest(value: Any, hash_funcs: HashFuncs | None = None) -> str:
    return digest(value, hash_funcs).hex()


DEFAULT = Hasher()
