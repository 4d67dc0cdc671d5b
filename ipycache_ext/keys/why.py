"""Why a key missed, as structured :class:`~ipycache_ext.parts.Reason` s.

A miss compares its key's snapshot with the last one seen for the same function or
cell (:func:`why_missed`); a lookup that found an entry but could not use it (a file it
read changed) keeps its reasons in :class:`StaleReasons` until the miss that follows
says them.  :mod:`ipycache_ext.messages` words the reasons.
"""

from __future__ import annotations

import threading

from ..parts import REF_DATA, PartKind, Reason, ReasonKind, Snapshot, SplitSnapshot


def same_code(before: Snapshot | None, now: Snapshot) -> bool:
    """True when two snapshots share their code's parts (made on the same guards):
    only their arguments can differ, so no value read by name is to blame."""
    return (
        type(before) is SplitSnapshot and type(now) is SplitSnapshot and before.shared is now.shared
    )


def why_missed(before: Snapshot | None, now: Snapshot, gone: str | None = None) -> list[Reason]:
    """Why a key differs from the last one seen for the same function or cell.

    ``gone`` says how this very key's entry went (expired, evicted, cleared): an
    expired or evicted entry explains the miss better than a comparison with the
    previous call; a clear does when no call was made since.
    """
    if gone is not None and (gone != "cleared" or before is None):
        return [Reason(ReasonKind.GONE, gone=gone)]
    if before is None:
        return [Reason(ReasonKind.FIRST_CALL)]
    if type(before) is SplitSnapshot and type(now) is SplitSnapshot and before.shared is now.shared:
        before, now = before.own, now.own  # the same code's parts: only the call's differ
    reasons = []
    references = []  # names newly bound to user code: why, when nothing else says
    for ident, seen in now.items():
        old = before.get(ident)
        if old is not None and old.data == seen.data:
            continue
        if old is None and (ident.kind == PartKind.CODE.value or seen.data.startswith(REF_DATA)):
            # Newly reached code: the part that leads to it says why (or, with no
            # other change, a name that now refers to it: a builtin shadowed).
            if ident.kind != PartKind.CODE.value:
                references.append(Reason(ReasonKind.CHANGED, ident, None, seen.shown))
            continue
        rebound = old is not None and old.data.startswith(REF_DATA)
        kind = ReasonKind.REBOUND if rebound and seen.data.startswith(REF_DATA) else None
        reasons.append(
            Reason(
                kind or ReasonKind.CHANGED, ident, None if old is None else old.shown, seen.shown
            )
        )
    for ident, seen in before.items():
        if ident not in now and ident.kind != PartKind.CODE.value:
            if seen.data.startswith(REF_DATA):
                continue  # code no longer reached: the changed code that read it says why
            reasons.append(Reason(ReasonKind.REMOVED, ident))
    return reasons or references or [Reason(ReasonKind.NO_ENTRY)]


class StaleReasons:
    """Why one owner's entries were found stale, by key digest, until the miss that
    follows says so (it pops its own).  Bounded: a lookup whose miss never came (the
    run raised before it) leaves its reasons behind, the oldest of which go first."""

    __slots__ = ("_kept", "_lock", "_most")

    def __init__(self, most: int = 1024) -> None:
        self._kept: dict[bytes, tuple[Reason, ...]] = {}
        self._lock = threading.Lock()
        self._most = most

    def keep(self, digest: bytes, reasons: tuple[Reason, ...]) -> None:
        with self._lock:
            while len(self._kept) >= self._most:
                self._kept.pop(next(iter(self._kept)))
            self._kept[digest] = reasons

    def pop(self, digest: bytes) -> tuple[Reason, ...] | None:
        """The reasons kept for ``digest`` (None: its entry was not found stale)."""
        return self._kept.pop(digest, None)

    def __len__(self) -> int:
        return len(self._kept)
