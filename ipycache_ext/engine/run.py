"""One run of a miss: how deep it is among misses, the hooks' context around it, the
files it reads and its clock.

The engine enters a :class:`Run` around every miss's body, so it is a plain class:
a generator-based context manager costs several times more to enter and leave.
"""

from __future__ import annotations

import contextvars
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from ..deps import files

# Misses of functions running in this thread or task: a context variable, so each task
# of ``asyncio.gather`` starts from its creator's depth and three misses gathered at
# the top level are three outermost misses, each with its own note.
depth: contextvars.ContextVar[int] = contextvars.ContextVar("ipycache_miss_depth", default=0)
# One item per run in progress in any thread or task.  While it is empty, every call is
# an outermost one without reading ``depth`` (a hit asks).  A list: appending and
# popping are atomic, so a run counts itself without a lock.
active: list[None] = []


class Run:
    """One run of a miss, as the context around it: its nesting depth, its hooks'
    context (``running``), the files it reads, its clock, and what it returned.

    A class, not a generator: it is entered on every miss, and a generator-based
    context manager costs several times more to enter and leave.
    """

    __slots__ = (
        "_nests",
        "_make_running",
        "_call",
        "_running",
        "_token",
        "started",
        "watch",
        "reads",
        "value",
        "seconds",
    )

    def __init__(
        self, nests: bool, running: Callable[[Any], AbstractContextManager[Any]], call: Any
    ) -> None:
        self._nests = nests
        self._make_running = running
        self._call = call
        self.value: Any = None
        self.seconds = 0.0

    def __enter__(self) -> Run:
        self.started = time.perf_counter()
        active.append(None)  # before the depth moves: ``active`` is never behind it
        token = self._token = depth.set(depth.get() + self._nests)
        try:
            # ``running`` sees this miss's depth (a spinner is for the outermost), and
            # recording starts inside it: a spinner thread it starts is not the miss's
            # own work.
            self._running = self._make_running(self._call)
            self.watch = self._running.__enter__()
            try:
                self.reads: files.Recorder | None = files.start_recording()
            except BaseException:
                self._running.__exit__(*sys.exc_info())
                raise
        except BaseException:
            depth.reset(token)
            active.pop()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            try:
                if self.reads is not None:
                    files.stop_recording(self.reads)
            finally:
                self._running.__exit__(*exc)
        finally:
            depth.reset(self._token)
            active.pop()
            self.seconds = time.perf_counter() - self.started


class Spinning:
    """A miss's spinner and its watch for output, entered and left together (a class:
    a generator-based context manager cost a few µs on every miss)."""

    __slots__ = ("_spinner", "_watch")

    def __init__(
        self, spinner: AbstractContextManager[None], watch: AbstractContextManager[list[bool]]
    ) -> None:
        self._spinner, self._watch = spinner, watch

    def __enter__(self) -> list[bool]:
        self._spinner.__enter__()
        try:
            return self._watch.__enter__()
        except BaseException:
            self._spinner.__exit__(None, None, None)
            raise

    def __exit__(self, *exc: Any) -> None:
        try:
            self._watch.__exit__(*exc)
        finally:
            self._spinner.__exit__(*exc)
