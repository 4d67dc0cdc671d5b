"""Where notes go in IPython: into the running cell.

A loop that misses a function hundreds of times would print hundreds of notes: the
first few misses of one function in one cell are shown as they happen, the rest are
summed up in one note when the cell ends (how many, how long, why in short).
"""

from __future__ import annotations

import collections
import functools
import threading
from collections.abc import Callable
from typing import Any

from IPython.display import display

from .. import messages, notify
from ..messages import Note

SHOWN = 3  # misses of one function per cell shown one by one; the rest summed up


class CellSink:
    """The notes sink of a shell: counts each function's misses in the running cell."""

    def __init__(self, show: Callable[[Note], None]) -> None:
        self._show = show
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}
        self._held: dict[str, tuple[int, float, collections.Counter[str]]] = {}

    def __call__(self, note: Note) -> None:
        if note.kind == "miss" and note.subject:
            with self._lock:
                count = self._seen[note.subject] = self._seen.get(note.subject, 0) + 1
                if count > SHOWN:
                    times, seconds, gists = self._held.get(
                        note.subject, (0, 0.0, collections.Counter())
                    )
                    gists.update(note.gists)
                    self._held[note.subject] = (times + 1, seconds + note.seconds, gists)
                    return
        self._show(note)

    def holds(self, subject: str) -> bool:
        """True if a miss note of ``subject`` would be held back now (see
        :func:`.notify.held`)."""
        return self._seen.get(subject, 0) >= SHOWN

    def cell_started(self, *_: Any) -> None:
        with self._lock:
            self._seen.clear()
            self._held.clear()

    def cell_finished(self, *_: Any) -> None:
        """Show the sums of the misses held back while the cell ran."""
        with self._lock:
            held, self._held = self._held, {}
            self._seen.clear()
        for subject, (times, seconds, gists) in held.items():
            notify.emit_silently(
                functools.partial(
                    self._show, messages.miss_summary_note(subject, times, seconds, dict(gists))
                )
            )


def show(note: Note) -> None:
    """Display ``note`` in the running cell (text and HTML)."""
    display({"text/plain": note.text, "text/html": note.html}, raw=True)
