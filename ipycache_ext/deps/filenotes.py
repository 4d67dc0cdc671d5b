"""What a miss's file recording has to tell the user besides why it missed."""

from __future__ import annotations

from .. import messages
from .recording import Recorder

# Functions and cells told once that they change a file they read.
_rewrites_said: set[str] = set()


def warnings(reads: Recorder, owner: str, label: str) -> list[messages.Note]:
    """Declared patterns that matched nothing (on each miss: the entry tracks no file
    of them); a run that changed files it reads (once per function or cell: each of
    its calls runs again)."""
    found = []
    if reads.unmatched:
        patterns = tuple(dict.fromkeys(reads.unmatched))
        found.append(messages.unmatched_pattern_warning(label, patterns, reads.cwd))
    if reads.rewritten and owner not in _rewrites_said:
        _rewrites_said.add(owner)
        found.append(messages.own_input_changed_warning(label, reads.rewritten))
    return found
