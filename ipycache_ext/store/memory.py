"""The kernel-wide memory store: entries by reference, LRU per function, ttl.

One store serves every memoized function and cell.  Entries are grouped by the
owner's identity (``module.qualname``, or a cell's label), so a function redefined in
a later notebook cell finds the entries of its earlier definitions: changing a body
and changing it back hits again.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import types
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..parts import FileState, Reason, Snapshot
from . import compact

_GONE_KEPT = 1024  # per owner: how many vanished keys a miss can still explain


class Entry:
    """A stored result (a function's value or a cell's record), the fingerprint it had
    when stored (for the mutation check), what its key was made of, and the files its
    run read (checked on every hit: :mod:`ipycache_ext.deps.files`).

    The same type is kept in memory and written to the persistent tier; ``expires``
    is this kernel's clock and is not meaningful elsewhere.  ``stored_at`` is wall-clock
    time (an entry's age means the same in every kernel sharing a store); ``hits``
    counts this kernel's hits on it.

    Slotted, with ``parts``, ``seconds`` and ``stored_at`` packed into one ``bytes``
    against a layout shared by the entries of one function (:mod:`.compact`): a tiny
    entry is a few hundred bytes.  It pickles as the dict of fields it always had, so
    entries persisted before and after read alike.
    """

    __slots__ = ("value", "fingerprint", "expires", "hits", "files", "_layout", "_packed")

    def __init__(
        self,
        value: Any,
        fingerprint: Any,
        parts: Snapshot,
        seconds: float,
        expires: float | None = None,
        stored_at: float | None = None,  # None: now (entries written before it existed)
        hits: int = 0,
        files: tuple[FileState, ...] = (),
    ) -> None:
        self.value = value
        self.fingerprint = fingerprint
        self.expires = expires
        self.hits = hits
        self.files = files
        self._layout = compact.layout_of(parts)
        when = time.time() if stored_at is None else stored_at
        self._packed = compact.pack(self._layout, parts, seconds, when)

    @property
    def parts(self) -> Snapshot:
        """What the key was made of, by part id (decoded when read, not on a hit)."""
        return compact.PackedParts(self._layout, self._packed)

    @property
    def seconds(self) -> float:
        return compact.times(self._packed)[0]

    @property
    def stored_at(self) -> float | None:
        return compact.times(self._packed)[1]

    @stored_at.setter
    def stored_at(self, when: float | None) -> None:
        seconds = self.seconds
        self._packed = compact.with_times(
            self._packed, seconds, time.time() if when is None else when
        )

    def expired(self, now: float) -> bool:
        return self.expires is not None and now >= self.expires

    def __getstate__(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "fingerprint": self.fingerprint,
            "parts": dict(self.parts),
            "seconds": self.seconds,
            "expires": None,
            "stored_at": self.stored_at,
            "hits": 0,
            "files": self.files,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            state["value"],
            state["fingerprint"],
            state["parts"],
            state["seconds"],
            state.get("expires"),
            state.get("stored_at"),
            state.get("hits", 0),
            state.get("files", ()),
        )


@dataclass
class OwnerStats:
    """Per function/cell counters, for ``cache_info`` and ``%memo_info``."""

    label: str
    kind: str = "function"
    hits: int = 0
    misses: int = 0
    max_entries: int | None = None
    last_reasons: tuple[Reason, ...] = ()
    last_parts: Snapshot | None = None
    readers_hinted: bool = False  # the native-reader hint was given (once per owner)


class Flight:
    """A key being computed in this kernel: threads wait on the event, coroutines on a
    future of their own loop (woken thread-safely)."""

    __slots__ = ("event", "_lock", "_waiters", "thread", "task")

    def __init__(self) -> None:
        # Who computes it: a wait by the same thread (sync) or task (async) is a cycle.
        self.thread = threading.get_ident()
        self.task = _current_task()
        self.event = threading.Event()
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    async def wait_async(self) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self.event.is_set():
                return
            self._waiters.append((loop, future))
        await asyncio.shield(future)

    def waits_for_itself(self, sync: bool) -> bool:
        """True if waiting for this flight here would never end: a sync wait on the
        thread computing it, or an async wait by the task computing it."""
        if sync:
            return self.thread == threading.get_ident()
        return self.task is not None and self.task is _current_task()

    def land(self) -> None:
        with self._lock:
            self.event.set()
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # a loop closed meanwhile
                loop.call_soon_threadsafe(_resolve, future)


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no running loop in this thread
        return None


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class MemoryStore:
    """Thread-safe in-memory store keyed by (owner, key digest)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        # Per owner, least recently used first: an OrderedDict when the owner has a
        # max_entries (evicting the oldest is O(1)), else a plain dict (~45 bytes less
        # per entry; a hit moves its entry to the end by taking it out and back in).
        self._entries: dict[str, dict[bytes, Entry]] = {}
        self._stats: dict[str, OwnerStats] = {}
        self._inflight: dict[tuple[str, bytes], Flight] = {}
        self._gone: dict[str, OrderedDict[bytes, str]] = {}

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
                self._forget(owner, key, "expired")
                return None
            _to_end(entries, key)
            return entry

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
            del entries[key]
            if how is not None:
                self._forget(owner, key, how)
            return True

    def put(self, owner: str, key: bytes, entry: Entry, max_entries: int | None) -> None:
        with self.lock:
            entries = self._entries.get(owner)
            if entries is None or (max_entries is not None and type(entries) is dict):
                entries = self._entries[owner] = (
                    OrderedDict(entries or ()) if max_entries is not None else dict(entries or ())
                )
            entries[key] = entry
            _to_end(entries, key)
            self._gone.get(owner, _NO_GONE).pop(key, None)
            if max_entries is not None:
                while len(entries) > max_entries:
                    evicted = next(iter(entries))  # an OrderedDict: its first, in O(1)
                    del entries[evicted]
                    self._forget(owner, evicted, "evicted")

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
                for key in self._entries.pop(name, _NO_ENTRIES):
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

    def record_hit(
        self, stats: OwnerStats, parts: Snapshot | None, entry: Entry | None = None
    ) -> None:
        """Count a hit (of the owner, and of ``entry``); ``parts`` (None for a hit inside
        another miss) becomes what the next miss of this owner is compared with."""
        with self.lock:
            stats.hits += 1
            if entry is not None:
                entry.hits += 1
            if parts is not None:
                stats.last_parts = parts

    def record_miss(
        self, stats: OwnerStats, parts: Snapshot | None, reasons: tuple[Reason, ...]
    ) -> None:
        """Count a miss; see :meth:`record_hit` for ``parts``."""
        with self.lock:
            stats.misses += 1
            if parts is not None:
                stats.last_parts = parts
                stats.last_reasons = reasons

    # ----- compute once ------------------------------------------------------------------

    def claim(self, owner: str, key: bytes) -> Flight | None:
        """None if this caller should compute ``key``; else the flight to wait for."""
        with self.lock:
            pending = self._inflight.get((owner, key))
            if pending is not None:
                return pending
            self._inflight[(owner, key)] = Flight()
            return None

    def release(self, owner: str, key: bytes) -> None:
        with self.lock:
            flight = self._inflight.pop((owner, key), None)
        if flight is not None:
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


def approx_size(obj: Any, limit: int = 20_000) -> int:
    """Rough bytes held by ``obj``: buffers of arrays and frames, containers walked.

    Bounded (``limit`` objects) so ``%memo_info`` stays fast on huge structures.
    """
    import sys

    seen: set[int] = set()
    stack = [obj]
    total = 0
    while stack and len(seen) < limit:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (types.ModuleType, type, types.FunctionType)):
            continue  # shared with the rest of the program, not held by the cache
        memory_usage = getattr(item, "memory_usage", None)
        nbytes = getattr(item, "nbytes", None)
        if callable(memory_usage) and type(item).__module__.startswith("pandas"):
            try:
                usage = memory_usage(deep=True)
                total += int(usage.sum() if hasattr(usage, "sum") else usage)
                continue
            except Exception:
                pass
        if isinstance(nbytes, int):
            total += nbytes
            continue
        try:
            total += sys.getsizeof(item)
        except TypeError:
            continue
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif hasattr(item, "__dict__") and not isinstance(item, type):
            stack.append(vars(item))
    return total
