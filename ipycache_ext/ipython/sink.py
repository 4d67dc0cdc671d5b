"""Where notes go in IPython: into the running cell.

A loop that misses a function hundreds of times would print hundreds of notes: the
first few misses of one function in one cell are shown as they happen, the rest are
summed up in one note when the cell ends (how many, how long, why in short).
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import functools
import threading
from collections.abc import Callable, Iterator
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


@contextlib.contextmanager
def spinner(note: Note, delay: float) -> Iterator[None]:
    """Show ``note`` if the body is still running after ``delay`` seconds, then blank it."""
    shown: list[Any] = []
    context = contextvars.copy_context()

    def show() -> None:
        notify.emit_silently(lambda: shown.append(_display_with_id(note)))

    timer = threading.Timer(delay, context.run, args=(show,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()
        for handle in shown:
            if handle is not None:
                notify.emit_silently(functools.partial(handle.update, {"text/plain": ""}, raw=True))


def _display_with_id(note: Note) -> Any:
    return display({"text/plain": note.text, "text/html": note.html}, raw=True, display_id=True)
