"""The kernel-wide memory store: entries by reference, LRU per function, ttl, budget.

One store serves every memoized function and cell.  Entries are grouped by the
owner's identity (``module.qualname``, or a cell's label), so a function redefined in
a later notebook cell finds the entries of its earlier definitions: changing a body
and changing it back hits again.

The store keeps entries and nothing about their owners: how entries went is told to
its :class:`.History`, and the layer above (the engine's counters) watches entries
leave through a :class:`Watcher`.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Protocol

from ..parts import PartKind, Snapshot
from .entry import Entry
from .history import History
from .sizes import approx_size, memory_budget

BUDGETED = 64 << 10  # entries of this many bytes and more count against the memory budget


class Watcher(Protocol):
    """What the layer above keeps about entries: told when they leave, asked what code
    their owner has now (entries of earlier code are evicted first)."""

    def left(self, owner: str, entry: Entry, outdated: bool) -> None:
        """``entry`` left the store (``outdated``: evicted for memory, of earlier code)."""

    def cleared(self, owner: str | None) -> None:
        """The entries of ``owner`` (of all: None) were cleared."""

    def code_of(self, owner: str) -> Snapshot | None:
        """The parts of ``owner``'s latest key, or None if it has none yet."""


class _Unwatched:
    """The watcher of a store no one watches (a store made on its own, in a test)."""

    def left(self, owner: str, entry: Entry, outdated: bool) -> None:
        pass

    def cleared(self, owner: str | None) -> None:
        pass

    def code_of(self, owner: str) -> Snapshot | None:
        return None


class MemoryStore:
    """Thread-safe in-memory store keyed by (owner, key digest)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        # Per owner: an OrderedDict, least recently used first, when the owner has a
        # max_entries (a hit moves its entry to the end; evicting the oldest is O(1));
        # else a plain dict in the order stored (~45 bytes less per entry, and a hit
        # has no order to keep: across owners, the memory budget keeps its own).
        self._entries: dict[str, dict[bytes, Entry]] = {}
        self.history = History(self.lock)
        self._watcher: Watcher = _Unwatched()
        # The entries that count against the memory budget, least recently used first
        # across every owner, and their bytes in all and per owner.
        self._big: OrderedDict[tuple[str, bytes], Entry] = OrderedDict()
        self._big_bytes = 0
        self._owner_bytes: dict[str, int] = {}

    def watch(self, watcher: Watcher) -> None:
        """Tell ``watcher`` (the engine's counters) of entries leaving from now on."""
        self._watcher = watcher

    # ----- entries ---------------------------------------------------------------------

    def get(self, owner: str, key: bytes) -> Entry | None:
        """The live entry for ``key`` (most recently used from now on), or None.

        An entry with no expiry, no size and no order to keep is read without the lock
        (two dict reads, each atomic): that is most of what a hit does."""
        entries = self._entries.get(owner)
        entry = entries.get(key) if entries else None
        if entry is None or (
            entry.expires is None and entry.size is None and type(entries) is dict
        ):
            return entry
        with self.lock:
            entries = self._entries.get(owner)
            if not entries:
                return None
            entry = entries.get(key)
            if entry is None:
                return None
            if entry.expires is not None and entry.expired(time.monotonic()):
                del entries[key]
                self._unsize(owner, key, entry)
                self.history.went(owner, key, "expired")
                return None
            if type(entries) is OrderedDict:
                entries.move_to_end(key)
            if entry.size is not None:
                self._big.move_to_end((owner, key))
            return entry

    def peek(self, owner: str, key: bytes) -> tuple[Entry | None, str | None]:
        """The entry for ``key`` without touching it (no LRU move, no hit, an expired
        one left in place), or how its entry went: for a dry run (``f.explain``)."""
        with self.lock:
            entry = self._entries.get(owner, _NO_ENTRIES).get(key)
            if entry is not None and entry.expired(time.monotonic()):
                return None, "expired"
            return entry, None if entry is not None else self.history.peek(owner, key)

    def drop(
        self, owner: str, key: bytes, how: str | None = "cleared", only: Entry | None = None
    ) -> bool:
        """Remove one entry (``f.clear(args)``, a failed ``validate``, a file that
        changed); True if it was there.  ``how`` is remembered for the next miss's note
        (None: the caller explains it); with ``only``, that entry and no other that took
        its place meanwhile."""
        with self.lock:
            entries = self._entries.get(owner)
            if not entries or key not in entries or (only is not None and entries[key] is not only):
                return False
            self._unsize(owner, key, entries.pop(key))
            if how is not None:
                self.history.went(owner, key, how)
            return True

    def put(
        self,
        owner: str,
        key: bytes,
        entry: Entry,
        max_entries: int | None,
        max_size: int | None = None,
    ) -> bool:
        """Keep ``entry``; False when it is bigger than the memory budget (or the
        owner's ``max_size``): the caller returns it without keeping it.  Entries of
        :data:`BUDGETED` bytes and more are measured once, here, and make room for
        themselves: entries of earlier code first, then the least recently used."""
        size = approx_size(entry.value)
        budget = memory_budget() if size >= BUDGETED else None  # small: never bounded
        if size >= BUDGETED:
            if (budget is not None and size > budget) or (max_size is not None and size > max_size):
                return False
            entry.size = size
        lock = self.lock  # acquire/release: ``with`` costs twice as much (every miss puts)
        lock.acquire()
        try:
            entries = self._entries.get(owner)
            if entries is None or (max_entries is not None and type(entries) is dict):
                entries = self._entries[owner] = (
                    OrderedDict(entries or ()) if max_entries is not None else dict(entries or ())
                )
            replaced = entries.get(key)
            entries[key] = entry  # a new key is the most recently used already
            if replaced is not None:
                self._unsize(owner, key, replaced)
                _to_end(entries, key)
            self.history.back(owner, key)
            if max_entries is not None:
                while len(entries) > max_entries:
                    evicted = next(iter(entries))  # an OrderedDict: its first, in O(1)
                    self._unsize(owner, evicted, entries.pop(evicted))
                    self.history.went(owner, evicted, "evicted")
            if entry.size is not None:
                self._big[(owner, key)] = entry
                self._big_bytes += entry.size
                self._owner_bytes[owner] = self._owner_bytes.get(owner, 0) + entry.size
                self._make_room(owner, key, budget, max_size)
            return True
        finally:
            lock.release()

    def _unsize(self, owner: str, key: bytes, entry: Entry, outdated: bool = False) -> None:
        """``entry`` left the store: it no longer counts against the budget, and its
        watcher is told (the owner's counters keep its parts, not its value)."""
        self._watcher.left(owner, entry, outdated)
        if entry.size is not None and self._big.pop((owner, key), None) is not None:
            self._big_bytes -= entry.size
            self._owner_bytes[owner] -= entry.size

    def _make_room(self, owner: str, kept: bytes, budget: int | None, max_size: int | None) -> None:
        """Evict until the owner is within ``max_size`` and everything within
        ``budget``: first entries no current code reaches (made by an earlier body of
        their function: only editing it back would hit them), then the least recently
        used.  The entry just stored stays.

        The entry just stored was made by its owner's current code, so its parts are
        what the owner's other entries are compared with: the owner's last miss is
        recorded only after this (at a function's first redefinition it is still the
        earlier body's)."""
        newest = (owner, self._entries[owner][kept].parts)
        if max_size is not None:
            while self._owner_bytes.get(owner, 0) > max_size:
                if not self._evict_one(self._candidates(owner, newest), kept, newest):
                    break
        if budget is not None:
            while self._big_bytes > budget:
                if not self._evict_one(self._candidates(None, newest), kept, newest):
                    break

    def _candidates(
        self, owner: str | None, newest: tuple[str, Snapshot]
    ) -> list[tuple[str, bytes]]:
        """Big entries (of ``owner``, or of all), earlier code first, then by use;
        ``newest`` is an owner and the parts of its entry just made."""
        found = [k for k in self._big if owner is None or k[0] == owner]
        outdated = [k for k in found if not self._current(k[0], self._big[k], newest)]
        return outdated + [k for k in found if k not in set(outdated)]

    def _current(self, owner: str, entry: Entry, newest: tuple[str, Snapshot]) -> bool:
        """False when ``entry`` was made by code its owner no longer has (its entry
        just made, when ``newest`` names it, else what the watcher says its code is)."""
        last = newest[1] if newest[0] == owner else self._watcher.code_of(owner)
        if last is None:
            return True
        for ident, seen in entry.parts.items():
            if ident.kind == PartKind.CODE.value and ident.reader == "":
                now = last.get(ident)
                if now is not None and now.data != seen.data:
                    return False
        return True

    def _evict_one(
        self, candidates: list[tuple[str, bytes]], kept: bytes, newest: tuple[str, Snapshot]
    ) -> bool:
        for name, key in candidates:
            if (name, key) == (newest[0], kept):
                continue
            entry = self._entries.get(name, _NO_ENTRIES).pop(key, None)
            if entry is None:
                self._big.pop((name, key), None)
                continue
            self._unsize(name, key, entry, not self._current(name, entry, newest))
            self.history.went(name, key, "memory")
            return True
        return False

    def memory_bytes(self, owner: str | None = None) -> int:
        """Bytes counted against the budget, of one owner or of all."""
        with self.lock:
            return self._big_bytes if owner is None else self._owner_bytes.get(owner, 0)

    def count(self, owner: str) -> int:
        with self.lock:
            now = time.monotonic()
            entries = self._entries.get(owner, _NO_ENTRIES)
            return sum(1 for e in entries.values() if not e.expired(now))

    def entries(self, owner: str) -> list[Entry]:
        with self.lock:
            return list(self._entries.get(owner, _NO_ENTRIES).values())

    def clear(self, owner: str | None = None) -> None:
        """Forget the entries of one owner, or of all (and the watcher its counters)."""
        with self.lock:
            owners = list(self._entries) if owner is None else [owner]
            for name in owners:
                for key, entry in self._entries.pop(name, _NO_ENTRIES).items():
                    self._unsize(name, key, entry)
                    self.history.went(name, key, "cleared")
            self._watcher.cleared(owner)


def _to_end(entries: dict[bytes, Entry], key: bytes) -> None:
    """Make ``key`` the most recently used of ``entries``."""
    if type(entries) is OrderedDict:
        entries.move_to_end(key)
    else:
        entries[key] = entries.pop(key)


_NO_ENTRIES: dict[bytes, Entry] = {}  # a read-only stand-in for absent

STORE = MemoryStore()
