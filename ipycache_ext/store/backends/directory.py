"""A directory as a persistent backend, managed by diskcache and created owner-only.

Why diskcache: it gives atomic writes (a row is committed only after its value file
is fully written, so a killed writer leaves no readable entry), multi-process safety
(SQLite transactions) and size-bounded least-recently-used eviction.  A plain
file-per-entry store would have to build all three by hand.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sqlite3
import time
from typing import Any

from ... import messages
from ..guard import DISK_MARGIN, ForeignRow, disk_full, prepare_directory
from ..segments import Leaves, read_opened
from .base import INDEX_PREFIX, Backend, Chunks, EntryTooLarge, Read, as_chunks

_INLINE_BYTES = 1 << 16  # smaller entries live in the SQLite file, larger in files
_SWEEP_EVERY = 60.0  # seconds of writing between two sweeps of orphaned value files
_MODE_RAW = 1  # diskcache's mode of a row whose value is inline bytes
# The live (unexpired) raw row of a key, and marking a row as just used (what
# diskcache's least-recently-used policy does on a read).
LIVE_ROW_ID = (
    "SELECT rowid, mode, filename, value FROM Cache WHERE key = ? AND raw = 1 "
    "AND (expire_time IS NULL OR expire_time > ?)"
)
_TOUCH = "UPDATE Cache SET access_time = ? WHERE rowid = ?"


class _ChunkReader:
    """A ``read()``-able view of chunks, so diskcache streams them to the value file."""

    def __init__(self, chunks: list[Any]) -> None:
        self._views = [memoryview(c).cast("B") for c in chunks]
        self._index = 0
        self._offset = 0

    def read(self, size: int = -1) -> bytes | memoryview:
        while self._index < len(self._views):
            view = self._views[self._index]
            if self._offset < len(view):
                end = len(view) if size < 0 else self._offset + size
                piece = view[self._offset : end]
                self._offset += len(piece)
                return piece
            self._index += 1
            self._offset = 0
        return b""


class DiskBackend(Backend):
    """A directory managed by diskcache, created owner-only (0700)."""

    def __init__(self, directory: str, max_bytes: int) -> None:
        from .rawdisk import open_cache

        prepare_directory(directory)
        self.where = directory
        self._identity = _identity(directory)
        self._max_bytes = max_bytes
        self._cache = open_cache(directory, max_bytes)
        self._swept = 0.0
        self._sweep_orphans()

    def _sweep_orphans(self) -> None:
        """:func:`.rawdisk.sweep_orphans`: at opening, when an entry finds no room,
        and once a minute of writing (killed writers' files go without a reopening)."""
        from .rawdisk import sweep_orphans

        self._swept = time.monotonic()
        with contextlib.suppress(Exception):
            sweep_orphans(self.where, self._cache, bound=self._max_bytes)

    def gone(self) -> bool:
        """True when the directory was deleted or replaced since it was opened (its
        index is then a deleted file: writes would be lost)."""
        return _identity(self.where) != self._identity

    def get(self, key: str) -> bytes | memoryview | None:
        found = self.read(key)
        return None if found is None else found.data

    def read(self, key: str, start: int = 0, leaf: Leaves | None = None) -> Read | None:
        """The entry under ``key`` read into one private buffer, with its segments'
        leaves from byte ``start`` (:func:`.segments.read_hashed`) when it is in a value
        file (None for a small entry kept in the index: the caller hashes it)."""
        found = self._open_entry(key)
        return None if found is None else Read(*read_opened(found, start, leaf))

    def has(self, key: str) -> bool:
        """True if a live entry is stored under ``key`` (its file is not read)."""
        return self._cache._sql(LIVE_ROW_ID, (key, time.time())).fetchone() is not None

    def _open_entry(self, key: str) -> Any:
        """The live entry under ``key``: its bytes (kept in the index) or its value file
        opened; None if there is none.  It is marked as just used, for the eviction.

        One query, then one update, without the transaction diskcache's ``get`` puts
        around them (which costs twice as much): a value file removed in between
        (evicted, replaced) is a miss, as diskcache makes it.
        """
        row = self._cache._sql(LIVE_ROW_ID, (key, time.time())).fetchone()
        if row is None:
            return None
        rowid, mode, filename, value = row
        try:
            found = self._cache.disk.fetch(mode, filename, value, True)
        except OSError:
            return None
        with contextlib.suppress(sqlite3.OperationalError):
            # Least-recently-used bookkeeping makes every read a write; on a full disk
            # the entry is read without it rather than lose access to the store.
            self._cache._sql(_TOUCH, (time.time(), rowid))
        return found

    def set(self, key: str, data: Chunks, ttl: float | None) -> None:
        chunks = as_chunks(data)
        size = sum(len(c) for c in chunks)
        if size > self._max_bytes:
            raise EntryTooLarge(size, self._max_bytes)
        free = shutil.disk_usage(self.where).free
        if size + DISK_MARGIN > free:
            self._sweep_orphans()  # killed writers' files may hold the room
            free = shutil.disk_usage(self.where).free
        if size + DISK_MARGIN > free:
            # Refuse before writing: a half-written file would fill the disk for good.
            raise OSError(errno.ENOSPC, messages.no_room_error(size, free))
        if size <= _INLINE_BYTES:
            self._cache.set(key, b"".join(chunks), expire=ttl, retry=True)
        else:
            from .rawdisk import set_file

            set_file(self._cache, key, _ChunkReader(chunks), ttl)
        self._evict()
        if time.monotonic() - self._swept > _SWEEP_EVERY:
            self._sweep_orphans()

    def _evict(self) -> None:
        """Drop least recently used entries (never locks, nor the owner index records
        of :mod:`..owners`: an entry must not outlive its record) until under
        ``max_bytes``.

        Reads diskcache's ``Cache`` table (its ``access_time`` column) directly: the
        public API has no "oldest entry" query.
        """
        while self._cache.volume() > self._max_bytes:
            row = self._cache._sql(
                "SELECT key FROM Cache WHERE key NOT LIKE 'lock:%' AND key NOT LIKE 'idx-%' "
                "ORDER BY access_time LIMIT 1"
            ).fetchone()
            if row is None:
                return
            self._cache.delete(row[0], retry=True)

    def delete(self, key: str) -> None:
        self._cache.delete(key, retry=True)

    def try_lock(self, key: str, token: str, lease: float) -> bool:
        # Tokens are stored as bytes, as entries are: nothing here is ever pickled.
        return bool(self._cache.add("lock:" + key, token.encode(), expire=lease, retry=True))

    def _token(self, key: str) -> str | None:
        try:
            found = self._cache.get("lock:" + key)
        except ForeignRow:
            return None
        return found.decode("utf-8", "replace") if isinstance(found, bytes) else None

    def renew(self, key: str, token: str, lease: float) -> None:
        with self._cache.transact(retry=True):
            if self._token(key) == token:
                self._cache.set("lock:" + key, token.encode(), expire=lease)

    def holder(self, key: str) -> str | None:
        return self._token(key)

    def unlock(self, key: str, token: str) -> None:
        with self._cache.transact(retry=True):
            if self._token(key) == token:
                self._cache.delete("lock:" + key)

    def break_stale(self, key: str, lease: float) -> bool:
        """Break the lease on ``key`` if it was written more than ``lease`` seconds
        ago or is not one this store wrote, whatever expiry its row claims (a row
        planted without one would block the key for good).  True if broken."""
        with self._cache.transact(retry=True):
            row = self._cache._sql(
                "SELECT store_time, mode, filename FROM Cache WHERE key = ? AND raw = 1",
                ("lock:" + key,),
            ).fetchone()
            if row is None:
                return False
            written, mode, filename = row
            now = time.time()
            fresh = isinstance(written, (int, float)) and now - lease <= written <= now + 1
            if fresh and mode == _MODE_RAW and filename is None:
                return False
            self._cache._sql("DELETE FROM Cache WHERE key = ? AND raw = 1", ("lock:" + key,))
        if filename is not None:
            self._cache.disk.remove(filename)  # checked: only a file inside the store
        return True

    def keys(self) -> list[str]:
        rows = self._cache._sql("SELECT key FROM Cache WHERE raw = 1").fetchall()
        return [
            k for (k,) in rows if isinstance(k, str) and not k.startswith(("lock:", INDEX_PREFIX))
        ]

    def index_names(self) -> list[str]:
        """The owner index records (:mod:`..owners`), apart from the entries."""
        rows = self._cache._sql("SELECT key FROM Cache WHERE raw = 1").fetchall()
        return [k for (k,) in rows if isinstance(k, str) and k.startswith(INDEX_PREFIX)]

    def clear(self) -> None:
        self._cache.clear(retry=True)

    def close(self) -> None:
        self._cache.close()


def _identity(directory: str) -> tuple[int, int] | None:
    try:
        found = os.stat(directory)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def open_directory(location: str, max_disk_bytes: int) -> Backend:
    """The directory ``location`` names (``~`` expanded), made if missing; opened
    read-only when it cannot be written or its disk is full."""
    directory = os.path.expanduser(location)
    prepare_directory(directory)
    from .rawdisk import ReadOnlyDiskBackend  # entries stored before still load

    if not os.access(directory, os.W_OK):  # diskcache can't open it: its index is written
        return ReadOnlyDiskBackend(directory)
    try:
        return DiskBackend(directory, max_disk_bytes)
    except sqlite3.OperationalError:
        # Opening writes the index; on a full disk that fails ("disk I/O error"), and
        # the stored entries are then read without diskcache until room is made.
        if not disk_full(directory):
            raise
        return ReadOnlyDiskBackend(directory, full_disk=True)
