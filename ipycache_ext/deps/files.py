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

What is recorded is a read: a file opened for writing, appending or creating (an
output, a temporary file) is not a dependency, nor is anything under a directory the
miss created.  Files of the interpreter and of installed packages, ``/proc``,
``/dev``, ``/sys``, compiled code and what the import system reads are left out.

Each read file becomes a :class:`~ipycache_ext.parts.FileState`: size and times as
the fast check, a streamed xxh3 digest of the bytes as the real one.  A hit stats the
files; only when a stat differs is the file read again, so ``touch`` still hits and a
same-size edit misses.
"""

from __future__ import annotations

import contextlib
import glob
import operator
import os
import sys
import threading
from typing import Any

import xxhash

from ..config import SETTINGS
from ..parts import FileState, Reason, ReasonKind
from . import unseen
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
_SQLITE = "sqlite3.connect"
_EVENTS = frozenset({"open", "os.listdir", "os.scandir", "os.mkdir", _SQLITE}) | unseen.EVENTS
_SYSTEM_PREFIXES = ("/proc/", "/dev/", "/sys/")
_COMPILED_SUFFIXES = (".pyc", ".pyo")
_IMPORT_FRAMES = "<frozen importlib"
_OWN_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__))) + os.sep
_CHUNK = 1 << 20


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
        path = os.path.abspath(os.fsdecode(raw))
    except TypeError:
        return
    if event == "os.mkdir" or (event == "open" and (args[2] or 0) & _WRITE_FLAGS):
        for recorder in recorders:
            recorder.written.add(path)
        return
    # Frames: 0 this, 1 the file hook, 2 the audit hook routing to it, 3 the code
    # whose ``open`` raised the event.
    if left_out(path) or sys._getframe(3).f_code.co_filename.startswith(_IMPORT_FRAMES):
        return
    is_dir = event != "open"
    seen = first_sight(path, is_dir)
    for recorder in recorders:
        recorder.note_read(path, is_dir, seen)


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
    for recorder in recorders:
        if recorder.late is None:
            recorder.late = {}
        recorder.late[path] = None
        recorder.late[path + "-wal"] = None


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
        return _stat(path, False)
    token = _recorders.set(())  # this listing is ours: not an event to record again
    try:
        return frozenset(os.listdir(path))
    except OSError:
        return None
    finally:
        _recorders.reset(token)


def _stat(path: str, is_dir: bool) -> Stat:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (0 if is_dir else found.st_size, found.st_mtime_ns, found.st_ctime_ns)


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
    is kept with that first stat and no digest, so the next lookup misses.
    """
    if recorder is None:
        return ()
    if recorder.late:
        with suspended():
            for path in recorder.late:
                recorder.note_read(path, False, _stat(path, False))
    if not recorder.read:
        return ()
    written = recorder.written
    made_dirs = tuple(p + os.sep for p in written)
    found = []
    with suspended():
        for path in sorted(recorder.read):
            if path in written or path.startswith(made_dirs):
                continue
            is_dir, first = recorder.read[path]
            if is_dir:
                outputs = tuple(
                    sorted(os.path.basename(p) for p in written if os.path.dirname(p) == path)
                )
                state = current(path, True, outputs)
                if isinstance(first, frozenset) and _names_digest(first, outputs) != state.digest:
                    state = _unknown(path, True, _stat_of(state), outputs)
            else:
                state = current(path, False)
                if _stat_of(state) != first:
                    state = _unknown(path, False, first if isinstance(first, tuple) else None)
            found.append(state)
    return tuple(found)


def inherit(found: tuple[FileState, ...]) -> None:
    """A hit inside a running miss: the files its entry read are the miss's reads too."""
    recorders = _current()
    if not recorders:
        return
    for state in found:
        seen: Seen = _stat_of(state)
        if state.is_dir and state.exists:
            with contextlib.suppress(OSError), suspended():
                seen = frozenset(os.listdir(state.path)).difference(state.ignored)
        for recorder in recorders:
            recorder.note_read(state.path, state.is_dir, seen)


# Paths, and the (mtime_ns, ctime_ns, size) each had: an entry's files as the fast check
# of a hit compares them all at once.
StatCheck = tuple[tuple[str, ...], list[tuple[int, int, int]]]
_STAT_FIELDS = operator.attrgetter("st_mtime_ns", "st_ctime_ns", "st_size")


def stat_check(found: tuple[FileState, ...]) -> StatCheck | None:
    """What :func:`unchanged` compares for ``found``; None if one is a directory or
    was absent (those take :func:`check`)."""
    if any(state.is_dir or not state.exists for state in found):
        return None
    return tuple(s.path for s in found), [(s.mtime_ns, s.ctime_ns, s.size) for s in found]


def unchanged(expected: StatCheck) -> bool:
    """True if every file still has its stat: the stats are taken and compared in C
    (``map``), not one Python step per file.  False means: ask :func:`check`."""
    paths, stats = expected
    try:
        return list(map(_STAT_FIELDS, map(os.stat, paths))) == stats
    except OSError:
        return False


def check(found: tuple[FileState, ...]) -> tuple[list[Reason], tuple[FileState, ...] | None]:
    """Why the files of an entry no longer match, and their refreshed states when only
    their stat moved (same bytes: the entry stays valid)."""
    stat = os.stat
    for old in found:  # the fast check, inlined: this loop is a hit's whole cost
        try:
            now = stat(old.path)
        except OSError:
            if old.exists:
                break
            continue
        if not (
            old.exists
            and now.st_mtime_ns == old.mtime_ns
            and now.st_ctime_ns == old.ctime_ns
            and (old.is_dir or now.st_size == old.size)
        ):
            break
    else:
        return [], None
    return _recheck(found)


def _recheck(found: tuple[FileState, ...]) -> tuple[list[Reason], tuple[FileState, ...] | None]:
    """:func:`check` once some stat moved: the files whose stat moved are read again."""
    reasons: list[Reason] = []
    refreshed = list(found)
    moved = False
    for i, old in enumerate(found):
        if _stat(old.path, old.is_dir) == _stat_of(old):
            continue
        with suspended():
            now = current(old.path, old.is_dir, old.ignored)
        if now.exists == old.exists and now.digest == old.digest and old.digest:
            refreshed[i] = now
            moved = True
        else:
            reasons.append(Reason(ReasonKind.CHANGED, old.ident, files=(old, now)))
    return reasons, (tuple(refreshed) if moved and not reasons else None)


def current(path: str, is_dir: bool, ignored: tuple[str, ...] = ()) -> FileState:
    """``path`` as it is now, digest included (a directory: its names but ``ignored``)."""
    stat = _stat(path, is_dir)
    if stat is None:
        return FileState(path, is_dir, False, ignored=ignored)
    _, mtime_ns, ctime_ns = stat
    try:
        if is_dir:
            names = frozenset(os.listdir(path)).difference(ignored)
            digest = _names_digest(names, ())
            return FileState(path, True, True, len(names), mtime_ns, ctime_ns, digest, ignored)
        return FileState(path, False, True, stat[0], mtime_ns, ctime_ns, _digest_file(path))
    except OSError:
        return FileState(path, is_dir, False, ignored=ignored)


def _names_digest(names: frozenset[str], ignored: tuple[str, ...]) -> bytes:
    listed = sorted(names.difference(ignored))
    return xxhash.xxh3_128_digest("\0".join(listed).encode("utf-8", "surrogateescape"))


def _digest_file(path: str) -> bytes:
    hasher = xxhash.xxh3_128()
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buffer):
            hasher.update(view[:n])
    return hasher.digest()


def _stat_of(state: FileState) -> Stat:
    if not state.exists:
        return None
    return (0 if state.is_dir else state.size, state.mtime_ns, state.ctime_ns)


def _unknown(path: str, is_dir: bool, stat: Stat, ignored: tuple[str, ...] = ()) -> FileState:
    """A state no later check matches (no digest): the path changed while the run read it."""
    if stat is None:
        return FileState(path, is_dir, False, ignored=ignored)
    return FileState(path, is_dir, True, stat[0], stat[1], stat[2], b"", ignored)


# ----- declared by the user -----------------------------------------------------------------


def depends_on(*patterns: str | os.PathLike[str]) -> None:
    """Declare files the running cached code depends on, for readers Python's ``open``
    does not see (pyarrow's and polars' native readers, HDF5, a database file).

    Call it inside a ``@memo`` function or a ``%%memo`` cell: each pattern is a path
    or a glob (``"data/*.parquet"``, ``**`` allowed).  The matching files join the
    entry's key, and so does the listing of the directories a glob looked in (a new
    matching file is a change).  Outside a miss it does nothing.
    """
    recorders = _current()
    if not recorders:
        return
    for pattern in patterns:
        text = os.fsdecode(os.fspath(pattern))
        # A glob's own listings are recorded by the hook: a new match is a change.
        paths = glob.glob(text, recursive=True) if glob.has_magic(text) else [text]
        for found in paths:
            path = os.path.abspath(found)
            is_dir = os.path.isdir(path)
            seen = first_sight(path, is_dir)
            for recorder in recorders:
                recorder.note_read(path, is_dir, seen)


def count_files(found: tuple[FileState, ...]) -> int:
    """How many files (not directories) ``found`` names (``%memo_info``)."""
    return sum(1 for state in found if not state.is_dir)


__all__ = [
    "depends_on",
    "start_recording",
    "stop_recording",
    "suspended",
    "states",
    "inherit",
    "check",
    "stat_check",
    "unchanged",
    "count_files",
]
