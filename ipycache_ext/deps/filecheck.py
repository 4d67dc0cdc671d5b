"""Whether the files an entry's run read are still as it found them: the check on
every hit of an entry that depends on files (:mod:`.files` records them).

The fast check compares every file's and directory's stat at once (and that absent
paths are still absent); only when a stat moved is the file read again, so ``touch``
still hits and a same-size edit misses.  A file named relative to another working
directory than this one is a change: the same name may be another file here.
"""

from __future__ import annotations

import dataclasses
import itertools
import operator
import os
from typing import NamedTuple

from ..parts import FileState, Reason, ReasonKind
from .filestate import current, stat_now, stat_of
from .recording import suspended
from .usercode import working_directory

_FILE_FIELDS = operator.attrgetter("st_mtime_ns", "st_ctime_ns", "st_size")
_DIR_FIELDS = operator.attrgetter("st_mtime_ns", "st_ctime_ns")  # what :func:`check` compares


class StatCheck(NamedTuple):
    """An entry's files as the fast check of a hit compares them all at once: the
    paths (encoded once: ``os.stat`` of a ``str`` encodes it on every call) of its
    files and the (mtime_ns, ctime_ns, size) each had, of its directories and their
    (mtime_ns, ctime_ns), of the paths that were absent, and the working directory
    the relative ones were named in."""

    files: tuple[bytes, ...]
    file_stats: list[tuple[int, int, int]]
    dirs: tuple[bytes, ...]
    dir_stats: list[tuple[int, int]]
    absent: tuple[bytes, ...]
    base: str


def stat_check(found: tuple[FileState, ...]) -> StatCheck | None:
    """What :func:`unchanged` compares for ``found``; None if they were named relative
    to two working directories (those take :func:`check`)."""
    bases = {state.base for state in found if state.base}
    if len(bases) > 1:
        return None
    files = [s for s in found if s.exists and not s.is_dir]
    dirs = [s for s in found if s.exists and s.is_dir]
    return StatCheck(
        tuple(os.fsencode(s.path) for s in files),
        [(s.mtime_ns, s.ctime_ns, s.size) for s in files],
        tuple(os.fsencode(s.path) for s in dirs),
        [(s.mtime_ns, s.ctime_ns) for s in dirs],
        tuple(os.fsencode(s.path) for s in found if not s.exists),
        bases.pop() if bases else "",
    )


def unchanged(expected: StatCheck) -> bool:
    """True if every file and directory still has its stat, every absent path is
    still absent (and the working directory is the one relative names were read in):
    what :func:`check` finds unchanged, taken and compared in C (``map``), not one
    Python step per file.  ``os.access(path, F_OK)`` fails where ``os.stat`` would,
    without raising.  False means: ask :func:`check`."""
    if expected.base and expected.base != working_directory():
        return False
    try:
        if list(map(_FILE_FIELDS, map(os.stat, expected.files))) != expected.file_stats:
            return False
        if expected.dirs and list(map(_DIR_FIELDS, map(os.stat, expected.dirs))) != (
            expected.dir_stats
        ):
            return False
    except OSError:
        return False
    return not any(map(os.access, expected.absent, itertools.repeat(os.F_OK)))


def check(found: tuple[FileState, ...]) -> tuple[list[Reason], tuple[FileState, ...] | None]:
    """Why the files of an entry no longer match, and their refreshed states when only
    their stat moved (same bytes: the entry stays valid)."""
    stat = os.stat
    for old in found:  # the fast check, inlined: this loop is a hit's whole cost
        if old.base and old.base != working_directory():
            break
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
    """:func:`check` once some stat moved (or the working directory did): the files
    whose stat moved are read again; a file named relative to another working
    directory than this one is a change (the same name may be another file here)."""
    reasons: list[Reason] = []
    refreshed = list(found)
    moved = False
    cwd = working_directory()
    for i, old in enumerate(found):
        if old.base and old.base != cwd:
            now = dataclasses.replace(old, base=cwd)
            reasons.append(Reason(ReasonKind.CHANGED, old.ident, files=(old, now)))
            continue
        if stat_now(old.path, old.is_dir) == stat_of(old):
            continue
        with suspended():
            now = current(old.path, old.is_dir, old.ignored, old.base)
        if now.exists == old.exists and now.digest == old.digest and old.digest:
            refreshed[i] = now
            moved = True
        else:
            reasons.append(Reason(ReasonKind.CHANGED, old.ident, files=(old, now)))
    return reasons, (tuple(refreshed) if moved and not reasons else None)


__all__ = ["StatCheck", "stat_check", "unchanged", "check"]
