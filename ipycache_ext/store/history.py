"""How the memory store's entries went: expired, evicted, cleared, dropped for memory.

A key that misses after its entry went should say why ("it expired", "it was evicted"),
not just "first call".  The memory store tells its history each time an entry leaves;
the next miss of that key asks, once.  Per owner, only the latest keys are kept, so a
long-running kernel does not grow without bound.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

_GONE_KEPT = 1024  # per owner: how many vanished keys a miss can still explain


class History:
    """Per owner, how each of its latest vanished keys went."""

    def __init__(self, lock: threading.RLock) -> None:
        # The memory store's lock: it records under it, and a miss reads under it.
        self.lock = lock
        self._gone: dict[str, OrderedDict[bytes, str]] = {}

    def went(self, owner: str, key: bytes, how: str) -> None:
        """Remember (boundedly) how ``key``'s entry went; the caller holds the lock."""
        gone = self._gone.setdefault(owner, OrderedDict())
        gone[key] = how
        while len(gone) > _GONE_KEPT:
            gone.popitem(last=False)

    def back(self, owner: str, key: bytes) -> None:
        """``key`` has an entry again: nothing to explain; the caller holds the lock."""
        gone = self._gone.get(owner)
        if gone:
            gone.pop(key, None)

    def how_gone(self, owner: str, key: bytes) -> str | None:
        """How ``key``'s entry went ("expired", "evicted", "cleared", ...), told once;
        None if it had none."""
        if not self._gone.get(owner):
            return None  # the common case, read without the lock (a dict read is atomic)
        with self.lock:
            return self._gone.get(owner, _NO_GONE).pop(key, None)

    def peek(self, owner: str, key: bytes) -> str | None:
        """:meth:`how_gone` without using it up: for a dry run (``f.explain``)."""
        with self.lock:
            return self._gone.get(owner, _NO_GONE).get(key)


_NO_GONE: OrderedDict[bytes, str] = OrderedDict()  # a read-only stand-in for absent
