"""A Redis database as a persistent backend (``redis://host:port/db``, ``rediss://``,
``unix://``): one store for a team of kernels, with its leases as keys that expire."""

from __future__ import annotations

from ... import messages
from .base import INDEX_PREFIX, Backend, Chunks, MissingExtra, as_chunks

_UNLOCK_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_RENEW_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""


class RedisBackend(Backend):
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
        """The owner index records (:mod:`..owners`), apart from the entries."""
        found = self._redis.scan_iter(match=self._prefix + INDEX_PREFIX + "*")
        names = [k.decode() if isinstance(k, bytes) else k for k in found]
        return [n[len(self._prefix) :] for n in names]

    def clear(self) -> None:
        for key in self.keys() + self.index_names():
            self.delete(key)

    def close(self) -> None:
        self._redis.close()
