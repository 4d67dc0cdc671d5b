"""A size bound for an S3 prefix, least recently used out.

An object store keeps no access times (an object's ``LastModified`` is when it was
written), and rewriting an entry to mark it used would upload it again.  So a read
marks the entry with an empty object ``used/<key>``, at most once per
:data:`MARK_EVERY` seconds per kernel: an entry's last use is the later of its own and
its mark's ``LastModified`` (both the server's clock, so kernels on machines whose
clocks disagree still agree on the order).

After every entry it writes, a kernel lists the prefix and deletes the least recently
used entries (and their marks) until the prefix fits.  Listing after each write, not
from a running estimate, is what keeps the bound with several kernels writing: the
last writer's listing sees every entry written before it, so once the writers are
done the prefix is within the bound.  The listing runs on a thread of its own, so a
miss does not wait for it; once the interpreter is exiting (when no new thread may
start, and a thread pool takes no more work) it runs where it can, one read at a time,
since the last writes of a kernel are the ones the bound must still count.  Only
objects named as entries count, and an entry is deleted only if its first bytes are an
entry's (other objects are not the store's).
Leases and the owner index are not entries: never counted, never evicted.
"""

from __future__ import annotations

import atexit
import contextlib
import re
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..signed import looks_like_entry

USED = "used/"  # empty objects whose LastModified is an entry's last use
LOCKS = "locks/"
MARK_EVERY = 600.0  # seconds between two marks of one entry by one kernel
# The name the tier gives an entry (``v2-<key digest>``), or the slot beside it for
# other library versions (``...-<their digest>``): the only objects counted as entries.
ENTRY_NAME = re.compile(r"v\d+-[0-9a-f]{32}(?:-[0-9a-f]{16})?")
_HEAD_BYTES = 16  # read of an entry's start, to tell it is one before deleting it
_CHECKERS = 8  # heads read in flight


def owned_entries(obs: Any, store: Any, names: list[str]) -> list[str]:
    """Those of ``names`` whose objects start as an entry does (a missing one is
    left out: nothing to delete)."""

    def is_entry(name: str) -> bool:
        try:
            head = obs.get(store, name, options={"range": (0, _HEAD_BYTES)}).bytes()
        except FileNotFoundError:
            return False
        return looks_like_entry(bytes(head))

    if not names:
        return []
    with ThreadPoolExecutor(min(_CHECKERS, len(names))) as pool:
        try:
            reads = pool.map(is_entry, names)
        except RuntimeError:  # the interpreter is exiting: no new thread may start
            reads = map(is_entry, names)
        found = list(reads)
    return [name for name, ok in zip(names, found) if ok]


class LruBound:
    """Keeps the entries under one prefix within ``max_bytes``."""

    def __init__(
        self, obs: Any, store: Any, max_bytes: int, request: Callable[[Callable[[], Any]], Any]
    ) -> None:
        self._obs, self._store, self.max_bytes = obs, store, max_bytes
        self._request = request  # a hit's mark is one of its call's requests
        self._marked: dict[str, float] = {}  # entry -> when this kernel last marked it
        self._wanted = False  # a write since the running eviction's listing
        self._running = False
        self._state = threading.Condition()
        _open.add(self)

    def used(self, key: str) -> None:
        """``key`` was just read: mark it, unless this kernel did so lately."""
        now = time.monotonic()
        last = self._marked.get(key)
        if last is not None and now - last < MARK_EVERY:
            return
        self._marked[key] = now
        with contextlib.suppress(Exception):  # a lost mark costs order, not correctness
            self._request(lambda: self._obs.put(self._store, USED + key, b""))

    def written(self, key: str, size: int) -> None:
        """``key`` (``size`` bytes) was just written: an eviction runs after it, on
        the eviction thread (one more after the running one, if one runs: its
        listing may predate this entry)."""
        with self._state:
            self._wanted = True
            if self._running:
                return
            self._running = True
        try:
            threading.Thread(target=self._evictions, name="ipycache-s3-bound", daemon=True).start()
        except RuntimeError:  # the interpreter is exiting: no new thread may start
            self._evictions()

    def _evictions(self) -> None:
        while True:
            with self._state:
                if not self._wanted:
                    self._running = False
                    self._state.notify_all()
                    return
                self._wanted = False
            with contextlib.suppress(Exception):  # the next write tries again
                self.evict()

    def settle(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the evictions asked for to be done."""
        with self._state:
            self._state.wait_for(lambda: not self._running, timeout)

    def forget(self, key: str) -> None:
        """``key`` was deleted: its mark goes too."""
        self._marked.pop(key, None)
        with contextlib.suppress(Exception):
            self._obs.delete(self._store, USED + key)

    def evict(self) -> int:
        """List the prefix and delete least recently used entries until it fits;
        how many went."""
        sizes: dict[str, int] = {}
        written: dict[str, float] = {}
        marks: dict[str, float] = {}
        for meta in self._obs.list(self._store).collect():
            path, when = meta["path"], meta["last_modified"].timestamp()
            if path.startswith(USED) and ENTRY_NAME.fullmatch(path[len(USED) :]):
                marks[path[len(USED) :]] = when
            elif ENTRY_NAME.fullmatch(path):
                sizes[path], written[path] = meta["size"], when
        total = sum(sizes.values())
        oldest_first = sorted(sizes, key=lambda k: (max(written[k], marks.get(k, 0.0)), k))
        gone: list[str] = []
        at = 0
        while total > self.max_bytes and at < len(oldest_first):
            # Only as many heads read as may have to go, in one round.
            wanted, need = [], total - self.max_bytes
            while need > 0 and at < len(oldest_first):
                wanted.append(oldest_first[at])
                need -= sizes[oldest_first[at]]
                at += 1
            ours = set(owned_entries(self._obs, self._store, wanted))
            for key in wanted:
                if key not in ours:  # an entry's name, not an entry's bytes: not ours
                    total -= sizes[key]
                elif total > self.max_bytes:
                    total -= sizes[key]
                    gone.append(key)
        stale_marks = [USED + k for k in marks if k not in sizes or k in gone]
        if gone or stale_marks:
            self._obs.delete(self._store, gone + stale_marks)
        for key in gone:
            self._marked.pop(key, None)
        return len(gone)


# Bounds with an eviction under way are waited for (a few seconds at most) when the
# process ends, so its last writes are counted against the bound.
_open: weakref.WeakSet[LruBound] = weakref.WeakSet()


@atexit.register
def _settle_all() -> None:
    for bound in list(_open):
        bound.settle(5.0)
