"""A miss's outcome as facts, handed to :mod:`..messages` for its words.

The engine decides what a miss note says (what ran, how long, why it missed, what its
code reads unseen); the words are the messages' alone.  A front end that holds notes
for a summary (``notify.held``) gets the facts without the argument reprs.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import messages
from ..parts import Reason


@dataclass(frozen=True)
class MissReport:
    """One outermost miss: ``label`` (the function or cell), ``what`` ran (``f(2)``),
    its ``seconds``, why it missed, and the native readers its code names (``unseen``).
    ``what`` is None when the front end holds the note: it is only counted, so the
    call is not described (no argument reprs are built)."""

    label: str
    what: str | None
    seconds: float
    reasons: tuple[Reason, ...]
    unseen: tuple[str, ...] = ()

    @property
    def note(self) -> messages.Note:
        if self.what is None:
            return messages.held_miss_note(self.label, self.seconds, list(self.reasons))
        return messages.miss_note(
            self.what, self.seconds, list(self.reasons), self.unseen, self.label
        )


__all__ = ["MissReport"]
