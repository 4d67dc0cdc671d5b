"""A file's state as a check compares it: its stat (size and times) and, read in full, a
streamed xxh3 digest of its bytes (a directory: of its names).

The recording (:mod:`.files`) takes a file's state when a run read it; the check of a
hit (:mod:`.filecheck`) takes it again and compares.  A state no later check matches
(an empty digest) stands for a file that changed while the run read it.
"""

from __future__ import annotations

import os

import xxhash

from ..parts import FileState
from .recording import Stat

_CHUNK = 1 << 20


def stat_now(path: str, is_dir: bool) -> Stat:
    """Size (0 for a directory), mtime and ctime, or None where nothing is."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (0 if is_dir else found.st_size, found.st_mtime_ns, found.st_ctime_ns)


def current(path: str, is_dir: bool, ignored: tuple[str, ...] = (), base: str = "") -> FileState:
    """``path`` as it is now, digest included (a directory: its names but ``ignored``;
    ``base``: the working directory it was named relative to)."""
    stat = stat_now(path, is_dir)
    if stat is None:
        return FileState(path, is_dir, False, ignored=ignored, base=base)
    _, mtime_ns, ctime_ns = stat
    try:
        if is_dir:
            names = frozenset(os.listdir(path)).difference(ignored)
            digest = names_digest(names, ())
            size = len(names)
            return FileState(path, True, True, size, mtime_ns, ctime_ns, digest, ignored, base)
        digest = _digest_file(path)
        return FileState(path, False, True, stat[0], mtime_ns, ctime_ns, digest, (), base)
    except OSError:
        return FileState(path, is_dir, False, ignored=ignored, base=base)


def names_digest(names: frozenset[str], ignored: tuple[str, ...]) -> bytes:
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


def stat_of(state: FileState) -> Stat:
    if not state.exists:
        return None
    return (0 if state.is_dir else state.size, state.mtime_ns, state.ctime_ns)


def unknown(
    path: str, is_dir: bool, stat: Stat, ignored: tuple[str, ...] = (), base: str = ""
) -> FileState:
    """A state no later check matches (no digest): the path changed while the run read it."""
    if stat is None:
        return FileState(path, is_dir, False, ignored=ignored, base=base)
    return FileState(path, is_dir, True, stat[0], stat[1], stat[2], b"", ignored, base)
