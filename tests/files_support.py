"""Helpers for the file-dependency tests: files whose changes the tests control."""

from __future__ import annotations

import os
from pathlib import Path

_clock = [1_700_000_000 * 10**9]


def bump(path: Path, content: str | bytes | None = None) -> None:
    """Rewrite ``path`` (if ``content``) and move its mtime to a new, later moment.

    Filesystems keep mtime with a coarse tick: a rewrite within one tick can leave
    it unchanged, so each bump sets a distinct mtime itself.
    """
    if isinstance(content, str):
        path.write_text(content)
    elif content is not None:
        path.write_bytes(content)
    _clock[0] += 10**9
    os.utime(path, ns=(_clock[0], _clock[0]))


def touch(path: Path) -> None:
    """``touch``: same bytes, new mtime."""
    bump(path)
