"""What the file tracking says besides which file changed: a declared pattern that
matched nothing, a run that changes a file it reads, a relative path that names
another file since the working directory moved."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .base import warning_note

if TYPE_CHECKING:
    from ..parts import FileState
    from .base import Note


def unmatched_pattern_warning(what: str, patterns: tuple[str, ...], cwd: str) -> Note:
    """``--files``/``depends_on`` patterns that named no file when the entry was stored."""
    shown = ", ".join(repr(p) for p in patterns)
    which = "pattern" if len(patterns) == 1 else "patterns"
    return warning_note(
        f"the file {which} {shown} declared by {what} matched no file when its entry was "
        f"stored (working directory {cwd}), so no file of its result is tracked: only "
        "one created there later makes it run again. Fix: check the path, relative to "
        "the working directory or absolute."
    )


def own_input_changed_warning(what: str, paths: tuple[str, ...]) -> Note:
    """A run that changed files it read first: each call sees what the last one left."""
    shown = ", ".join(_shown(p) for p in paths)
    return warning_note(
        f"{what} changes {shown}, which it also reads: its entry depends on the file as "
        "the run found it, so the next call, which finds what this run left, runs again "
        "(a cache that never returns a result computed from other contents). Fix: write "
        "the result to another file, or leave this code uncached."
    )


def reason_working_directory(old: FileState, new: FileState) -> str:
    """``file data.csv was read relative to the working directory, which changed
    (/p/projA -> /p/projB)``."""
    what = "directory" if old.is_dir else "file"
    spelled = os.path.relpath(old.path, old.base)
    return (
        f"{what} {spelled} was read relative to the working directory, which changed "
        f"({old.base} -> {new.base})"
    )


def _shown(path: str) -> str:
    cwd = os.getcwd()
    return os.path.relpath(path, cwd) if path.startswith(cwd + os.sep) else path


__all__ = ["unmatched_pattern_warning", "own_input_changed_warning", "reason_working_directory"]
