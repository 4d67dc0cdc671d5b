"""What the directory store lets diskcache do: move raw bytes, inside the directory.

diskcache's own :class:`~diskcache.Disk` pickles any value that is not bytes and
unpickles any row of its index marked as pickled (``MODE_PICKLE``), before our
signature check could run: a row planted in the SQLite index would run code (the
class of CVE-2025-69872).  :class:`RawDisk` never pickles nor unpickles: it stores
bytes (inline or in a value file) and raises :class:`~.guard.ForeignRow` for any row
not in that form, which the tier reports as a planted entry.  Value file paths are
checked by :func:`~.guard.inside`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import threading
import time
from typing import Any

import diskcache
from diskcache.core import MODE_BINARY, MODE_RAW, UNKNOWN

from ..guard import ForeignRow, disk_full, inside
from ..segments import Leaves, read_opened
from .base import INDEX_PREFIX, Backend, Read

# The raw row of a live (unexpired) entry, read straight from diskcache's index.
LIVE_ROW = (
    "SELECT mode, filename, value FROM Cache WHERE key = ? AND raw = 1 "
    "AND (expire_time IS NULL OR expire_time > ?)"
)


ORPHAN_GRACE = 600.0  # seconds: a value file without a row younger than this may be in writing
# Seconds a value file without a row must have been left unchanged to be swept when the
# store is over its bound: a live writer changes its file on every chunk it writes.
IDLE_GRACE = 5.0


def sweep_orphans(
    directory: str, cache: diskcache.Cache, grace: float = ORPHAN_GRACE, bound: int | None = None
) -> int:
    """Delete the value files no index row names, older than ``grace``: what writers
    killed between writing the file and adding its row left behind (they would count
    against the disk, never against the size bound).  When the value files take more
    than ``bound`` bytes in all, the orphans left unchanged for :data:`IDLE_GRACE`
    go too: killed writers must not hold the disk (1.3 GiB against a 600 MiB bound
    was seen) until their files are ten minutes old.  Symlinks are never followed and
    nothing outside the store is touched.  Returns how many were deleted."""
    named = {
        os.path.normpath(name)
        for (name,) in cache._sql("SELECT filename FROM Cache WHERE filename IS NOT NULL")
    }
    found = _value_files(directory)
    if bound is not None and sum(stat.st_size for _, stat in found) > bound:
        grace = min(grace, IDLE_GRACE)
    cutoff = time.time() - grace
    removed = 0
    for path, stat in found:
        if os.path.relpath(path, directory) in named or stat.st_mtime > cutoff:
            continue
        with contextlib.suppress(OSError):
            os.unlink(path)
            removed += 1
    return removed


def _value_files(directory: str) -> list[tuple[str, os.stat_result]]:
    """The value files in diskcache's folders, with their status (symlinks left out)."""
    found = []
    for first in _subdirs(directory):
        for second in _subdirs(first.path):
            with contextlib.suppress(OSError), os.scandir(second.path) as files:
                for entry in files:
                    if entry.name.endswith(".val") and entry.is_file(follow_symlinks=False):
                        with contextlib.suppress(OSError):
                            found.append((entry.path, entry.stat(follow_symlinks=False)))
    return found


def _subdirs(path: str) -> list[os.DirEntry[str]]:
    """diskcache's two levels of two-hex-digit folders (never through a symlink)."""
    try:
        with os.scandir(path) as entries:
            return [e for e in entries if len(e.name) == 2 and e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


class RawDisk(diskcache.Disk):
    """A diskcache ``Disk`` for ``str`` keys and ``bytes`` values, and nothing else."""

    def __init__(self, directory: str, **settings: Any) -> None:
        super().__init__(directory, **settings)
        # The value file this thread wrote last (``name``; None for an entry kept in
        # the index): the store removes it when its row then cannot be committed.
        self.last_written = threading.local()

    def put(self, key: Any) -> tuple[Any, bool]:
        if type(key) is not str:
            raise TypeError(type(key))
        return key, True

    def get(self, key: Any, raw: bool) -> Any:
        if not raw or type(key) is not str:
            raise ForeignRow("a key stored pickled")
        return key

    def store(self, value: Any, read: bool, key: Any = UNKNOWN) -> tuple[Any, ...]:
        if not (read or type(value) is bytes):
            raise TypeError(type(value))  # never pickle
        stored = super().store(value, read, key)
        self.last_written.name = stored[2]
        return stored

    def fetch(self, mode: int, filename: Any, value: Any, read: bool) -> Any:
        if mode == MODE_RAW and filename is None and type(value) in (bytes, sqlite3.Binary):
            return bytes(value)
        if mode == MODE_BINARY and value is None:
            full = inside(self._directory, filename)
            fd = os.open(full, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            handle = os.fdopen(fd, "rb")
            if read:
                return handle
            with handle:
                return handle.read()
        raise ForeignRow(f"mode {mode}")

    def _write(self, full_path: str, iterator: Any, mode: str, encoding: Any = None) -> Any:
        """Write a value file; one that fails part way (a full disk, a writer racing
        for the last space, Ctrl-C) is removed at once: no row names it, so nothing
        else would remove it before the orphan sweep, and it holds the space the next
        write needs."""
        os.makedirs(os.path.dirname(full_path), exist_ok=True)
        inside(self._directory, os.path.relpath(full_path, self._directory))
        try:
            return super()._write(full_path, iterator, mode, encoding)
        except FileExistsError:
            raise  # another writer's file (never ours: it is opened exclusively)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(full_path)
            raise

    def remove(self, file_path: Any) -> None:
        with contextlib.suppress(ForeignRow):
            full = inside(self._directory, file_path)
            with contextlib.suppress(OSError):
                os.remove(full)
            with contextlib.suppress(OSError):
                os.removedirs(os.path.dirname(full))


def open_cache(directory: str, max_bytes: int) -> diskcache.Cache:
    """The diskcache index of a directory store, through :class:`RawDisk`.

    Eviction is done by the store, one least recently used entry at a time:
    diskcache's own culling drops ten entries whenever the store is over its bound.
    """
    cache = diskcache.Cache.__new__(diskcache.Cache)
    try:
        cache.__init__(
            directory,
            size_limit=max_bytes,
            eviction_policy="least-recently-used",
            cull_limit=0,
            disk=RawDisk,
        )
    except BaseException:
        # Its index connection was opened before the failure (a full disk): closed
        # now, not when a garbage collection finds it (it keeps the disk busy).
        with contextlib.suppress(Exception):
            cache.close()
        raise
    return cache


def set_file(cache: diskcache.Cache, key: str, reader: Any, ttl: float | None) -> None:
    """Store what ``reader`` reads as a value file under ``key``.  A value file written
    whose row is then not committed (the index cannot grow on a full disk) is removed
    at once: diskcache leaves it behind."""
    written = cache.disk.last_written
    written.name = None
    try:
        cache.set(key, reader, expire=ttl, read=True, retry=True)
    except BaseException:
        if written.name is not None:
            cache.disk.remove(written.name)
        raise


class ReadOnlyDiskBackend(Backend):
    """A directory store that cannot be written (a read-only mount, no write
    permission): entries already stored still load, every write fails with
    ``EROFS`` (the tier warns once and keeps results in memory).

    diskcache cannot open such a directory (opening writes its index), so the index
    is read here, as an immutable SQLite file, through :class:`RawDisk`'s checks.

    A directory on a full disk (``full_disk``) is read the same way, its writes fail
    with ``ENOSPC``, and it is :meth:`gone` once its disk has room again, so the tier
    opens it for writing again (no one writes the index of a full disk meanwhile).
    """

    def __init__(self, directory: str, full_disk: bool = False) -> None:
        self.where = directory
        self._full_disk = full_disk
        self._disk = RawDisk(directory)
        index = os.path.join(directory, diskcache.core.DBNAME)
        self._index = sqlite3.connect(
            f"file:{index}?immutable=1", uri=True, check_same_thread=False
        )

    def get(self, key: str) -> bytes | memoryview | None:
        found = self.read(key)
        return None if found is None else found.data

    def read(self, key: str, start: int = 0, leaf: Leaves | None = None) -> Read | None:
        """As :meth:`.DiskBackend.read`: a value file read into one private buffer,
        each segment hashed as it lands."""
        row = self._index.execute(LIVE_ROW, (key, time.time())).fetchone()
        if row is None:
            return None
        mode, filename, value = row
        try:
            return Read(*read_opened(self._disk.fetch(mode, filename, value, True), start, leaf))
        except OSError:
            return None

    def gone(self) -> bool:
        """True when the full disk it was opened on has room again."""
        return self._full_disk and not disk_full(self.where)

    def _refuse(self) -> OSError:
        code = errno.ENOSPC if self._full_disk else errno.EROFS
        return OSError(code, os.strerror(code), self.where)

    def set(self, key: str, data: Any, ttl: float | None) -> None:
        raise self._refuse()

    def delete(self, key: str) -> None:
        raise self._refuse()

    def try_lock(self, key: str, token: str, lease: float) -> bool:
        raise self._refuse()

    def renew(self, key: str, token: str, lease: float) -> None:
        raise self._refuse()

    def unlock(self, key: str, token: str) -> None:
        raise self._refuse()

    def clear(self) -> None:
        raise self._refuse()

    def break_stale(self, key: str, lease: float) -> bool:
        return False

    def holder(self, key: str) -> str | None:
        return None

    def keys(self) -> list[str]:
        return [k for k in self._names() if not k.startswith(("lock:", INDEX_PREFIX))]

    def index_names(self) -> list[str]:
        return [k for k in self._names() if k.startswith(INDEX_PREFIX)]

    def _names(self) -> list[str]:
        rows = self._index.execute("SELECT key FROM Cache WHERE raw = 1").fetchall()
        return [k for (k,) in rows if isinstance(k, str)]

    def close(self) -> None:
        self._index.close()
