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

import os
import uuid
from typing import Any, Protocol
from urllib.parse import urlparse


class Backend(Protocol):
    """What a persistent store must do; every method may raise ``OSError``-like errors."""

    where: str

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, data: bytes, ttl: float | None) -> None: ...

    def delete(self, key: str) -> None: ...

    def try_lock(self, key: str, token: str, lease: float) -> bool: ...

    def unlock(self, key: str, token: str) -> None: ...

    def keys(self) -> list[str]: ...

    def clear(self) -> None: ...


class DiskBackend:
    """A directory managed by diskcache, created owner-only (0700)."""

    def __init__(self, directory: str, max_bytes: int) -> None:
        import diskcache

        os.makedirs(directory, mode=0o700, exist_ok=True)
        os.chmod(directory, 0o700)
        self.where = directory
        self._cache = diskcache.Cache(
            directory,
            size_limit=max_bytes,
            eviction_policy="least-recently-used",
            cull_limit=10,
        )

    def get(self, key: str) -> bytes | None:
        return self._cache.get(key, default=None, retry=True)

    def set(self, key: str, data: bytes, ttl: float | None) -> None:
        self._cache.set(key, data, expire=ttl, retry=True)

    def delete(self, key: str) -> None:
        self._cache.delete(key, retry=True)

    def try_lock(self, key: str, token: str, lease: float) -> bool:
        return bool(self._cache.add("lock:" + key, token, expire=lease, retry=True))

    def unlock(self, key: str, token: str) -> None:
        with self._cache.transact(retry=True):
            if self._cache.get("lock:" + key) == token:
                self._cache.delete("lock:" + key)

    def keys(self) -> list[str]:
        return [k for k in self._cache.iterkeys() if not str(k).startswith("lock:")]

    def clear(self) -> None:
        self._cache.clear(retry=True)

    def close(self) -> None:
        self._cache.close()


_UNLOCK_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class RedisBackend:
    """A Redis database (``redis://host:port/db``): one store for a team of kernels."""

    def __init__(self, url: str, prefix: str = "ipycache:") -> None:
        import redis

        self.where = url
        self._prefix = prefix
        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)

    def get(self, key: str) -> bytes | None:
        return self._redis.get(self._prefix + key)

    def set(self, key: str, data: bytes, ttl: float | None) -> None:
        px = None if ttl is None else max(1, int(ttl * 1000))
        self._redis.set(self._prefix + key, data, px=px)

    def delete(self, key: str) -> None:
        self._redis.delete(self._prefix + key)

    def try_lock(self, key: str, token: str, lease: float) -> bool:
        px = max(1, int(lease * 1000))
        return bool(self._redis.set(self._prefix + "lock:" + key, token, nx=True, px=px))

    def unlock(self, key: str, token: str) -> None:
        self._redis.eval(_UNLOCK_SCRIPT, 1, self._prefix + "lock:" + key, token)

    def keys(self) -> list[str]:
        found = self._redis.scan_iter(match=self._prefix + "*")
        names = [k.decode() if isinstance(k, bytes) else k for k in found]
        return [n[len(self._prefix) :] for n in names if ":lock:" not in n]

    def clear(self) -> None:
        for key in self.keys():
            self.delete(key)

    def close(self) -> None:
        self._redis.close()


def open_backend(location: str, max_disk_bytes: int) -> Any:
    """``redis://...`` selects Redis; anything else is a directory."""
    if urlparse(location).scheme in ("redis", "rediss", "unix"):
        return RedisBackend(location)
    return DiskBackend(os.path.expanduser(location), max_disk_bytes)


def new_token() -> str:
    return f"{os.getpid()}-{uuid.uuid4().hex}"
