"""Errors a user can meet, each carrying a message that says what, where and the fix.

They render in IPython as their message alone (``_render_traceback_``), because a
traceback into the hashing engine tells a notebook user nothing they can act on.
"""

from __future__ import annotations


class MemoError(Exception):
    """Base class of every error ipycache_ext raises on purpose."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class UnhashableTypeError(MemoError, TypeError):
    """A value that the key depends on cannot be hashed (a lock, a generator, a socket)."""

    def __init__(self, message: str, type_name: str = "", where: str = "") -> None:
        super().__init__(message)
        self.type_name = type_name
        self.where = where


class UserHashError(MemoError):
    """A ``hash_funcs`` entry raised while hashing a value."""

    def __init__(self, message: str, entry: str = "") -> None:
        super().__init__(message)
        self.entry = entry


class MemoOptionError(MemoError, TypeError, ValueError):
    """An option of ``@memo`` (or a function it cannot memoize) is not valid."""
