"""Per function/cell counters and said-once flags: ``cache_info``, ``%memo_info``, notes.

Each owner (a function's ``module.qualname``, a cell's label) has one
:class:`OwnerStats`: its hits and misses, what its next miss is compared with, and
which hints and warnings were already given (each is said once per owner).  The
memory store does not keep them: :class:`Stats` watches it, so an entry that leaves
is not held by the counters, and clearing the store forgets the counters too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..parts import PartId, Reason, Snapshot
from ..store.entry import Entry
from ..store.memory import STORE


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


class Stats:
    """Every owner's :class:`OwnerStats`, made on first use (and again after a clear).

    It watches the memory store (see :class:`.store.memory.Watcher`), whose lock may
    be held when it is told something: it never calls the store under its own lock.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        # Read by the engine's hit fast path, which counts a hit inline under ``lock``
        # (a call to a method here costs a tenth of a hit); changed only here.
        self.by_owner: dict[str, OwnerStats] = {}

    def stats(
        self, owner: str, label: str, kind: str = "function", max_entries: int | None = None
    ) -> OwnerStats:
        """The counters of ``owner``, made on first use (and again after a clear)."""
        found = self.by_owner.get(owner)
        if found is not None:
            return found
        with self.lock:
            found = self.by_owner.get(owner)
            if found is None:
                found = self.by_owner[owner] = OwnerStats(label, kind, max_entries=max_entries)
            return found

    def owners(self) -> Iterator[tuple[str, OwnerStats]]:
        with self.lock:
            return iter(list(self.by_owner.items()))

    def record_hit(self, stats: OwnerStats, entry: Entry, latest: bool = True) -> None:
        """Count a hit of ``entry``; unless it was a hit inside another miss
        (``latest`` False), its key becomes what the next miss of this owner is
        compared with."""
        lock = self.lock  # acquire/release: ``with`` costs twice as much (every hit)
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
        lock = self.lock  # acquire/release: see :meth:`record_hit`
        lock.acquire()
        try:
            stats.misses += 1
            if parts is not None:
                stats.last = parts
                stats.why_last = reasons
        finally:
            lock.release()

    def clear(self, owner: str | None = None) -> None:
        """Forget the counters of one owner, or of all."""
        with self.lock:
            if owner is None:
                self.by_owner.clear()
            else:
                self.by_owner.pop(owner, None)

    # ----- watching the memory store -----------------------------------------------------

    def left(self, owner: str, entry: Entry, outdated: bool) -> None:
        """An entry left memory: the counters keep its parts, not the entry (nor its
        value); one of earlier code evicted for memory is counted."""
        stats = self.by_owner.get(owner)
        if stats is None:
            return
        with self.lock:
            if stats.last is entry:
                stats.last = entry.parts
            if outdated:
                stats.evicted_outdated += 1

    def cleared(self, owner: str | None) -> None:
        self.clear(owner)

    def code_of(self, owner: str) -> Snapshot | None:
        stats = self.by_owner.get(owner)
        return None if stats is None else stats.last_parts


STATS = Stats()
STORE.watch(STATS)
