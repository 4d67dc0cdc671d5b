"""A size bound for an S3 prefix, least recently used out.

An object store keeps no access times (an object's ``LastModified`` is when it was
written), and rewriting an entry to mark it used would upload it again.  So a read
marks the entry with an empty object ``used/<key>``, at most once per
:data:`MARK_EVERY` seconds per kernel: an entry's last use is the later of its own and
its mark's ``LastModified`` (both the server's clock, so kernels on machines whose
clocks disagree still agree on the order).  A write that may push the prefix over the
bound lists the prefix and deletes the least recently used entries (and their marks)
until it fits; between listings the prefix's size is estimated from the writes, so a
listing is made only when the bound may be crossed.  Leases and the owner index are
not entries: never counted, never evicted.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from .owners import INDEX_PREFIX

USED = "used/"  # empty objects whose LastModified is an entry's last use
LOCKS = "locks/"
MARK_EVERY = 600.0  # seconds between two marks of one entry by one kernel


class LruBound:
    """Keeps the entries under one prefix within ``max_bytes``."""

    def __init__(self, obs: Any, store: Any, max_bytes: int) -> None:
        self._obs, self._store, self.max_bytes = obs, store, max_bytes
        self._marked: dict[str, float] = {}  # entry -> when this kernel last marked it
        self._estimate: int | None = None  # bytes at the last listing, plus writes since
        self._lock = threading.Lock()

    def used(self, key: str) -> None:
        """``key`` was just read: mark it, unless this kernel did so lately."""
        now = time.monotonic()
        last = self._marked.get(key)
        if last is not None and now - last < MARK_EVERY:
            return
        self._marked[key] = now
        with contextlib.suppress(Exception):  # a lost mark costs order, not correctness
            self._obs.put(self._store, USED + key, b"")

    def written(self, key: str, size: int) -> int:
        """``key`` (``size`` bytes) was just written; evict if the bound may be crossed.
        Returns how many entries were evicted."""
        with self._lock:
            if self._estimate is not None and self._estimate + size <= self.max_bytes:
                self._estimate += size
                return 0
            return self._evict()

    def forget(self, key: str) -> None:
        """``key`` was deleted: its mark goes too."""
        self._marked.pop(key, None)
        with contextlib.suppress(Exception):
            self._obs.delete(self._store, USED + key)

    def _evict(self) -> int:
        sizes: dict[str, int] = {}
        written: dict[str, float] = {}
        marks: dict[str, float] = {}
        for meta in self._obs.list(self._store).collect():
            path, when = meta["path"], meta["last_modified"].timestamp()
            if path.startswith(USED):
                marks[path[len(USED) :]] = when
            elif not path.startswith((LOCKS, INDEX_PREFIX)):
                sizes[path], written[path] = meta["size"], when
        total = sum(sizes.values())
        oldest_first = sorted(sizes, key=lambda k: (max(written[k], marks.get(k, 0.0)), k))
        gone = []
        for key in oldest_first:
            if total <= self.max_bytes:
                break
            total -= sizes[key]
            gone.append(key)
        stale_marks = [USED + k for k in marks if k not in sizes or k in gone]
        if gone or stale_marks:
            self._obs.delete(self._store, gone + stale_marks)
        for key in gone:
            self._marked.pop(key, None)
        self._estimate = total
        return len(gone)
