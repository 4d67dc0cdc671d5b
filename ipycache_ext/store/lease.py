"""The cross-kernel compute lease on a persistent store's key: the right to compute it
(held, and renewed while the computation runs), and breaking a lease whose holder
died.

Two kernels missing the same key compute it once: one takes the lease, the other
waits (between :data:`FIRST_PAUSE` and :data:`LONGEST_PAUSE` apart) until the entry is
stored or the lease is free.  A crashed kernel's lease expires, and one held by a
process of this host that is gone is broken at once.

A claim also carries the store call its lookup opened (:mod:`.backends.deadline`): the
write and the release after the computation share that call's deadline, and the call
ends with the release.
"""

from __future__ import annotations

import contextlib
import threading
from contextvars import Token
from typing import Any

from ..config import SETTINGS
from .backends import deadline
from .backends.base import Backend
from .backends.holders import holder_is_dead
from .entry import Entry

# How long a kernel waits between tries of a lease another kernel holds.
FIRST_PAUSE, LONGEST_PAUSE = 0.02, 0.5


class Claim:
    """The right to compute a key (holding the store's lease, renewed while it runs),
    or the entry another kernel stored meanwhile (``stored``)."""

    def __init__(
        self, backend: Backend, name: str, token: str | None, stored: Entry | None
    ) -> None:
        self.stored = stored
        self._backend = backend
        self._name = name
        self._token = token
        self._renewal = _Renewal(backend, name, token) if token and stored is None else None
        self.call: Token[Any] | None = None  # the store call this claim's lookup opened

    def release(self) -> None:
        if self._renewal is not None:
            self._renewal.stop()
        try:
            if self._token is not None:
                with contextlib.suppress(Exception):
                    self._backend.unlock(self._name, self._token)
        finally:
            if self.call is not None:
                deadline.close_call(self.call)


class _Renewal:
    """Keeps a lease alive while its holder computes (every third of the lease)."""

    def __init__(self, backend: Backend, name: str, token: str) -> None:
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(backend, name, token), daemon=True)
        self._thread.start()

    def _run(self, backend: Backend, name: str, token: str) -> None:
        while not self._stopped.wait(SETTINGS.lease_seconds / 3):
            with contextlib.suppress(Exception):
                backend.renew(name, token, SETTINGS.lease_seconds)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()


def break_dead_lock(backend: Backend, name: str) -> None:
    """A lock held by a process of this host that died (kill -9) is released now,
    not when its lease runs out; one older than its lifetime (or not written by
    this store: no expiry, a planted row) is broken whatever its row says."""
    with contextlib.suppress(Exception):
        if backend.break_stale(name, SETTINGS.lease_seconds):
            return
        holder = backend.holder(name)
        if holder is not None and holder_is_dead(holder):
            backend.unlock(name, holder)
