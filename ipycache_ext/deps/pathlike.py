"""Values that name files: the strings and path objects a miss's code holds.

Native readers (pyarrow, polars, DuckDB, HDF5, netCDF) open files in C, where the
audit hook of :mod:`.files` never sees them, and ``os.path.exists`` raises no audit
event at all.  Yet the code that calls them names the file: an argument
``"sales.parquet"``, a global ``DATA = Path("data")``, a constant in its code, a path
quoted in SQL text (``read_parquet('x.parquet')``).  This module finds those names and
:func:`note_named` records them as the miss's reads, so a hit stats them like
files the run opened.

The rule, precisely:

* **Where**: a ``str`` or ``os.PathLike`` that is a call's argument, a global or
  closure value the code reads (a cell: a variable it reads), an item of a list,
  tuple, set or dict (keys and values) held there (one level, the first
  :data:`ITEMS` items), a string constant of the code and of the user code it calls
  (a cell: of its source), and every piece quoted with ``'`` or ``"`` inside any of
  those strings (SQL text).
* **What can be a path**: at most :data:`LONGEST` characters, no newline, tab or NUL,
  and no ``scheme://`` (URLs, ``s3://``).
* **A glob** (``*``, ``?`` or ``[``) counts when it has a ``/`` or ends in a file
  extension: the files it matches and the listing of its fixed leading folder.
* **A name that looks like a path** (it has a ``/``, starts with ``~``, or ends in a
  file extension: a dot then 1 to 8 letters or digits, one letter at least, after a
  non-empty name) counts whether or not the file exists: a missing one is recorded
  as absent, so creating it is a miss.
* **Any other string** (a plain word such as ``"mean"`` or ``"data"``) counts only as
  an argument, global or closure value itself, and only if it names an existing file
  or folder.
* **Never**: the working directory or a folder above it, the root, a folder directly
  under the root (``/tmp``, ``/usr``), the home folder, the interpreter's and
  installed packages' files, ``/proc``, ``/dev``, ``/sys``.

Relative names resolve against the working directory the miss started in, and keep
it (:attr:`~ipycache_ext.parts.FileState.base`): after a ``%cd`` the entry is not used,
as for a file the run opened by a relative name.
"""

from __future__ import annotations

import functools
import glob
import itertools
import os
import re
import stat as stat_module
import sys
import types
from collections.abc import Iterable, Iterator
from typing import Any

from . import files, recording
from .recording import Recorder

LONGEST = 4096  # characters: PATH_MAX on Linux
ITEMS = 256  # items of one container looked at
_SEARCHED = 100_000  # characters of one string searched for quoted pieces
_NOT_A_PATH = re.compile(r"[\n\r\t\0]|^[A-Za-z][A-Za-z0-9+.\-]*://")
_EXTENSION = re.compile(r"[^/.][^/]*\.(?=[A-Za-z0-9]{0,7}[A-Za-z])[A-Za-z0-9]{1,8}$")
_QUOTED = re.compile(r"'([^'\n]{1,4096})'|\"([^\"\n]{1,4096})\"")
_MAGIC = re.compile(r"[*?\[]")
_CONTAINERS = (list, tuple, set, frozenset)
# Types that never name a file: skipped before any other test (most arguments).
NO_NAME = frozenset({int, float, bool, complex, bytes, type(None)})


def possible(text: str) -> bool:
    """Whether ``text`` can be a path at all (length, characters, no URL)."""
    return 0 < len(text) <= LONGEST and not _NOT_A_PATH.search(text) and not text.isspace()


def looks_like_path(text: str) -> bool:
    """A ``/``, a leading ``~`` or a file extension: a path even when nothing is there."""
    return "/" in text or text.startswith("~") or _EXTENSION.search(text) is not None


def is_glob(text: str) -> bool:
    return _MAGIC.search(text) is not None


def quoted(text: str) -> Iterator[str]:
    """The pieces ``text`` quotes (SQL: ``FROM 'data/*.csv'``), as candidate paths."""
    if "'" not in text and '"' not in text:
        return
    for match in _QUOTED.finditer(text, 0, min(len(text), _SEARCHED)):
        piece = match.group(1) or match.group(2)
        if possible(piece) and looks_like_path(piece):
            yield piece


def is_mock(value: Any) -> bool:
    """A test double (``unittest.mock``): it stubs every protocol (``__fspath__``,
    ``__iter__``), and calling a stub changes its state, so it is asked nothing."""
    mock = sys.modules.get("unittest.mock")  # no mock exists unless it was imported
    return mock is not None and isinstance(value, mock.NonCallableMock)


def _text(value: Any) -> str | None:
    if type(value) is str:
        return value
    if isinstance(value, os.PathLike) and not is_mock(value):
        try:
            return os.fsdecode(os.fspath(value))
        except TypeError:
            return None
    return None


class Named:
    """The names a miss's code holds, sorted into two kinds: ``loose`` (a value itself:
    a plain word counts if its file exists) and ``strict`` (it must look like a path)."""

    __slots__ = ("loose", "strict")

    def __init__(self) -> None:
        self.loose: dict[str, None] = {}
        self.strict: dict[str, None] = {}

    def __bool__(self) -> bool:
        return bool(self.loose or self.strict)

    def joined(self, other: Named) -> Named:
        """A new :class:`Named` holding both."""
        both = Named()
        both.loose = {**self.loose, **other.loose}
        both.strict = {**self.strict, **other.strict}
        return both

    def add_value(self, value: Any) -> None:
        """An argument, global or closure value (and one level of items it holds)."""
        if type(value) in NO_NAME:
            return
        text = _text(value)
        if text is not None:
            self._add(text, self.loose)
            return
        tp = type(value)
        if tp in _CONTAINERS or tp is dict:
            items: Iterable[Any] = value
            if tp is dict:
                items = itertools.chain.from_iterable(itertools.islice(value.items(), ITEMS))
            for item in itertools.islice(items, ITEMS):
                text = _text(item)
                if text is not None:
                    self._add(text, self.strict)
            return
        files = dataset_files(value)
        if files:
            for path in files:
                self.strict[path] = None

    def add_values(self, values: Iterable[Any]) -> None:
        for value in values:
            if type(value) not in NO_NAME:
                self.add_value(value)

    def add_strings(self, texts: Iterable[str]) -> None:
        """Strings that must look like paths: constants of code, pieces of SQL."""
        strict = self.strict
        for text in texts:
            strict[text] = None

    def _add(self, text: str, into: dict[str, None]) -> None:
        if possible(text):
            into[text] = None
        for piece in quoted(text):
            self.strict[piece] = None


def dataset_files(value: Any) -> tuple[str, ...]:
    """The files a pyarrow ``Dataset`` on the local disk reads (else ())."""
    if not type(value).__module__.startswith("pyarrow"):
        return ()
    from ..hashing.arrow_datasets import is_dataset, local_files

    return (local_files(value) or ()) if is_dataset(value) else ()


@functools.lru_cache(maxsize=4096)
def code_strings(code: types.CodeType) -> tuple[str, ...]:
    """The constants of ``code`` (and the code nested in it) that look like paths, and
    the pieces they quote: once per code object."""
    found: dict[str, None] = {}
    stack: list[Any] = [code]
    while stack:
        item = stack.pop()
        if isinstance(item, types.CodeType):
            stack.extend(item.co_consts)
        elif isinstance(item, (tuple, frozenset)):
            stack.extend(item)
        elif type(item) is str:
            _strict(item, found)
    return tuple(found)


@functools.lru_cache(maxsize=1024)
def source_strings(source: str) -> tuple[str, ...]:
    """:func:`code_strings` for a cell's source (its string literals, f-strings' fixed
    parts included)."""
    import ast

    found: dict[str, None] = {}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and type(node.value) is str:
            _strict(node.value, found)
    return tuple(found)


def _strict(text: str, found: dict[str, None]) -> None:
    if possible(text) and looks_like_path(text):
        found[text] = None
    for piece in quoted(text):
        found[piece] = None


def function_strings(functions: Iterable[Any]) -> Iterator[str]:
    """:func:`code_strings` of each function's code (a class is walked through its
    methods, which are functions of their own in a key)."""
    for fn in functions:
        code = getattr(fn, "__code__", None)
        if isinstance(code, types.CodeType):
            yield from code_strings(code)


def resolve(text: str, cwd: str) -> str:
    """``text`` as an absolute, normalized path (``~`` expanded) from ``cwd``."""
    return os.path.normpath(os.path.join(cwd, os.path.expanduser(text)))


_HOME = os.path.expanduser("~")


def never(path: str, cwd: str) -> bool:
    """The working directory, a folder above it, the root, a folder directly under
    the root and the home folder: naming one says nothing about a result."""
    if path in (cwd, _HOME) or os.path.dirname(path) in (os.sep, path):
        return True
    return cwd.startswith(path) and cwd[len(path) : len(path) + 1] == os.sep


EMPTY = Named()  # shared: never added to


# ----- recording them ------------------------------------------------------------------


def note_named(recorder: Recorder, named: Named, strings: Iterable[str] = ()) -> None:
    """Record the files, folders and absent files the miss's code names (see
    :mod:`.pathlike` for the rule) as its reads, in ``recorder`` and the misses
    enclosing it, as they are when the run ends: a file the run itself wrote through
    a native writer is then seen as written, not as changed while it ran."""
    if strings:
        named = named.joined(EMPTY)  # a copy: the key's may be shared
        named.add_strings(strings)
    elif named is EMPTY:  # the common miss: no name at all
        return
    if not named:
        return
    recorders = (recorder, *(r for r in recording.current() if r is not recorder))
    cwd = recorder.cwd
    with files.suspended():
        for text in named.loose:
            _note_name(text, cwd, recorders, True)
        for text in named.strict:
            _note_name(text, cwd, recorders, False)


def _note_name(text: str, cwd: str, recorders: tuple[Recorder, ...], loose: bool) -> None:
    """One name (``loose``: a value itself, so a plain word counts if its file exists)."""
    pathy = looks_like_path(text)
    if not (pathy or loose):
        return
    # Named relative to the working directory: the entry keeps it, like a relative open.
    relative = not os.path.isabs(os.path.expanduser(text))
    if is_glob(text):
        if pathy:
            _note_glob(resolve(text, cwd), cwd, recorders, relative)
        return
    path = resolve(text, cwd)
    if path in recorders[0].read or never(path, cwd):
        return
    try:
        found = os.stat(path)
    except (OSError, ValueError):
        if pathy and not files.left_out(path):
            for recorder in recorders:
                recorder.note_read(path, False, None, relative)
        return
    _note_found(path, stat_module.S_ISDIR(found.st_mode), recorders, relative)


def _note_found(path: str, is_dir: bool, recorders: tuple[Recorder, ...], relative: bool) -> None:
    if files.left_out(path):
        return
    seen = files.first_sight(path, is_dir)
    for recorder in recorders:
        recorder.note_read(path, is_dir, seen, relative)


def _note_glob(pattern: str, cwd: str, recorders: tuple[Recorder, ...], relative: bool) -> None:
    """A glob: the files it matches, and the listing of its fixed leading folder (a new
    match there is a change) unless that folder is one :func:`.never` names."""
    parts = pattern.split(os.sep)
    fixed = next(i for i, part in enumerate(parts) if is_glob(part))
    folder = os.sep.join(parts[:fixed]) or os.sep
    if os.path.isdir(folder) and not never(folder, cwd):
        _note_found(folder, True, recorders, relative)
    for found in sorted(glob.glob(pattern, recursive=True)):
        if found not in recorders[0].read and not never(found, cwd):
            _note_found(found, os.path.isdir(found), recorders, relative)


__all__ = [
    "note_named",
    "NO_NAME",
    "Named",
    "EMPTY",
    "possible",
    "looks_like_path",
    "is_glob",
    "quoted",
    "code_strings",
    "source_strings",
    "function_strings",
    "dataset_files",
    "resolve",
    "never",
    "LONGEST",
    "ITEMS",
]
