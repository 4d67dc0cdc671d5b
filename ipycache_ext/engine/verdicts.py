"""Whether a stored entry may still be used, and why not: the files its run read.

:meth:`~ipycache_ext.engine.cached.Cached.judge` gives one :class:`Verdict` that both the
lookup and a dry run (``explain``) act on.  A lookup that rejects an entry for its files
keeps the reasons (:class:`~ipycache_ext.keys.why.StaleReasons`) until the miss that
follows says them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import SETTINGS
from ..deps import filecheck
from ..parts import Reason
from ..store.memory import Entry


@dataclass(frozen=True)
class Verdict:
    """Whether a stored entry may be used, and if not why: files that changed
    (``reasons``), or how it went (``gone``: "invalid" when ``validate`` refused it)."""

    usable: bool
    reasons: tuple[Reason, ...] = ()
    gone: str | None = None


USABLE = Verdict(True)


def file_reasons(entry: Entry) -> tuple[Reason, ...]:
    """Why files the entry's run read no longer match (empty: all unchanged).  Same
    bytes under a new stat: unchanged, and the entry keeps the new stat."""
    if not SETTINGS.track_files:
        return ()
    fast = entry.stat_check
    if fast is None:
        fast = entry.stat_check = filecheck.stat_check(entry.files) or False
    if fast and filecheck.unchanged(fast):
        return ()
    reasons, refreshed = filecheck.check(entry.files)
    if refreshed is not None:
        entry.files, entry.stat_check = refreshed, None
    return tuple(reasons)


__all__ = ["Verdict", "USABLE", "file_reasons"]
