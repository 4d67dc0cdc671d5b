"""Values -> 128-bit xxh3 digests, the same in every process.

Two paths give one digest per value:

* the fast path streams the value through a C pickler in "fast" mode (no memo, so a
  shared object and an equal copy encode alike) straight into xxh3.  Types pickle
  cannot encode deterministically are taken over in ``reducer_override``: arrays,
  frames, functions (by code), user classes (by code), modules (by name), and
  ``hash_funcs`` types, each replaced in the stream by its own digest.
* the walk path is a Merkle walk in Python.  It is taken when the value holds a set
  (whose pickle order follows ``hash()`` of str, randomised per process), a cycle,
  or something pickle refuses, and it is the one that can say *where* an unhashable
  object sits (``argument cfg.pool[0]``).

Which path a value takes depends only on its structure, so equal values always get
equal digests.  numpy and pandas are imported only when such an object is hashed.
"""

from __future__ import annotations

import math
import pickle
import struct
import types
from collections.abc import Callable, Mapping
from typing import Any

import xxhash

from . import messages
from .errors import UnhashableTypeError, UserHashError

HashFuncs = Mapping[Any, Callable[[Any], Any]]

_xxh = xxhash.xxh3_128
_xxh_digest = xxhash.xxh3_128_digest
_pack_q = struct.Struct("<q").pack
_pack_d = struct.Struct("<d").pack
_pack_len = struct.Struct("<Q").pack


def type_name(tp: type) -> str:
    """The name a user would write for ``tp`` (``module.QualName``, builtins bare)."""
    module = getattr(tp, "__module__", None)
    if module in (None, "builtins", "__main__"):
        return tp.__qualname__
    return f"{module}.{tp.__qualname__}"


def atom_bytes(value: Any) -> bytes | None:
    """A short tagged encoding of a scalar, or None when ``value`` is not one."""
    t = type(value)
    if t is int:
        if -(1 << 63) <= value < (1 << 63):
            return b"i" + _pack_q(value)
        return b"I" + value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
    if t is str:
        return b"s" + value.encode("utf-8", "surrogatepass")
    if t is float:
        return b"fnan" if value != value else b"f" + _pack_d(value)
    if t is bool:
        return b"T" if value else b"F"
    if value is None:
        return b"N"
    if t is bytes:
        return b"b" + value
    if t is complex:
        return b"c" + _canon_float(value.real) + _canon_float(value.imag)
    return None


def _canon_float(x: float) -> bytes:
    return b"nan" if math.isnan(x) else _pack_d(x)


class _Fallback(Exception):
    """Raised inside the pickler when the value needs the walk path."""


class _Digest:
    """Stand-in written into the pickle stream in place of a specially hashed object."""


def _ref_tag(depth: int) -> bytes:
    return b"@" + _pack_q(depth)


class Hasher:
    """Hashes values for one memoized function: its ``hash_funcs`` and its error labels."""

    def __init__(
        self, hash_funcs: HashFuncs | None = None, owner: str = "", for_cell: bool = False
    ) -> None:
        self.owner = owner
        self.for_cell = for_cell
        self._by_type: dict[type, tuple[str, Callable[[Any], Any]]] = {}
        self._by_name: dict[str, tuple[str, Callable[[Any], Any]]] = {}
        for key, fn in (hash_funcs or {}).items():
            if isinstance(key, type):
                self._by_type[key] = (type_name(key), fn)
            elif isinstance(key, str):
                self._by_name[key] = (key, fn)
            else:
                raise TypeError(
                    messages.bad_option_error("hash_funcs", key, "a type or 'module.QualName'")
                )
        self.has_hash_funcs = bool(self._by_type or self._by_name)

    # ----- public --------------------------------------------------------------------

    def digest(self, value: Any, where: str = "a value", param: str | None = None) -> bytes:
        """The 16-byte digest of ``value``; ``where``/``param`` label errors."""
        atom = atom_bytes(value)
        if atom is not None and not self.has_hash_funcs:
            return _xxh_digest(atom)
        try:
            return self._digest(value)
        except UnhashableTypeError as err:
            raise self._located(err, where, param) from None
        except UserHashError as err:
            raise self._located_user(err, where) from None

    def part(self, value: Any, where: str = "a value", param: str | None = None) -> bytes:
        """A compact encoding for a key component: short scalars as-is, else the digest."""
        if not self.has_hash_funcs:
            atom = atom_bytes(value)
            if atom is not None and len(atom) <= 64:
                return atom
        return b"#" + self.digest(value, where, param)

    # ----- error labelling -------------------------------------------------------------

    def _located(self, err: UnhashableTypeError, where: str, param: str | None) -> Exception:
        place = where + err.where
        if self.for_cell:
            text = messages.unhashable_in_cell_error(err.type_name, place, param)
        else:
            text = messages.unhashable_error(err.type_name, place, self.owner or "the call", param)
        return UnhashableTypeError(text, err.type_name, place)

    def _located_user(self, err: UserHashError, where: str) -> Exception:
        exc = err.__cause__ or err
        place = where + getattr(err, "where", "")
        text = messages.user_hash_error(
            err.entry, getattr(err, "type_name", "?"), place, self.owner or "the call", exc
        )
        new = UserHashError(text, err.entry)
        new.__cause__ = exc
        return new

    # ----- dispatch --------------------------------------------------------------------

    def _digest(self, value: Any) -> bytes:
        special = self._special(value)
        if special is not None:
            return special
        try:
            return self._pickled(value)
        except UserHashError:
            raise
        except (_Fallback, Exception):
            return self._walk(value, [], {})

    def _user_hash(self, value: Any) -> bytes | None:
        tp = type(value)
        for klass in tp.__mro__:
            hit = self._by_type.get(klass)
            if hit is None and self._by_name:
                hit = self._by_name.get(f"{klass.__module__}.{klass.__qualname__}")
            if hit is not None:
                label, fn = hit
                try:
                    replacement = fn(value)
                except Exception as exc:
                    err = UserHashError(label, label)
                    err.type_name = type_name(tp)  # type: ignore[attr-defined]
                    err.where = ""  # type: ignore[attr-defined]
                    raise err from exc
                return _xxh_digest(b"user:" + label.encode() + self._digest(replacement))
        return None

    def _special(self, value: Any) -> bytes | None:
        """Digest of the types that are not hashed by their pickle state, else None."""
        if self.has_hash_funcs:
            found = self._user_hash(value)
            if found is not None:
                return found
        tp = type(value)
        module = tp.__module__
        if module.startswith("numpy"):
            from . import hash_numpy

            return hash_numpy.digest_numpy(self, value)
        if module.startswith("pandas"):
            from . import hash_pandas

            return hash_pandas.digest_pandas(self, value)
        if isinstance(value, (types.FunctionType, types.ModuleType, type)) or hasattr(
            value, "__memo_wrapped__"
        ):
            from . import codedeps

            return codedeps.digest_of_code_object(self, value)
        if tp is memoryview:
            return _xxh_digest(
                b"mv" + value.format.encode() + repr(value.shape).encode() + value.tobytes()
            )
        return None

    # ----- fast path -------------------------------------------------------------------

    def _pickled(self, value: Any) -> bytes:
        h = _xxh()
        pickler = _StreamPickler(_Sink(h), self)
        pickler.dump(value)
        return h.digest()

    # ----- walk path -------------------------------------------------------------------

    def _walk(self, value: Any, stack: list[int], done: dict[int, tuple[Any, bytes]]) -> bytes:
        atom = atom_bytes(value)
        if atom is not None and not self.has_hash_funcs:
            return _xxh_digest(atom)
        key = id(value)
        if key in done:
            return done[key][1]
        if key in stack:
            return _xxh_digest(_ref_tag(len(stack) - stack.index(key)))
        special = self._special(value)
        if special is not None:
            return special
        stack.append(key)
        try:
            result = self._walk_container(value, stack, done)
        finally:
            stack.pop()
        done[key] = (value, result)  # keeps temporaries alive so their id is not reused
        return result

    def _walk_container(
        self, value: Any, stack: list[int], done: dict[int, tuple[Any, bytes]]
    ) -> bytes:
        tp = type(value)
        h = _xxh()

        def child(label: str, item: Any) -> bytes:
            try:
                return self._walk(item, stack, done)
            except (UnhashableTypeError, UserHashError) as err:
                err.where = label + getattr(err, "where", "")  # type: ignore[union-attr]
                raise

        if tp in (list, tuple):
            h.update(b"L" if tp is list else b"U")
            h.update(_pack_len(len(value)))
            for i, item in enumerate(value):
                h.update(child(f"[{i}]", item))
        elif tp is dict:
            h.update(b"D" + _pack_len(len(value)))
            for k, v in value.items():
                h.update(child(f"[{messages.short_repr(k)}] (key)", k))
                h.update(child(f"[{messages.short_repr(k)}]", v))
        elif tp in (set, frozenset):
            h.update(b"S" if tp is set else b"Z")
            for d in sorted(child("{...}", item) for item in value):
                h.update(d)
        else:
            self._walk_reduced(value, h, child)
        return h.digest()

    def _walk_reduced(self, value: Any, h: Any, child: Callable[[str, Any], bytes]) -> None:
        """Hash ``value`` by what ``__reduce_ex__`` says reconstructs it, as pickle would."""
        tp = type(value)
        try:
            reduced = value.__reduce_ex__(4)
        except Exception:
            raise UnhashableTypeError("", type_name(tp), "") from None
        h.update(b"R" + type_name(tp).encode() + b"\0")
        if isinstance(reduced, str):
            h.update(b"g" + reduced.encode())
            return
        parts = list(reduced) + [None] * (6 - len(reduced))
        func, args, state, list_items, dict_items = parts[:5]
        h.update(child("", func))
        h.update(child("", args))
        if state is not None:
            if isinstance(state, dict):
                for k, v in state.items():
                    h.update(child(f".{k}", k))
                    h.update(child(f".{k}", v))
            else:
                h.update(child("", state))
        if list_items is not None:
            h.update(child("", list(list_items)))
        if dict_items is not None:
            h.update(child("", list(dict_items)))


class _Sink:
    """A write-only file whose bytes go straight into an xxh3 state."""

    __slots__ = ("write",)

    def __init__(self, h: Any) -> None:
        self.write = h.update


class _StreamPickler(pickle.Pickler):
    """Protocol-3 pickler in fast mode that hands special types to its :class:`Hasher`."""

    def __init__(self, file: Any, hasher: Hasher) -> None:
        super().__init__(file, protocol=3)
        self.fast = True
        self.hasher = hasher

    def reducer_override(self, obj: Any) -> Any:
        if obj is set or obj is frozenset:
            raise _Fallback
        if obj is _Digest:
            return NotImplemented
        special = self.hasher._special(obj)
        if special is None:
            return NotImplemented
        return _Digest, (special,)


def digest(value: Any, hash_funcs: HashFuncs | None = None) -> bytes:
    """The 16-byte digest of ``value``; the plain-Python entry point."""
    hasher = Hasher(hash_funcs) if hash_funcs else DEFAULT
    return hasher.digest(value)


def hexdigest(value: Any, hash_funcs: HashFuncs | None = None) -> str:
    return digest(value, hash_funcs).hex()


DEFAULT = Hasher()
