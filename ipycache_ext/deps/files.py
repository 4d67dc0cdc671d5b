"""Files a miss reads: recorded while it runs, checked on every later hit.

A result computed from ``data/sales.csv`` is only valid while that file is unchanged,
yet the file is neither an argument nor a global.  Python raises an audit event for
every ``open`` (``open``, ``io.open``, ``os.open``, ``pathlib``, so pandas, numpy,
json, csv, pickle and PIL too) and every directory listing (``os.listdir``,
``os.scandir``, hence ``glob``).  The one process-wide hook (audit hooks cannot be
removed; :mod:`.usercode` installs it, and routes these events here) records them
into the recorders of the misses running in the current thread or task (a
:class:`~contextvars.ContextVar`), a nested miss into its own recorder and every
enclosing one.  When no miss is recording, the hook returns after two set lookups.

Reads the hook cannot see are recorded too: the files, folders and absent files the
code names (:mod:`.pathlike`: arguments, globals, constants, paths quoted in SQL), a
SQLite database the run connects to (``sqlite3.connect`` raises an event, and a
WAL-mode database's ``-wal`` file holds commits not yet in it), and what threads the
miss started and work it submitted to a thread pool read (``Thread.start`` and
``ThreadPoolExecutor.submit`` are wrapped once: a new thread starts with an empty
context, and Python 3.11 raises no event for it).

What is recorded is a read: a file the run made or emptied (an output, a temporary
file) is not a dependency, nor is anything under a directory the miss created; a
folder that existed already is not made by ``os.makedirs(d, exist_ok=True)``.  A file
the run reads first and then writes, or opens to read and write without emptying it
(``"r+"``, ``"a+"``, ``os.O_RDWR``, ``np.memmap(mode="r+")``), is an input: the entry
depends on the file as the run found it.  If the run leaves it with other bytes, the
next call finds what this run left, which is not what the result was computed from:
it misses (never a result computed from other contents), and each such run misses
the next one, which a warning says once.  A run that rewrites the same bytes (or only
reads through ``"r+"``) is hit again.  Files of the interpreter and of installed
packages, ``/proc``, ``/dev``, ``/sys``, compiled code and what the import system reads
are left out; a package's data file (``importlib.resources``, ``pkgutil.get_data``)
is not.

A relative path means the file it named in the working directory of the run: each
file named so keeps that directory (:attr:`FileState.base`), and after a ``%cd`` or
``os.chdir`` the entry is not used (the same name may name another file); back in
that directory, it is (a relative name the code holds, :mod:`.pathlike`, and a
relative SQLite database too).

Each read file becomes a :class:`~ipycache_ext.parts.FileState`: size and times as
the fast check, a streamed xxh3 digest of the bytes as the real one.  A hit stats the
files (:mod:`.filecheck`); only when a stat differs is the file read again, so
``touch`` still hits and a same-size edit misses.  Files declared by the user for
native readers are :mod:`.declared`'s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import threading
from types import FrameType
from typing import Any

from ..config import SETTINGS
from ..parts import FileState
from . import unseen
from .filestate import current, names_digest, stat_now, stat_of, unknown
from .recording import (
    Recorder,
    Seen,
    Stat,
    follow_executor_work,
    follow_threads,
    suspended,
)
from .recording import active as _active
from .recording import current as _current
from .recording import for_misses as _recorders
from .recording import of_thread as _of_thread
from .recording import started_by as _started_by
from .usercode import _in_environment, route_audit, working_directory

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
# Opens after which the file holds nothing it held before: emptied, or made new.
_REPLACE_FLAGS = os.O_TRUNC | os.O_EXCL
_SQLITE = "sqlite3.connect"
_EVENTS = frozenset({"open", "os.listdir", "os.scandir", "os.mkdir", _SQLITE}) | unseen.EVENTS
_SYSTEM_PREFIXES = ("/proc/", "/dev/", "/sys/")
_COMPILED_SUFFIXES = (".pyc", ".pyo")
_IMPORT_FRAMES = "<frozen importlib"
_OWN_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__))) + os.sep


_lock = threading.Lock()
_installed = False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    """A file event while some miss is recording (routed by the one audit hook)."""
    recorders = _recorders.get()
    if recorders is None and _started_by:
        recorders = _of_thread()
    if recorders:
        (unseen.record if event in unseen.EVENTS else _record)(event, args, recorders)


def _record(event: str, args: tuple[Any, ...], recorders: tuple[Recorder, ...]) -> None:
    if event == _SQLITE:
        _note_database(args, recorders)
        return
    raw = args[0] if args else None
    if raw is None:
        raw = "."  # os.listdir() lists the working directory
    if isinstance(raw, int):
        return  # a file descriptor: opened before, by path (seen then) or not at all
    try:
        named = os.fsdecode(raw)
    except TypeError:
        return
    path = os.path.abspath(named)
    if event == "os.mkdir":
        if not os.path.lexists(path):  # else it fails: nothing is made
            for recorder in recorders:
                recorder.written.add(path)
        return
    flags = (args[2] or 0) if event == "open" else 0
    relative = not os.path.isabs(named)
    if flags & _WRITE_FLAGS:
        _opened_to_write(path, flags, relative, recorders)
        return
    # Frames: 0 this, 1 the file hook, 2 the audit hook routing to it, 3 the code
    # whose ``open`` raised the event.
    if left_out(path) or _read_by_import(sys._getframe(3)):
        return
    is_dir = event != "open"
    seen = first_sight(path, is_dir)
    for recorder in recorders:
        if path not in recorder.written:
            recorder.note_read(path, is_dir, seen, relative)
        elif path in recorder.kept and path not in recorder.read:
            # Its own append read back: what the file held before counts, unknown now.
            recorder.note_read(path, False, None, relative)
            recorder.changed[path] = unknown(path, False, recorder.kept[path])


def _opened_to_write(
    path: str, flags: int, relative: bool, recorders: tuple[Recorder, ...]
) -> None:
    """An open that may write ``path``.  An input of the run (read first, or opened to
    be read too without being emptied) keeps its state before this first write in
    ``changed``; any other file is an output."""
    keeps = not flags & _REPLACE_FLAGS
    # An input only if it may be one: inputs already read passed this test.
    readable = flags & os.O_ACCMODE == os.O_RDWR and keeps and not left_out(path)
    before: FileState | None = None
    stat: Stat = None
    stat_taken = False
    for recorder in recorders:
        if path in recorder.changed or path in recorder.written:
            continue
        if path in recorder.read:
            first = recorder.read[path][1]
            if before is None:
                before = _state_before_write(path, first if isinstance(first, tuple) else None)
            recorder.changed[path] = before
            continue
        if not stat_taken:
            stat, stat_taken = (stat_now(path, False) if keeps else None), True
        if stat is None:
            recorder.written.add(path)  # made or emptied: what it held does not count
        elif readable:
            if before is None:
                before = _state_before_write(path, stat)
            recorder.note_read(path, False, stat, relative)
            recorder.changed[path] = before
        else:
            recorder.written.add(path)
            recorder.kept[path] = stat


def _state_before_write(path: str, first: Stat) -> FileState:
    """An input's state as the run read it, taken before the run's first write to it:
    with its digest if its stat is still the one first seen."""
    with suspended():
        now = current(path, False)
    if first is None or stat_of(now) != first:
        return unknown(path, False, first)
    return now


def _read_by_import(caller: FrameType) -> bool:
    """True for a read the import system makes for itself (a module's source): the
    loader's ``get_data`` called by the loader.  ``pkgutil.get_data`` calls the same
    ``get_data`` for a package's data file, an input like any other."""
    if not caller.f_code.co_filename.startswith(_IMPORT_FRAMES):
        return False
    outer = caller.f_back
    return outer is None or outer.f_code.co_filename.startswith(_IMPORT_FRAMES)


def _note_database(args: tuple[Any, ...], recorders: tuple[Recorder, ...]) -> None:
    """``sqlite3.connect(path)``: the database is read natively, out of the hook's
    sight.  It and its ``-wal`` file (where a WAL-mode commit goes until a checkpoint)
    are seen as they are when the run ends; ``-shm``, which reading touches, is not."""
    raw = args[0] if args else None
    if raw is None or isinstance(raw, int):
        return
    try:
        name = os.fsdecode(raw)
    except TypeError:
        return
    if name.startswith("file:"):  # a URI: its path, unless an in-memory database
        name, _, query = name[5:].partition("?")
        if "mode=memory" in query:
            return
    if name in ("", ":memory:"):
        return
    path = os.path.abspath(name)
    if left_out(path):
        return
    relative = not os.path.isabs(name)
    for recorder in recorders:
        if recorder.late is None:
            recorder.late = {}
        recorder.late[path] = None
        recorder.late[path + "-wal"] = None
        if relative:  # named from the working directory, like a relative open
            recorder.relative.update((path, path + "-wal"))


def left_out(path: str) -> bool:
    """The interpreter's and installed packages' files, system pseudo-files, compiled
    code and this package: never a dependency of a result."""
    if path.startswith(_SYSTEM_PREFIXES) or path.endswith(_COMPILED_SUFFIXES):
        return True
    real = os.path.realpath(path)
    return _in_environment(real) or real.startswith(_OWN_DIR)


def first_sight(path: str, is_dir: bool) -> Seen:
    """What ``path`` is before the run uses it: a stat, or a directory's names (its
    stat moves with the run's own outputs, its names minus those outputs don't)."""
    if not is_dir:
        return stat_now(path, False)
    token = _recorders.set(())  # this listing is ours: not an event to record again
    try:
        return frozenset(os.listdir(path))
    except OSError:
        return None
    finally:
        _recorders.reset(token)


def _install() -> None:
    global _installed
    with _lock:
        if not _installed:
            route_audit(_EVENTS, _active, _hook)
            follow_threads()
            follow_executor_work()
            _installed = True


# ----- what the engine uses ---------------------------------------------------------------


def start_recording() -> Recorder | None:
    """Record what the code run from now on in this thread or task reads, until
    :func:`stop_recording` (None when ``track_files`` is off: nothing to stop).

    Two plain calls, not a context manager: they run around every miss."""
    if not SETTINGS.track_files:
        return None
    if not _installed:
        _install()
    recorder = Recorder(working_directory())
    enclosing = _recorders.get()
    if enclosing is None:
        enclosing = _current()
    recorder.token = _recorders.set((*enclosing, recorder))
    _active.append(None)
    return recorder


def stop_recording(recorder: Recorder) -> None:
    _active.pop()
    recorder.open = False
    if recorder.token is not None:
        _recorders.reset(recorder.token)


def states(recorder: Recorder | None) -> tuple[FileState, ...]:
    """The state of every file and directory ``recorder`` saw read, outputs left out.

    A file whose stat moved since it was first opened changed while the miss ran: it
    is kept with that first stat and no digest, so the next lookup misses.  An input
    the run wrote to is kept as the run found it; if it now holds other bytes, it is
    listed in ``recorder.rewritten``.
    """
    if recorder is None:
        return ()
    if recorder.late:
        with suspended():
            for path in recorder.late:
                recorder.note_read(path, False, stat_now(path, False))
    if not recorder.read:
        return ()
    written = recorder.written
    made_dirs = tuple(p + os.sep for p in written if p not in recorder.kept)
    outputs_by_dir: dict[str, list[str]] = {}
    for p in written:
        if p not in recorder.kept:
            outputs_by_dir.setdefault(os.path.dirname(p), []).append(os.path.basename(p))
    found = []
    rewritten = []
    with suspended():
        for path in sorted(recorder.read):
            if path.startswith(made_dirs):
                continue
            is_dir, first = recorder.read[path]
            if path in written and path not in recorder.changed:
                continue  # an output (named by the code, or declared): not an input
            base = recorder.cwd if path in recorder.relative else ""
            if path in recorder.changed:
                before = recorder.changed[path]
                state = current(path, False, (), base)
                if not (before.digest and state.digest == before.digest):
                    state = dataclasses.replace(before, base=base)
                    rewritten.append(path)
            elif is_dir:
                outputs = tuple(sorted(outputs_by_dir.get(path, ())))
                state = current(path, True, outputs, base)
                if isinstance(first, frozenset) and names_digest(first, outputs) != state.digest:
                    state = unknown(path, True, stat_of(state), outputs, base)
            else:
                state = current(path, False, (), base)
                if stat_of(state) != first:
                    state = unknown(path, False, first if isinstance(first, tuple) else None)
                    state = dataclasses.replace(state, base=base)
            found.append(state)
    recorder.rewritten = tuple(rewritten)
    return tuple(found)


def inherit(found: tuple[FileState, ...]) -> None:
    """A hit inside a running miss: the files its entry read are the miss's reads too."""
    recorders = _current()
    if not recorders:
        return
    for state in found:
        seen: Seen = stat_of(state)
        if state.is_dir and state.exists:
            with contextlib.suppress(OSError), suspended():
                seen = frozenset(os.listdir(state.path)).difference(state.ignored)
        for recorder in recorders:
            recorder.note_read(state.path, state.is_dir, seen, bool(state.base))


__all__ = [
    "start_recording",
    "stop_recording",
    "suspended",
    "states",
    "inherit",
    "left_out",
    "first_sight",
]
