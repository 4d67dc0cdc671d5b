"""The kernel-wide memory store: entries by reference, LRU per function, ttl.

One store serves every memoized function and cell.  Entries are grouped by the
owner's identity (``module.qualname``, or a cell's label), so a function redefined in
a later notebook cell finds the entries of its earlier definitions: changing a body
and changing it back hits again.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..parts import PartId, PartKind, Reason, Snapshot
from .entry import Entry
from .flights import Computer, Flight, computer
from .sizes import approx_size, memory_budget

_GONE_KEPT = 1024  # per owner: how many vanished keys a miss can still explain
BUDGETED = 64 << 10  # entries of this many bytes and more count against the memory budget


@dataclass
class OwnerStats:
    """Per function/cell counters, for ``cache_info`` and ``%memo_info``."""

    label: str
    kind: str = "function"
    hits: int = 0
    misses: int = 0
    max_entries: int | None = None
    # Why the last outermost miss missed, or how to work it out when asked: a miss
    # whose note is not shown leaves the comparison to ``%memo_info``.
    why_last: tuple[Reason, ...] | Callable[[], tuple[Reason, ...]] = ()
    # What the next miss is compared with: the snapshot of the last miss's key, or the
    # entry last hit (its parts are decoded only if a miss asks: not on every hit).
    last: Any = None
    readers_hinted: bool = False  # the native-reader hint was given (once per owner)
    pools_hinted: bool = False  # the process-pool hint was given (once per owner)
    too_big_said: bool = False  # an entry too big to keep in memory was reported
    evicted_outdated: int = 0  # entries of earlier code evicted for memory
    unstable_said: set[PartId] = field(default_factory=set)  # values found unstable
    # What runs used that the key cannot see (network, subprocesses: deps.unseen
    # Touch values), said once; and ``verify_share``'s count towards the next re-check.
    unseen: tuple[Any, ...] = ()
    verify_debt: float = 0.0

    @property
    def last_reasons(self) -> tuple[Reason, ...]:
        why = self.why_last
        if callable(why):
            self.why_last = why = why()
        return why

    @property
    def last_parts(self) -> Snapshot | None:
        last = self.last
        return last.parts if isinstance(last, Entry) else last


class MemoryStore:
    """Thread-safe in-memory store keyed by (owner, key digest)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        # Per owner: an OrderedDict, least recently used first, when the owner has a
        # max_entries (a hit moves its entry to the end; evicting the oldest is O(1));
        # else a plain dict in the order stored (~45 bytes less per entry, and a hit
        # has no order to keep: across owners, the memory budget keeps its own).
        self._entries: dict[str, dict[bytes, Entry]] = {}
        self._stats: dict[str, OwnerStats] = {}
        # Keys being computed: who computes each, or the Flight made when a second caller came.
        self._inflight: dict[tuple[str, bytes], Flight | Computer] = {}
        self._gone: dict[str, OrderedDict[bytes, str]] = {}
        # The entries that count against the memory budget, least recently used first
        # across every owner, and their bytes in all and per owner.
        self._big: OrderedDict[tuple[str, bytes], Entry] = OrderedDict()
        self._big_bytes = 0
        self._owner_bytes: dict[str, int] = {}

    # ----- entries ---------------------------------------------------------------------

    def get(self, owner: str, key: bytes) -> Entry | None:
        """The live entry for ``key`` (most recently used from now on), or None."""
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
                self._forget(owner, key, "expired")
                return None
            if type(entries) is OrderedDict:
                entries.move_to_end(key)
            if entry.size is not None:
                self._big.move_to_end((owner, key))
            return entry

    def hit(self, owner: str, key: bytes, counted: tuple[Any, ...], latest: bool) -> Entry | None:
        """:meth:`get`, and the hit counted (see :meth:`record_hit`) in the same lock,
        unless the entry depends on files: those are checked first, then counted.
        ``counted`` is what :meth:`stats` takes, for the owner's counters.

        The lock is taken by ``acquire``/``release``: a ``with`` block costs twice as
        much, and this is most of what a hit does."""
        lock = self.lock
        lock.acquire()
        try:
            entries = self._entries.get(owner)
            entry = entries.get(key) if entries else None
            if entry is None:
                return None
            if entry.expires is not None or entry.size is not None or type(entries) is not dict:
                entry = self.get(owner, key)  # expiry, or an order to keep: the general path
                if entry is None:
                    return None
            if not entry.files:
                stats = self._stats.get(owner) or self.stats(*counted)
                stats.hits += 1
                entry.hits += 1
                if latest:
                    stats.last = entry
            return entry
        finally:
            lock.release()

    def peek(self, owner: str, key: bytes) -> tuple[Entry | None, str | None]:
        """The entry for ``key`` without touching it (no LRU move, no hit, an expired
        one left in place), or how its entry went: for a dry run (``f.explain``)."""
        with self.lock:
            entry = self._entries.get(owner, _NO_ENTRIES).get(key)
            if entry is not None and entry.expired(time.monotonic()):
                return None, "expired"
            return entry, None if entry is not None else self._gone.get(owner, _NO_GONE).get(key)

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
                self._forget(owner, key, how)
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
        lock = self.lock  # acquire/release: see :meth:`hit` (this runs on every miss)
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
            self._gone.get(owner, _NO_GONE).pop(key, None)
            if max_entries is not None:
                while len(entries) > max_entries:
                    evicted = next(iter(entries))  # an OrderedDict: its first, in O(1)
                    self._unsize(owner, evicted, entries.pop(evicted))
                    self._forget(owner, evicted, "evicted")
            if entry.size is not None:
                self._big[(owner, key)] = entry
                self._big_bytes += entry.size
                self._owner_bytes[owner] = self._owner_bytes.get(owner, 0) + entry.size
                self._make_room(owner, key, budget, max_size)
            return True
        finally:
            lock.release()

    def _unsize(self, owner: str, key: bytes, entry: Entry) -> None:
        """``entry`` left the store: it no longer counts against the budget, and the
        owner's counters keep its parts, not the entry (nor its value) itself."""
        stats = self._stats.get(owner)
        if stats is not None and stats.last is entry:
            stats.last = entry.parts
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

    def _current(
        self, owner: str, entry: Entry, newest: tuple[str, Snapshot] | None = None
    ) -> bool:
        """False when ``entry`` was made by code its owner no longer has (its entry
        just made, when ``newest`` names it, else its last miss or hit, says what
        code it has)."""
        if newest is not None and newest[0] == owner:
            last: Snapshot | None = newest[1]
        else:
            stats = self._stats.get(owner)
            last = None if stats is None else stats.last_parts
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
            self._unsize(name, key, entry)
            self._forget(name, key, "memory")
            stats = self._stats.get(name)
            if stats is not None and not self._current(name, entry, newest):
                stats.evicted_outdated += 1
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
        """Forget entries and counters of one owner, or of all."""
        with self.lock:
            owners = list(self._entries) if owner is None else [owner]
            for name in owners:
                for key, entry in self._entries.pop(name, _NO_ENTRIES).items():
                    self._unsize(name, key, entry)
                    self._forget(name, key, "cleared")
                self._stats.pop(name, None)
            if owner is None:
                self._stats.clear()

    def _forget(self, owner: str, key: bytes, how: str) -> None:
        """Remember (boundedly) how an entry went, so its next miss can say so."""
        gone = self._gone.setdefault(owner, OrderedDict())
        gone[key] = how
        while len(gone) > _GONE_KEPT:
            gone.popitem(last=False)

    def how_gone(self, owner: str, key: bytes) -> str | None:
        """ "expired", "evicted" or "cleared" if ``key`` had an entry that went, else None."""
        if not self._gone.get(owner):
            return None  # the common case, read without the lock (a dict read is atomic)
        with self.lock:
            return self._gone.get(owner, _NO_GONE).pop(key, None)

    # ----- counters --------------------------------------------------------------------

    def stats(
        self, owner: str, label: str, kind: str = "function", max_entries: int | None = None
    ) -> OwnerStats:
        """The counters of ``owner``, made on first use (and again after a clear)."""
        found = self._stats.get(owner)
        if found is not None:
            return found
        with self.lock:
            found = self._stats.get(owner)
            if found is None:
                found = self._stats[owner] = OwnerStats(label, kind, max_entries=max_entries)
            return found

    def owners(self) -> Iterator[tuple[str, OwnerStats]]:
        with self.lock:
            return iter(list(self._stats.items()))

    def record_hit(self, stats: OwnerStats, entry: Entry, latest: bool = True) -> None:
        """Count a hit of ``entry``; unless it was a hit inside another miss
        (``latest`` False), its key becomes what the next miss of this owner is
        compared with."""
        lock = self.lock  # acquire/release: see :meth:`hit`
        lock.acquire()
        try:
            stats.hits += 1
            entry.hits += 1
            if latest:
                stats.last = entry
        finally:
            lock.release()

    def record_miss(
        self,
        stats: OwnerStats,
        parts: Snapshot | None,
        reasons: tuple[Reason, ...] | Callable[[], tuple[Reason, ...]],
    ) -> None:
        """Count a miss; see :meth:`record_hit` for ``parts``."""
        lock = self.lock  # acquire/release: see :meth:`hit`
        lock.acquire()
        try:
            stats.misses += 1
            if parts is not None:
                stats.last = parts
                stats.why_last = reasons
        finally:
            lock.release()

    # ----- compute once ------------------------------------------------------------------

    def claim(self, owner: str, key: bytes) -> Flight | None:
        """None if this caller should compute ``key``; else the flight to wait for."""
        lock = self.lock  # acquire/release: see :meth:`hit` (this runs on every miss)
        lock.acquire()
        try:
            pending = self._inflight.get((owner, key))
            if pending is None:
                self._inflight[(owner, key)] = computer()
                return None
            if isinstance(pending, Flight):
                return pending
            flight = self._inflight[(owner, key)] = Flight(pending)  # the first to wait
            return flight
        finally:
            lock.release()

    def release(self, owner: str, key: bytes) -> None:
        lock = self.lock
        lock.acquire()
        try:
            flight = self._inflight.pop((owner, key), None)
        finally:
            lock.release()
        if type(flight) is Flight:  # someone waited for it (else None, or who computed it)
            flight.land()


def _to_end(entries: dict[bytes, Entry], key: bytes) -> None:
    """Make ``key`` the most recently used of ``entries``."""
    if type(entries) is OrderedDict:
        entries.move_to_end(key)
    else:
        entries[key] = entries.pop(key)


_NO_ENTRIES: dict[bytes, Entry] = {}  # read-only stand-ins for absent
_NO_GONE: OrderedDict[bytes, str] = OrderedDict()

STORE = MemoryStore()
