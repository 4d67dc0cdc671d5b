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

from .. import messages

_DISK_MARGIN = 64 << 10  # room for the SQLite index and journal
_INLINE_BYTES = 1 << 16  # smaller entries live in the SQLite file, larger in files


Chunks = Any  # bytes, or a list of bytes-like chunks that together make an entry


def as_chunks(data: Chunks) -> list[Any]:
    return [data] if isinstance(data, (bytes, bytearray, memoryview)) else list(data)


def _read_buffer(size: int) -> memoryview:
    """A writable buffer to read an entry into.  numpy's allocator, when numpy is
    there, maps big buffers on huge pages: reading 80 MB takes a third of the time."""
    try:
        import numpy as np
    except ImportError:
        return memoryview(bytearray(size))
    return memoryview(np.empty(size, np.uint8))  # type: ignore[arg-type]  # has a buffer


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

    def renew(self, key: str, token: str, lease: float) -> None: ...

    def holder(self, key: str) -> str | None: ...

    def unlock(self, key: str, token: str) -> None: ...

    def keys(self) -> list[str]: ...

    def index_names(self) -> list[str]: ...

    def clear(self) -> None: ...


class DiskBackend:
    """A directory managed by diskcache, created owner-only (0700)."""

    def __init__(self, directory: str, max_bytes: int) -> None:
        import diskcache

        os.makedirs(directory, mode=0o700, exist_ok=True)
        with contextlib.suppress(OSError):  # a read-only mount can still be read
            os.chmod(directory, 0o700)
        self.where = directory
        self._max_bytes = max_bytes
        # Eviction is done here, one least recently used entry at a time: diskcache's
        # own culling drops ten entries whenever the store is over its bound.
        self._cache = diskcache.Cache(
            directory,
            size_limit=max_bytes,
            eviction_policy="least-recently-used",
            cull_limit=0,
        )

    def get(self, key: str) -> bytes | memoryview | None:
        try:
            found = self._cache.get(key, default=None, read=True, retry=True)
        except sqlite3.OperationalError:
            # Least-recently-used bookkeeping makes every read a write; on a full disk
            # read the entry without it rather than lose access to the store.
            return self._get_without_bookkeeping(key)
        if found is None or isinstance(found, bytes):
            return found
        with found:  # a value file: read it into one private buffer, no further copies
            size = os.fstat(found.fileno()).st_size
            data = _read_buffer(size)
            if found.readinto(data) != size:
                raise OSError(errno.EIO, messages.short_read_error(size))
        return data

    def _get_without_bookkeeping(self, key: str) -> bytes | None:
        row = self._cache._sql(
            "SELECT mode, filename, value FROM Cache WHERE key = ? AND raw = 1 "
            "AND (expire_time IS NULL OR expire_time > ?)",
            (key, time.time()),
        ).fetchone()
        if row is None:
            return None
        mode, filename, value = row
        return self._cache.disk.fetch(mode, filename, value, False)

    def set(self, key: str, data: Chunks, ttl: float | None) -> None:
        chunks = as_chunks(data)
        size = sum(len(c) for c in chunks)
        if size > self._max_bytes:
            raise EntryTooLarge(size, self._max_bytes)
        free = shutil.disk_usage(self.where).free
        if size + _DISK_MARGIN > free:
            # Refuse before writing: a half-written file would fill the disk for good.
            raise OSError(errno.ENOSPC, messages.no_room_error(size, free))
        if size <= _INLINE_BYTES:
            self._cache.set(key, b"".join(chunks), expire=ttl, retry=True)
        else:
            self._cache.set(key, _ChunkReader(chunks), expire=ttl, read=True, retry=True)
        self._evict()

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
        return bool(self._cache.add("lock:" + key, token, expire=lease, retry=True))

    def renew(self, key: str, token: str, lease: float) -> None:
        with self._cache.transact(retry=True):
            if self._cache.get("lock:" + key) == token:
                self._cache.set("lock:" + key, token, expire=lease)

    def holder(self, key: str) -> str | None:
        return self._cache.get("lock:" + key, retry=True)

    def unlock(self, key: str, token: str) -> None:
        with self._cache.transact(retry=True):
            if self._cache.get("lock:" + key) == token:
                self._cache.delete("lock:" + key)

    def keys(self) -> list[str]:
        return [k for k in self._cache.iterkeys() if not str(k).startswith(("lock:", "idx-"))]

    def index_names(self) -> list[str]:
        """The owner index records (:mod:`.owners`), apart from the entries."""
        return [k for k in self._cache.iterkeys() if str(k).startswith("idx-")]

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
    """A Redis database (``redis://host:port/db``): one store for a team of kernels."""

    def __init__(self, url: str, prefix: str = "ipycache:") -> None:
        try:
            import redis
        except ModuleNotFoundError as missing:
            if missing.name != "redis":
                raise  # redis is there but broken: its own error says more
            raise MissingExtra("redis", "redis") from missing

        self.where = url
        self._prefix = prefix
        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)

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

    def keys(self) -> list[str]:
        found = self._redis.scan_iter(match=self._prefix + "*")
        names = [k.decode() if isinstance(k, bytes) else k for k in found]
        names = [n[len(self._prefix) :] for n in names if ":lock:" not in n]
        return [n for n in names if not n.startswith("idx-")]

    def index_names(self) -> list[str]:
        """The owner index records (:mod:`.owners`), apart from the entries."""
        found = self._redis.scan_iter(match=self._prefix + "idx-*")
        names = [k.decode() if isinstance(k, bytes) else k for k in found]
        return [n[len(self._prefix) :] for n in names]

    def clear(self) -> None:
        for key in self.keys() + self.index_names():
            self.delete(key)

    def close(self) -> None:
        self._redis.close()


def open_backend(location: str, max_disk_bytes: int) -> Any:
    """``redis://...`` selects Redis; anything else is a directory."""
    if urlparse(location).scheme in ("redis", "rediss", "unix"):
        return RedisBackend(location)
    return DiskBackend(os.path.expanduser(location), max_disk_bytes)


def new_token() -> str:
    """A lock holder's id: host and pid, so a crashed local holder can be told apart."""
    return f"{socket.gethostname()}|{os.getpid()}|{uuid.uuid4().hex}"


def holder_is_dead(token: str | None) -> bool:
    """True if ``token`` names a process on this host that no longer exists."""
    if not token or token.count("|") != 2:
        return False
    host, pid, _ = token.split("|")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False
