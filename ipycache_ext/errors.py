"""Errors a user can meet, each carrying a message that says what, where and the fix.

They render in IPython as their message alone (``_render_traceback_``), because a
traceback into the hashing engine tells a notebook user nothing they can act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from . import messages
from .parts import PartKind


class MemoError(Exception):
    """Base class of every error ipycache_ext raises on purpose."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


@dataclass(frozen=True)
class Subject:
    """What the hashed values belong to, which decides how an error is worded.

    ``kind`` is "function" (a ``@memo`` function named ``name``) or "cell" (a
    ``%%memo`` cell; ``name`` is how it is referred to, e.g. "the cell").
    """

    kind: Literal["function", "cell"] = "function"
    name: str = ""


class UnhashableTypeError(MemoError, TypeError):
    """A value that the key depends on cannot be hashed (a lock, a generator, a socket).

    ``type_name`` is the type's ``module.QualName`` (what ``hash_funcs`` accepts),
    ``where`` the path to the value (``argument cfg['pool'][0]``), ``param`` the
    parameter or variable it came from, when renaming it is a fix.  The text is worded
    by :mod:`.messages` from these fields, unless ``message`` gives it ready-made (a
    case worded elsewhere, such as an iterator argument).
    """

    def __init__(
        self,
        message: str = "",
        type_name: str = "",
        where: str = "",
        param: str | None = None,
        subject: Subject | None = None,
        endless: int = 0,
        collect_first: bool = False,
        convert_with: str = "",
    ) -> None:
        super().__init__(
            message, type_name, where, param, subject, endless, collect_first, convert_with
        )
        self.message = message
        self.type_name = type_name
        self.where = where
        self.param = param
        self.subject = subject or Subject()
        self.endless = endless  # the bound of objects the walk went past (0: it did not)
        # A lazy query (a polars LazyFrame): the fix is to collect it first.
        self.collect_first = collect_first
        # Data that cannot be read out as buffers (a quantized tensor): the method that
        # converts it to a form that can (``dequantize()``).
        self.convert_with = convert_with

    def __str__(self) -> str:
        if self.message:
            return self.message
        return messages.unhashable_text(
            self.type_name,
            self.where,
            self.param,
            self.subject.kind,
            self.subject.name,
            self.endless,
            self.collect_first,
            self.convert_with,
        )


class ConsumedArgumentError(UnhashableTypeError):
    """An argument the call would use up (an iterator, an open file ``open_file``): a
    result from the cache would leave it unread.  ``param`` is the argument's name,
    ``via`` the function's (one name)."""

    def __init__(self, param: str, type_name: str, via: tuple[str, ...], open_file: bool) -> None:
        where = messages.part_place(PartKind.ARGUMENT, param, via)
        super().__init__("", type_name, where, param)
        self.args = (param, type_name, via, open_file)  # what pickling makes it again from
        self.via = via
        self.open_file = open_file

    def __str__(self) -> str:
        name, func = self.param or "", self.via[0]
        if self.open_file:
            return messages.open_file_argument_error(name, self.type_name, func)
        return messages.iterator_argument_error(name, self.type_name, func)


class UserHashError(MemoError):
    """A ``hash_funcs`` entry raised while hashing a value.

    ``entry`` names the entry (a type name or the string key it was given under),
    ``cause`` is what it raised, ``type_name`` and ``where`` the value it was given.
    """

    def __init__(
        self,
        entry: str = "",
        type_name: str = "?",
        where: str = "",
        subject: Subject | None = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(entry, type_name, where, subject, cause)
        self.entry = entry
        self.type_name = type_name
        self.where = where
        self.subject = subject or Subject()
        self.cause = cause

    def __str__(self) -> str:
        return messages.user_hash_text(
            self.entry, self.type_name, self.where, self.subject.name, self.cause or self
        )


class MemoOptionError(MemoError, TypeError, ValueError):
    """An option of ``@memo`` (or a function it cannot memoize) is not valid."""


class RecursionCycleError(MemoError, RecursionError):
    """A memoized call that needs its own result: it calls itself with the same
    arguments (directly or through other memoized calls), so waiting for the one
    computation of its key would wait forever.  ``call`` is the call (``f(3)``)."""

    def __init__(self, call: str = "") -> None:
        super().__init__(call)
        self.call = call

    def __str__(self) -> str:
        return messages.recursion_cycle_error(self.call)


class UnknownStoreError(MemoError, ValueError):
    """A store location that is a URL of a scheme no backend serves (``ftp://x/y``).

    ``location`` is what was given, ``scheme`` its scheme, ``supported`` the schemes
    that are served (a location without a scheme is a directory).
    """

    def __init__(
        self, location: str = "", scheme: str = "", supported: tuple[str, ...] = ()
    ) -> None:
        super().__init__(location, scheme, supported)
        self.location = location
        self.scheme = scheme
        self.supported = supported

    def __str__(self) -> str:
        return messages.unknown_store_error(self.location, self.scheme, self.supported)


class SettingError(MemoError, ValueError):
    """A kernel-wide setting given a value it cannot take (``max_memory = "lots"``)."""


class CacheLookupError(MemoError, LookupError):
    """A clear or a listing named what the cache (or the store) does not hold, or met a
    store that does not answer; the text is one of :mod:`.messages`' (the magics show it
    as a UsageError)."""
