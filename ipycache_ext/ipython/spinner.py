"""The "running ..." note of a long miss: shown when the body still runs after a
delay, blanked when it ends (in Jupyter in place; in terminal IPython its line is
erased).

One daemon thread waits for the delays of every running miss.  A timer thread started
and joined per miss cost 150-200 µs each: a cell looping over 20,000 quick misses spent
about 5 s on timers that never fired.  Now a miss that ends before its delay costs a
heap push and pop under a lock, and its note is never even built.
"""

from __future__ import annotations

import contextvars
import functools
import heapq
import itertools
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from IPython import get_ipython
from IPython.core.displaypub import DisplayPublisher
from IPython.display import display

from .. import notify
from ..messages import Note


class _Pending:
    """One running miss's note, waiting for its time."""

    __slots__ = ("due", "make", "context", "done", "showing", "handle")

    def __init__(self, due: float, make: Callable[[], Note]) -> None:
        self.due, self.make = due, make
        self.context = contextvars.copy_context()  # the cell the note belongs to
        self.done = False  # the miss ended: not shown from now on
        self.showing = False  # being displayed by the watchdog right now
        self.handle: Any = None  # its display handle once shown


class _Watchdog:
    """Shows each pending note whose time came while its miss still runs."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, _Pending]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, pending: _Pending) -> None:
        with self._cond:
            heapq.heappush(self._heap, (pending.due, next(self._order), pending))
            if self._thread is None:  # after a fork the child makes a new watchdog
                self._thread = threading.Thread(
                    target=self._run, name="ipycache-spinner", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is pending:  # sooner than what the watchdog waits for
                self._cond.notify_all()

    def finish(self, pending: _Pending) -> Any:
        """The miss ended: its note is not shown any more; its handle if it was.  Waits
        while the watchdog is displaying it, so the caller can blank it."""
        with self._cond:
            pending.done = True
            while pending.showing:
                self._cond.wait()
            heap = self._heap
            while heap and heap[0][2].done:  # a loop of quick misses keeps the heap empty
                heapq.heappop(heap)
            return pending.handle

    def _next_due(self) -> _Pending:
        """Waits for the first note whose time came and whose miss still runs."""
        with self._cond:
            while True:
                if not self._heap:
                    self._cond.wait()
                    continue
                due, _, pending = self._heap[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                if not pending.done:
                    pending.showing = True
                    return pending

    def _run(self) -> None:
        while True:
            pending = self._next_due()
            handle = None
            try:
                note = pending.make()
                handle = pending.context.run(notify.emit_silently, functools.partial(_show, note))
            except Exception:  # noqa: S110  # a note that cannot show is no reason to stop the rest
                pass
            finally:
                with self._cond:
                    pending.showing, pending.handle = False, handle
                    self._cond.notify_all()


_watchdog = _Watchdog()


def _forget_watchdog() -> None:
    """In a forked child the watchdog thread is not there (nor whoever held its lock)."""
    global _watchdog
    _watchdog = _Watchdog()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_watchdog)


class Spinner:
    """The spinner of one miss (a context manager around its body)."""

    __slots__ = ("_pending",)

    def __init__(self, make: Callable[[], Note], delay: float) -> None:
        self._pending = _Pending(time.monotonic() + delay, make)

    def __enter__(self) -> None:
        _watchdog.add(self._pending)

    def __exit__(self, *exc: object) -> None:
        shown = _watchdog.finish(self._pending)
        if shown is not None:
            notify.emit_silently(shown.erase)


class _Displayed:
    """A note shown with a display id (Jupyter): blanked in place when the miss ends."""

    __slots__ = ("_handle",)

    def __init__(self, note: Note) -> None:
        data = {"text/plain": note.text, "text/html": note.html}
        self._handle = display(data, raw=True, display_id=True)

    def erase(self) -> None:
        self._handle.update({"text/plain": ""}, raw=True)


# Carriage return, then erase the whole line: the cursor is back where the note began.
ERASE_LINE = "\r\x1b[2K"


class TerminalLine:
    """A note written on the terminal's current line (terminal IPython, whose displays
    are printed and can never be updated): erased when the miss ends, so no "running"
    line is left above the result."""

    __slots__ = ("_stream", "_shown")

    def __init__(self, note: Note, stream: Any) -> None:
        self._stream = stream
        self._shown = True
        stream.write(ERASE_LINE + note.text)
        stream.flush()
        notify.erase_before_output(self.erase)  # the body's own output comes below it

    def erase(self) -> None:
        if self._shown:
            self._shown = False
            notify.withdraw_erase(self.erase)
            self._stream.write(ERASE_LINE)
            self._stream.flush()


def _show(note: Note) -> _Displayed | TerminalLine | None:
    """Show ``note`` where the front end can take it back: in place in Jupyter, on the
    terminal's line in terminal IPython; not at all where neither can (displays
    printed into a pipe or a file: a note there would stay for good)."""
    shell = get_ipython()
    if shell is None or type(shell.display_pub) is not DisplayPublisher:
        return _Displayed(note)
    stream = sys.stdout
    isatty = getattr(stream, "isatty", None)
    return TerminalLine(note, stream) if isatty is not None and isatty() else None
