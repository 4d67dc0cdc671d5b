"""Persistent stores behind one small protocol: a directory (diskcache) or Redis.

A backend moves opaque bytes; signing, pickling and version checks live in
:mod:`ipycache_ext.persist`.  Each backend also offers a lease-style lock so two
kernels missing the same key compute it once, and a crashed kernel's lock expires.

Why diskcache for the directory: it gives atomic writes (a row is committed only
after its value file is fully written, so a killed writer leaves no readable entry),
multi-process safety (SQLite transactions) and size-bounded least-recently-used
eviction.  A plain file-per-entry store would have to build all three by hand.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import socket
import sqlite3
import time
import uuid
from typing import Any, Protocol
from urllib.parse import urlparse

from ... import messages
from ..guard import DISK_MARGIN, ForeignRow, disk_full, prepare_directory
from ..owners import INDEX_PREFIX
from ..segments import Leaves, read_opened

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


Chunks = Any  # bytes, or a list of bytes-like chunks that together make an entry


def as_chunks(data: Chunks) -> list[Any]:
    return [data] if isinstance(data, (bytes, bytearray, memoryview)) else list(data)


def _read_buffer(size: int) -> memoryview:
    from ..segments import read_buffer  # (kept here for the S3 store)

    return read_buffer(size)


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


class EntryTooLarge(ValueError):
    """An entry bigger than the store's whole size bound: storing it would evict every
    other entry and then itself."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"{size} bytes > max_disk_bytes {limit}")
        self.size, self.limit = size, limit


class MissingExtra(ImportError):
    """A store whose client library is not installed.  It carries the extra that brings
    the library, so the warning can give the one install command instead of a bare
    "No module named ..."."""

    def __init__(self, extra: str, module: str) -> None:
        super().__init__(messages.missing_extra_error(extra, module), name=module)
        self.extra, self.module = extra, module


class Backend(Protocol):
    """What a persistent store must do; every method may raise ``OSError``-like errors."""

    where: str

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, data: Chunks, ttl: float | None) -> None: ...

    def delete(self, key: str) -> None: ...

    def try_lock(self, key: str, token: str, lease: float) -> bool: ...

    def break_stale(self, key: str, lease: float) -> bool: ...

    def renew(self, key: str, token: str, lease: float) -> None: ...

    def holder(self, key: str) -> str | None: ...

    def unlock(self, key: str, token: str) -> None: ...

    def keys(self) -> list[str]: ...

    def index_names(self) -> list[str]: ...

    def clear(self) -> None: ...


class DiskBackend:
    """A directory managed by diskcache, created owner-only (0700)."""

    remote = False

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
        found = self.get_hashed(key, 0, None)
        return None if found is None else found[0]

    def get_hashed(
        self, key: str, start: int, leaf: Leaves | None
    ) -> tuple[bytes | memoryview, list[bytes] | None] | None:
        """The entry under ``key`` read into one private buffer, with its segments'
        leaves from byte ``start`` (:func:`.segments.read_hashed`) when it is in a value
        file (None for a small entry kept in the index: the caller hashes it)."""
        found = self._open_entry(key)
        return None if found is None else read_opened(found, start, leaf)

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
        of :mod:`.owners`: an entry must not outlive its record) until under
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
        """The owner index records (:mod:`.owners`), apart from the entries."""
        rows = self._cache._sql("SELECT key FROM Cache WHERE raw = 1").fetchall()
        return [k for (k,) in rows if isinstance(k, str) and k.startswith(INDEX_PREFIX)]

    def clear(self) -> None:
        self._cache.clear(retry=True)

    def close(self) -> None:
        self._cache.close()


_UNLOCK_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_RENEW_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""


class RedisBackend:
    """A Redis database (``redis://host:port/db``): one store for a team of kernels.

    Connecting and every command time out after ``timeout`` seconds, so a black-holed
    or stalled server costs one call that long (the tier then skips it for a while).
    ``where`` is the URL without its password: it is shown in notes and warnings.
    """

    remote = True

    def __init__(self, url: str, prefix: str = "ipycache:", timeout: float = 2.0) -> None:
        try:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ModuleNotFoundError as missing:
            if missing.name != "redis":
                raise  # redis is there but broken: its own error says more
            raise MissingExtra("redis", "redis") from missing

        self.where = messages.redacted(url)
        self.namespace = "redis:" + prefix
        self._prefix = prefix
        self._redis = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),  # no retries: the tier backs off instead
        )

    def get(self, key: str) -> bytes | None:
        found = self._redis.get(self._prefix + key)
        return found if isinstance(found, bytes) or found is None else found.encode()

    def set(self, key: str, data: Chunks, ttl: float | None) -> None:
        px = None if ttl is None else max(1, int(ttl * 1000))
        self._redis.set(self._prefix + key, b"".join(as_chunks(data)), px=px)

    def delete(self, key: str) -> None:
        self._redis.delete(self._prefix + key)

    def try_lock(self, key: str, token: str, lease: float) -> bool:
        px = max(1, int(lease * 1000))
        return bool(self._redis.set(self._prefix + "lock:" + key, token, nx=True, px=px))

    def renew(self, key: str, token: str, lease: float) -> None:
        px = max(1, int(lease * 1000))
        self._redis.eval(_RENEW_SCRIPT, 1, self._prefix + "lock:" + key, token, px)

    def holder(self, key: str) -> str | None:
        found = self._redis.get(self._prefix + "lock:" + key)
        return found.decode() if isinstance(found, bytes) else found

    def unlock(self, key: str, token: str) -> None:
        self._redis.eval(_UNLOCK_SCRIPT, 1, self._prefix + "lock:" + key, token)

    def break_stale(self, key: str, lease: float) -> bool:
        """A lease without an expiry, or one set longer than ``lease`` (planted by
        hand), gets the lease lifetime as its expiry: it ends within one lifetime,
        and a live holder renews it meanwhile.  Never breaks a lease at once."""
        px = max(1, int(lease * 1000))
        left = self._redis.pttl(self._prefix + "lock:" + key)
        if left == -1 or left > px:
            self._redis.pexpire(self._prefix + "lock:" + key, px)
        return False

    def keys(self) -> list[str]:
        found = self._redis.scan_iter(match=self._prefix + "*")
        names = [k.decode() if isinstance(k, bytes) else k for k in found]
        names = [n[len(self._prefix) :] for n in names if ":lock:" not in n]
        return [n for n in names if not n.startswith(INDEX_PREFIX)]

    def index_names(self) -> list[str]:
        """The owner index records (:mod:`.owners`), apart from the entries."""
        found = self._redis.scan_iter(match=self._prefix + INDEX_PREFIX + "*")
        names = [k.decode() if isinstance(k, bytes) else k for k in found]
        return [n[len(self._prefix) :] for n in names]

    def clear(self) -> None:
        for key in self.keys() + self.index_names():
            self.delete(key)

    def close(self) -> None:
        self._redis.close()


def _identity(directory: str) -> tuple[int, int] | None:
    try:
        found = os.stat(directory)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def open_backend(location: str, max_disk_bytes: int, timeout: float = 2.0) -> Any:
    """``redis://...`` selects Redis; anything else is a directory."""
    if urlparse(location).scheme in ("redis", "rediss", "unix"):
        return RedisBackend(location, timeout=timeout)
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


def _process_space() -> str:
    """Where a pid means this process's pids: the host name, the boot (a pid of an
    earlier boot is not ours) and the pid namespace (a container on the same host
    has its own pids).  Where the last two are unknown, the host alone."""
    parts = [socket.gethostname()]
    with contextlib.suppress(OSError), open("/proc/sys/kernel/random/boot_id") as boot:
        parts.append(boot.read().strip())
    with contextlib.suppress(OSError, AttributeError):
        parts.append(os.readlink("/proc/self/ns/pid"))
    return "/".join(parts)


def new_token() -> str:
    """A lock holder's id: where its pid is meaningful, and the pid, so a crashed
    holder of this host, boot and pid namespace can be told apart from a live one."""
    return f"{_process_space()}|{os.getpid()}|{uuid.uuid4().hex}"


def holder_is_dead(token: str | None) -> bool:
    """True if ``token`` names a process of this host, boot and pid namespace that no
    longer exists (a holder elsewhere is left to its lease lifetime)."""
    if not token or token.count("|") != 2:
        return False
    space, pid, _ = token.split("|")
    if space != _process_space() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False
