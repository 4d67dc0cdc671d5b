"""Where the directory store may read, write and delete, and which rows it trusts.

Every value file the store opens, writes or removes must resolve inside the store
directory: an index row naming ``../../x`` or ``/home/me/x`` is foreign (never opened
nor deleted).  :func:`prepare_directory` refuses a store directory another user owns
or others can write (as OpenSSH refuses a loose ``~/.ssh``), and only sets the mode
of a directory it created itself, and :func:`disk_full` says when its disk has no
room left for the index.  Nothing here imports diskcache.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from typing import Any

DISK_MARGIN = 64 << 10  # room for the SQLite index and journal


class ForeignRow(Exception):
    """A row of the index that this store did not write (not raw bytes, or a file
    outside the store): it is never unpickled, opened or deleted through its name."""


class UnsafeStoreDir(OSError):
    """A store directory another user owns, or that others may write to.

    ``path`` is the directory, ``reason`` "owner" or "writable", ``owner`` its uid.
    """

    def __init__(self, path: str, reason: str, owner: int, mode: int) -> None:
        super().__init__(errno.EPERM, f"{path}: {reason}")
        self.path, self.reason, self.owner, self.mode = path, reason, owner, mode


_roots: dict[str, str] = {}


def inside(directory: str, relative: Any) -> str:
    """The full path of ``relative`` if it resolves (symlinks followed) inside
    ``directory``; :class:`ForeignRow` otherwise.

    The directory's own resolved path is remembered: if the directory is later
    replaced by a symlink, ``relative`` resolves through it to somewhere else and is
    refused, so the remembered path is never trusted blindly."""
    if not isinstance(relative, str) or not relative or os.path.isabs(relative):
        raise ForeignRow(relative)
    root = _roots.get(directory)
    if root is None:
        root = _roots[directory] = os.path.realpath(directory)
    full = os.path.realpath(os.path.join(root, relative))
    if not full.startswith(root + os.sep):
        raise ForeignRow(relative)
    return full


def prepare_directory(directory: str) -> None:
    """Create ``directory`` owner-only, or check an existing one is safe to use.

    Refused (:class:`UnsafeStoreDir`): owned by another user, or writable by group or
    others.  A symlink is followed and the directory it names is checked.  Only a
    directory created here is given mode 0700; an existing one keeps its mode.
    """
    try:
        os.makedirs(directory, mode=0o700)
    except FileExistsError:
        pass
    else:
        with contextlib.suppress(OSError):
            os.chmod(directory, 0o700)  # the umask may have loosened it
        return
    found = os.stat(directory)  # follows a symlink: the directory used is what counts
    if not stat.S_ISDIR(found.st_mode):
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), directory)
    if hasattr(os, "geteuid") and found.st_uid != os.geteuid():
        raise UnsafeStoreDir(directory, "owner", found.st_uid, found.st_mode)
    if found.st_mode & 0o022:
        raise UnsafeStoreDir(directory, "writable", found.st_uid, found.st_mode)


def disk_full(directory: str) -> bool:
    """True when the disk of ``directory`` has no room left for the store's index."""
    try:
        return shutil.disk_usage(directory).free < DISK_MARGIN
    except OSError:
        return False
