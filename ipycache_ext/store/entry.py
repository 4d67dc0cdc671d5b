"""One stored entry: what a miss computed, with what its key was made of.

Kept apart from the memory store that holds entries, because the same type is written
to the persistent tier: entries pickled before it moved here name
``ipycache_ext.store.memory.Entry``, which still resolves to it.
"""

from __future__ import annotations

import time
from typing import Any

from ..parts import FileState, Snapshot
from . import compact


class Entry:
    """A stored result (a function's value or a cell's record), the fingerprint it had
    when stored (for the mutation check), what its key was made of, and the files its
    run read (checked on every hit: :mod:`ipycache_ext.deps.files`).

    The same type is kept in memory and written to the persistent tier; ``expires``
    is this kernel's clock and is not meaningful elsewhere.  ``stored_at`` is wall-clock
    time (an entry's age means the same in every kernel sharing a store); ``hits``
    counts this kernel's hits on it.

    Slotted, with ``parts``, ``seconds`` and ``stored_at`` packed into one ``bytes``
    against a layout shared by the entries of one function (:mod:`.compact`): a tiny
    entry is a few hundred bytes.  It pickles as the dict of fields it always had, so
    entries persisted before and after read alike.
    """

    __slots__ = (
        "value",
        "fingerprint",
        "expires",
        "hits",
        "files",
        "size",
        "stat_check",
        "_layout",
        "_packed",
    )

    def __init__(
        self,
        value: Any,
        fingerprint: Any,
        parts: Snapshot,
        seconds: float,
        expires: float | None = None,
        stored_at: float | None = None,  # None: now (entries written before it existed)
        hits: int = 0,
        files: tuple[FileState, ...] = (),
    ) -> None:
        self.value = value
        self.fingerprint = fingerprint
        self.expires = expires
        self.hits = hits
        self.files = files
        # The hit's fast check of ``files`` (deps.filecheck.stat_check), made when first
        # needed; None again whenever ``files`` is replaced; False: none applies.
        self.stat_check: Any = None
        self.size: int | None = None  # bytes held, measured when stored (big ones only)
        self._layout = compact.layout_of(parts)
        when = time.time() if stored_at is None else stored_at
        self._packed = compact.pack(self._layout, parts, seconds, when)

    @property
    def parts(self) -> Snapshot:
        """What the key was made of, by part id (decoded when read, not on a hit)."""
        return compact.PackedParts(self._layout, self._packed)

    @property
    def seconds(self) -> float:
        return compact.times(self._packed)[0]

    @property
    def stored_at(self) -> float | None:
        return compact.times(self._packed)[1]

    @stored_at.setter
    def stored_at(self, when: float | None) -> None:
        seconds = self.seconds
        self._packed = compact.with_times(
            self._packed, seconds, time.time() if when is None else when
        )

    def expired(self, now: float) -> bool:
        return self.expires is not None and now >= self.expires

    def __getstate__(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "fingerprint": self.fingerprint,
            "parts": dict(self.parts),
            "seconds": self.seconds,
            "expires": None,
            "stored_at": self.stored_at,
            "hits": 0,
            "files": self.files,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            state["value"],
            state["fingerprint"],
            state["parts"],
            state["seconds"],
            state.get("expires"),
            state.get("stored_at"),
            state.get("hits", 0),
            state.get("files", ()),
        )
