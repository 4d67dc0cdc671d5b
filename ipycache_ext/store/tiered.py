"""A near store in front of a far one: ``store = "~/.cache/ipycache|s3://team-bucket/cache"``.

Reads try the near store (a local directory) first and copy a far hit into it, so a
second hit on the same machine does not go to the network; writes go to both; the
compute lease lives on the far store, which all the team's kernels share.  An entry
already in the near store needs no lease (nothing is computed), so such a hit does not
touch the far store at all: it keeps hitting while the team's server is down.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from .backends import Backend, Chunks, EntryTooLarge

SEPARATOR = "|"


class TieredBackend:
    """``near`` (read first, a cache of ``far``) and ``far`` (the shared store)."""

    def __init__(self, near: Backend, far: Backend) -> None:
        self.near, self.far = near, far
        self.where = f"{near.where}{SEPARATOR}{far.where}"
        # One namespace for both: the near store holds copies of the far store's entries.
        self.namespace: str = getattr(far, "namespace", "dir")
        # Entries read from the near store by try_lock, handed to the get that follows
        # (the tier takes the lease, then reads): read once, not twice.
        self._ahead = threading.local()
        # Which store the last get of this thread was served from (a rejected copy is
        # dropped there only).
        self._served = threading.local()
        self._near_grants: set[str] = set()

    def _near_get(self, key: str) -> Any:
        try:
            return self.near.get(key)
        except Exception:
            return None  # a failing local cache is only slower: the far store has it

    def get(self, key: str) -> Any:
        self._served.near = True
        ahead = getattr(self._ahead, "entry", None)
        if ahead is not None and ahead[0] == key:
            self._ahead.entry = None
            return ahead[1]
        found = self._near_get(key)
        if found is not None:
            return found
        self._served.near = False
        found = self.far.get(key)
        if found is not None:
            self._copy_near(key, found)
        return found

    def served_near(self) -> bool:
        """True when this thread's last :meth:`get` came from the near store."""
        return bool(getattr(self._served, "near", False))

    def far_get(self, key: str) -> Any:
        """The far store's copy, read past the near one (which was found bad)."""
        self._served.near = False
        return self.far.get(key)

    def repair_near(self, key: str, data: Any) -> None:
        """A verified far copy replaces a bad near one."""
        self._copy_near(key, data)

    def drop_read_copy(self, key: str) -> None:
        """Drop the copy the last get returned, from the store it came from only (a
        bad far copy is dropped from both: the near one was copied from it)."""
        if self.served_near():
            self.near.delete(key)
        else:
            self.delete(key)

    def _copy_near(self, key: str, data: Any) -> None:
        expires = getattr(self.far, "expires_of_last_get", lambda: None)()
        ttl = None if expires is None else expires - time.time()
        if ttl is not None and ttl <= 0:
            return
        with contextlib.suppress(Exception):
            self.near.set(key, data, ttl)

    def set(self, key: str, data: Chunks, ttl: float | None) -> None:
        self.far.set(key, data, ttl)
        with contextlib.suppress(EntryTooLarge):  # the far store has it: enough
            self.near.set(key, data, ttl)

    def delete(self, key: str) -> None:
        with contextlib.suppress(Exception):
            self.near.delete(key)
        self.far.delete(key)

    def try_lock(self, key: str, token: str, lease: float) -> bool:
        """Granted without the far store when the near store has the entry: it is read,
        not computed."""
        found = self._near_get(key)
        if found is not None:
            self._ahead.entry = (key, found)
            self._near_grants.add(token)
            return True
        return self.far.try_lock(key, token, lease)

    def renew(self, key: str, token: str, lease: float) -> None:
        if token not in self._near_grants:
            self.far.renew(key, token, lease)

    def holder(self, key: str) -> str | None:
        return self.far.holder(key)

    def unlock(self, key: str, token: str) -> None:
        if token in self._near_grants:
            self._near_grants.discard(token)
            return
        self.far.unlock(key, token)

    def keys(self) -> list[str]:
        return self.far.keys()

    def index_names(self) -> list[str]:
        return self.far.index_names()

    def clear(self) -> None:
        with contextlib.suppress(Exception):
            self.near.clear()
        self.far.clear()

    def close(self) -> None:
        for store in (self.near, self.far):
            with contextlib.suppress(Exception):
                store.close()  # type: ignore[attr-defined]
