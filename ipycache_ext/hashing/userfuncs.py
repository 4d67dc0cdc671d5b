"""``hash_funcs``: the user's own hash functions, found by a value's type (or a base
class of it, by the type or by its ``"module.QualName"``).

An entry runs once per value within one digest (the fast path may start over when it
meets a set or a NaN, and the walk may follow it), and what it returns is hashed by the
default rules: never by the entries again, or ``{int: lambda x: x}`` would feed its
result back to itself forever.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from .. import messages
from ..errors import MemoOptionError, UserHashError
from .atoms import type_name
from .wire import USER
from .wire import xxh_digest as _xxh_digest

HashFuncs = Mapping[Any, Callable[[Any], Any]]
Entry = tuple[str, Callable[[Any], Any]]  # its label (the name it was given), the function

# Types pickle encodes without consulting reducer_override (object: matches them all).
_ATOM_TYPES = (int, float, bool, str, bytes, complex, type(None), object)


class UserHashes:
    """The ``hash_funcs`` of one memoized function, looked up by type."""

    def __init__(self, hash_funcs: HashFuncs | None) -> None:
        self._by_type: dict[type, Entry] = {}
        self._by_name: dict[str, Entry] = {}
        for key, fn in (hash_funcs or {}).items():
            if isinstance(key, type):
                self._by_type[key] = (type_name(key), fn)
            elif isinstance(key, str):
                self._by_name[key] = (key, fn)
            else:
                raise MemoOptionError(
                    messages.bad_option_error("hash_funcs", key, "a type or 'module.QualName'")
                )
        self.any = bool(self._by_type or self._by_name)
        # Pickle writes atoms itself, out of reach of hash_funcs; when an entry could
        # apply to one, every value takes the walk path so the entry always counts.
        self.covers_atoms = any(t in self._by_type for t in _ATOM_TYPES) or any(
            type_name(t) in self._by_name or f"builtins.{t.__qualname__}" in self._by_name
            for t in _ATOM_TYPES
        )
        # The digests entries gave during one digest, by the id of the value they were
        # given (the value kept alive beside it), per thread.
        self._ran = threading.local()

    def entry(self, tp: type) -> Entry | None:
        """The entry for instances of ``tp`` (or of a base class), else None."""
        for klass in tp.__mro__:
            hit = self._by_type.get(klass)
            if hit is None and self._by_name:
                hit = self._by_name.get(f"{klass.__module__}.{klass.__qualname__}")
            if hit is not None:
                return hit
        return None

    def start(self) -> bool:
        """A digest begins: True if it is the outermost (it then calls :meth:`stop`)."""
        if getattr(self._ran, "found", None) is not None:
            return False
        self._ran.found = {}
        return True

    def stop(self) -> None:
        self._ran.found = None

    def digest(self, value: Any, default_digest: Callable[[Any], bytes]) -> bytes | None:
        """The digest the entry for ``value``'s type gives it (its result hashed by
        ``default_digest``), else None."""
        hit = self.entry(type(value))
        if hit is None:
            return None
        ran: dict[int, tuple[Any, bytes]] | None = getattr(self._ran, "found", None)
        if ran is not None and id(value) in ran:
            return ran[id(value)][1]
        label, fn = hit
        try:
            replacement = fn(value)
        except Exception as exc:
            raise UserHashError(label, type_name(type(value)), cause=exc) from exc
        found = _xxh_digest(USER + label.encode() + default_digest(replacement))
        if ran is not None:
            ran[id(value)] = (value, found)
        return found
