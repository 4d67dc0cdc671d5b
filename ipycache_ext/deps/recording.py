"""Who a file read is for: the recorders of the misses running in this thread or task.

A :class:`Recorder` collects what one miss reads; :data:`recorders` (a context
variable) holds those of the misses the current thread or task runs, innermost last.
A thread starts with an empty context, so threads a miss starts and work it submits to
a thread pool are followed here: ``threading.Thread.start`` and
``ThreadPoolExecutor.submit`` are wrapped once (Python 3.11 raises no audit event when
a thread starts, and none tells of a submit); each costs one list test while no miss
records.  :mod:`.files` reads and records the events.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import threading
import weakref
from collections.abc import Iterator
from typing import Any

from ..parts import FileState
from .unseen import Touch

Stat = tuple[int, int, int] | None  # (size, mtime_ns, ctime_ns), None: absent
Seen = Stat | frozenset[str]  # a directory's names when first listed


class Recorder:
    """What one miss read and wrote.

    ``read``: its inputs, path -> (is a directory, what it was when first seen: a
    file's stat, a directory's names); the run's first use of each was a read.
    ``written``: its outputs, made, emptied or written before any read.
    ``changed``: inputs the run then wrote to, with their state (digest included)
    just before its first write.  ``kept``: outputs that held bytes the run did not
    empty (an append), with their stat then: read back, they are inputs whose bytes
    before are not known.  ``relative``: inputs named relative to the working
    directory, which was ``cwd`` when the run started (where relative names the code
    holds resolve too).  ``unmatched``: declared patterns that named no file.
    ``rewritten``: inputs the run left with other bytes (filled in by
    :func:`.files.states`).  ``late``: files seen as they are when the run ends (a
    SQLite database the run may write itself).  ``touched``: what it used unseen
    (:mod:`.unseen`).  ``open``: False once the miss ended (a thread it started that
    still runs reads for no one).
    """

    __slots__ = (
        "read",
        "written",
        "changed",
        "kept",
        "relative",
        "unmatched",
        "rewritten",
        "late",
        "touched",
        "token",
        "cwd",
        "open",
    )

    def __init__(self, cwd: str) -> None:
        self.read: dict[str, tuple[bool, Seen]] = {}
        self.written: set[str] = set()
        self.changed: dict[str, FileState] = {}
        self.kept: dict[str, Stat] = {}
        self.relative: set[str] = set()
        self.unmatched: list[str] = []
        self.rewritten: tuple[str, ...] = ()
        self.late: dict[str, None] | None = None  # made by the first database
        self.touched: dict[Touch, None] | None = None  # made on the first
        self.token: contextvars.Token[tuple[Recorder, ...] | None] | None = None
        self.cwd = cwd
        self.open = True

    def note_read(self, path: str, is_dir: bool, seen: Seen, relative: bool = False) -> None:
        if path not in self.read:
            self.read[path] = (is_dir, seen)
        if relative:
            self.relative.add(path)


# None (unset): a thread or task that no miss set, whose reads may still be a miss's
# when a miss started the thread (``started_by``); ``()``: no miss, decidedly.
for_misses: contextvars.ContextVar[tuple[Recorder, ...] | None] = contextvars.ContextVar(
    "ipycache_file_recorders", default=None
)
# Threads started while a miss recorded, and that miss's recorders: what they read is
# the miss's read (``threading.Thread`` objects, dropped with them).
started_by: weakref.WeakKeyDictionary[threading.Thread, tuple[Recorder, ...]] = (
    weakref.WeakKeyDictionary()
)
# One item per recorder alive in any thread: the hook's first, cheap test.  A list,
# because appending and popping are atomic: a miss counts itself without a lock.
active: list[None] = []


def of_thread() -> tuple[Recorder, ...] | None:
    """The recorders of the miss that started this thread, if it still runs."""
    found = started_by.get(threading.current_thread())
    if found is None:
        return None
    return tuple(recorder for recorder in found if recorder.open)


def current() -> tuple[Recorder, ...]:
    """The recorders reads made here go to: this context's, or its thread's.  None
    at all while no miss records anywhere (:data:`active` is empty), which a hit inside no
    miss learns from one list test, before any context or thread lookup."""
    if not active:
        return ()
    recorders = for_misses.get()
    if recorders is None:
        recorders = of_thread() if started_by else None
    return recorders or ()


def follow_threads() -> None:
    """A thread started while a miss records reads for that miss (and a thread it
    starts, too): ``threading.Thread.start`` is wrapped once, and costs one list test
    while no miss records.  Python 3.11 raises no audit event when a thread starts,
    and a new thread starts with an empty context, so nothing else tells."""
    start: Any = threading.Thread.start
    if getattr(start, "_ipycache_follows", False):
        return

    @functools.wraps(start)
    def follow(self: threading.Thread) -> None:
        if active:
            recorders = current()
            if recorders:
                started_by[self] = recorders
        start(self)

    follow._ipycache_follows = True  # type: ignore[attr-defined]
    threading.Thread.start = follow  # type: ignore[method-assign]


def follow_executor_work() -> None:
    """Work submitted to a thread pool while a miss records runs with the submitter's
    recorders: ``ThreadPoolExecutor.submit`` (``map`` and ``run_in_executor`` use it)
    is wrapped once, and costs one list test while no miss records.

    The pool's threads are not enough: a pool made before the miss runs its work on
    threads that no miss started, and a thread a miss started may later run work of
    another.  No audit event tells of a submit, so the method is wrapped."""
    from concurrent.futures import thread

    submit: Any = thread.ThreadPoolExecutor.submit
    if getattr(submit, "_ipycache_follows", False):
        return

    @functools.wraps(submit)
    def follow(self: Any, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        if active:
            fn = functools.partial(_run_as, current(), fn)
        return submit(self, fn, *args, **kwargs)

    follow._ipycache_follows = True  # type: ignore[attr-defined]
    thread.ThreadPoolExecutor.submit = follow  # type: ignore[method-assign]


def _run_as(recorders: tuple[Recorder, ...], fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run ``fn`` (an executor's work item) reading for ``recorders`` (the submitter's:
    none, if no miss submitted it)."""
    token = for_misses.set(tuple(recorder for recorder in recorders if recorder.open))
    try:
        return fn(*args, **kwargs)
    finally:
        for_misses.reset(token)


@contextlib.contextmanager
def suspended() -> Iterator[None]:
    """Nothing read inside is recorded: the cache's own store, key file and digests."""
    token = for_misses.set(())
    try:
        yield
    finally:
        for_misses.reset(token)


__all__ = [
    "Recorder",
    "Stat",
    "Seen",
    "for_misses",
    "started_by",
    "active",
    "of_thread",
    "current",
    "follow_threads",
    "follow_executor_work",
    "suspended",
]
