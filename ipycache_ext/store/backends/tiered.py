"""A near store in front of a far one: ``store = "~/.cache/ipycache|s3://team-bucket/cache"``.

Reads try the near store (a local directory) first and copy a far hit into it, so a
second hit on the same machine does not go to the network; writes go to both; the
compute lease lives on the far store, which all the team's kernels share.  An entry
already in the near store needs no lease (nothing is computed), so such a hit does not
touch the far store at all: it keeps hitting while the team's server is down.

New results go to the near store first, then to the far one.  A far store that fails
is said once and left alone for ``store_retry_seconds`` (as the tier does with a
remote store of its own): meanwhile reads, writes and leases are the near store's,
so a kernel keeps storing and hitting locally while the bucket is down.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from ... import messages, notify
from ...config import SETTINGS
from ..segments import Leaves
from .base import Backend, Chunks, EntryTooLarge, Read

SEPARATOR = "|"


class TieredBackend(Backend):
    """``near`` (read first, a cache of ``far``) and ``far`` (the shared store).

    Each :class:`.Read` says whether the near store served it: a copy the tier rejects
    is dropped from that store only, and a bad near copy sends the tier to the far one.
    """

    def __init__(self, near: Backend, far: Backend) -> None:
        self.near, self.far = near, far
        self.where = f"{near.where}{SEPARATOR}{far.where}"
        # One namespace for both: the near store holds copies of the far store's entries.
        self.namespace = far.namespace
        self._near_grants: set[str] = set()
        self._far_skip_until = 0.0  # a far store that failed is left alone until then
        self._far_said = False

    def _far_down(self) -> bool:
        """True while a far store that failed is left alone."""
        return time.monotonic() < self._far_skip_until

    def _far_failed(self, exc: BaseException) -> None:
        """Say once that the far store failed; leave it alone for a while."""
        self._far_skip_until = time.monotonic() + SETTINGS.store_retry_seconds
        if not self._far_said:
            self._far_said = True
            detail = messages.redacted(f"{type(exc).__name__}: {exc}")
            notify.emit(
                messages.shared_store_down_warning(
                    self.far.where, self.near.where, detail, SETTINGS.store_retry_seconds
                )
            )

    def _far(self, call: Any, *args: Any, failed: Any = None) -> Any:
        """``call(*args)`` on the far store, or ``failed`` while it is down or when it
        fails now."""
        if self._far_down():
            return failed
        try:
            return call(*args)
        except EntryTooLarge:
            raise
        except Exception as exc:
            self._far_failed(exc)
            return failed

    def _near_read(self, key: str, start: int, leaf: Leaves | None) -> Read | None:
        try:
            return self.near.read(key, start, leaf)
        except Exception:
            return None  # a failing local cache is only slower: the far store has it

    def get(self, key: str) -> Any:
        found = self.read(key)
        return None if found is None else found.data

    def read(self, key: str, start: int = 0, leaf: Leaves | None = None) -> Read | None:
        found = self._near_read(key, start, leaf)
        if found is not None:
            return Read(found.data, found.leaves, found.expires, near=True)
        found = self.read_far(key, start, leaf)
        if found is not None:
            self.repair_near(key, found)
        return found

    def gone(self) -> bool:
        """True when either store's directory was deleted since it was opened."""
        return self.near.gone() or self.far.gone()

    def read_far(self, key: str, start: int = 0, leaf: Leaves | None = None) -> Read | None:
        """The far store's copy, read past the near one (which was found bad)."""
        found: Read | None = self._far(self.far.read, key, start, leaf)
        return None if found is None else Read(found.data, found.leaves, found.expires)

    def repair_near(self, key: str, found: Read) -> None:
        """A far copy (just read, or verified after a bad near one) goes into the near
        store, with what is left of its time to live."""
        ttl = None if found.expires is None else found.expires - time.time()
        if ttl is not None and ttl <= 0:
            return
        with contextlib.suppress(Exception):
            self.near.set(key, found.data, ttl)

    def drop_copy(self, key: str, found: Read) -> None:
        """Drop the copy ``found`` came from, from that store only (a bad far copy is
        dropped from both: the near one was copied from it)."""
        if found.near:
            self.near.delete(key)
        else:
            self.delete(key)

    def set(self, key: str, data: Chunks, ttl: float | None) -> None:
        """The near store first (kept there whatever the far one does), then the far
        one; raises only if neither took it."""
        try:
            self.near.set(key, data, ttl)
        except Exception:
            self.far.set(key, data, ttl)  # the team has it: enough
            return
        with contextlib.suppress(EntryTooLarge):  # the near store has it: enough
            self._far(self.far.set, key, data, ttl)

    def delete(self, key: str) -> None:
        with contextlib.suppress(Exception):
            self.near.delete(key)
        self._far(self.far.delete, key)

    def try_lock(self, key: str, token: str, lease: float) -> bool:
        """Granted without the far store when the near store has the entry: it is read,
        not computed."""
        if self._near_has(key):
            self._near_grants.add(token)
            return True
        taken = self._far(self.far.try_lock, key, token, lease)
        if taken is None:  # the far store is down: no lease to take, compute here
            self._near_grants.add(token)
            return True
        return bool(taken)

    def _near_has(self, key: str) -> bool:
        try:
            return self.near.has(key)
        except Exception:
            return False

    def renew(self, key: str, token: str, lease: float) -> None:
        if token not in self._near_grants:
            self._far(self.far.renew, key, token, lease)

    def holder(self, key: str) -> str | None:
        found: str | None = self._far(self.far.holder, key)
        return found

    def break_stale(self, key: str, lease: float) -> bool:
        return bool(self._far(self.far.break_stale, key, lease, failed=False))

    def unlock(self, key: str, token: str) -> None:
        if token in self._near_grants:
            self._near_grants.discard(token)
            return
        self._far(self.far.unlock, key, token)

    def keys(self) -> list[str]:
        return self.far.keys()

    def index_names(self) -> list[str]:
        return self.far.index_names()

    def owned(self, names: list[str]) -> list[str]:
        return self.far.owned(names)

    def clear(self) -> None:
        with contextlib.suppress(Exception):
            self.near.clear()
        self.far.clear()

    def close(self) -> None:
        for store in (self.near, self.far):
            with contextlib.suppress(Exception):
                store.close()
