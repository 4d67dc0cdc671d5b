"""The parts a key is made of, as structured data.

A part says what kind of thing it is (an argument, a global, the code of a function,
...), its name, the chain of user code through which it was reached, and whether it
is keyed by name (a module, a library object, an undefined name) or by the value's
digest.  Nothing here is prose: :mod:`ipycache_ext.messages` words parts for notes
and errors, and "why it missed" compares :class:`PartId` s, not strings.
"""

from __future__ import annotations

import dataclasses
import enum
import reprlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple


class PartKind(enum.StrEnum):
    """What a key part stands for; the value is stored in snapshots (stable)."""

    ARGUMENT = "argument"
    GLOBAL = "global"
    CLOSURE = "closure"
    CLASS_ATTRIBUTE = "class_attribute"
    VARIABLE = "variable"  # a notebook variable a cell reads
    DEFAULTS = "defaults"  # a function's default argument values
    CODE = "code"  # a user function's or class's code
    CELL_CODE = "cell_code"
    OPTIONS = "options"
    FILE = "file"  # a file the code read (see deps/files.py)
    DIRECTORY = "directory"  # a directory the code listed


# Kinds whose parts stand for code, not values: they never "change" to a user in the
# sense of a value (a miss says "the code of f changed").
CODE_KINDS = frozenset({PartKind.CODE, PartKind.CELL_CODE})


class PartId(NamedTuple):
    """Which part this is, independent of its value: what two keys are compared by.

    ``reader`` is the user function that read it when that is not the cached code
    itself (``global threshold`` read by ``helper``), else "".
    """

    kind: str
    name: str
    reader: str


class Seen(NamedTuple):
    """What an entry keeps of a part: its key bytes and a short repr for notes."""

    data: bytes
    shown: str


# A key's parts as an entry keeps them (a dict when made, packed once stored).
Snapshot = Mapping[PartId, Seen]


class SplitSnapshot(Mapping[PartId, Seen]):
    """A snapshot made on a function's guards: the call's own parts (its arguments)
    and the parts of its code, one dict shared by every call while the guards hold.

    Two snapshots sharing that dict differ only in their own parts, so comparing them
    (why a miss missed) and packing one (an entry) look at those alone: on a miss
    with new arguments nothing is done per part of the code.
    """

    __slots__ = ("own", "shared", "shared_ids")

    def __init__(
        self, own: dict[PartId, Seen], shared: dict[PartId, Seen], shared_ids: tuple[PartId, ...]
    ) -> None:
        self.own = own
        self.shared = shared
        self.shared_ids = shared_ids  # ``tuple(shared)``, made once with ``shared``

    def __getitem__(self, ident: PartId) -> Seen:
        found = self.own.get(ident)
        return self.shared[ident] if found is None else found

    def __iter__(self) -> Iterator[PartId]:
        yield from self.own
        yield from self.shared

    def __len__(self) -> int:
        return len(self.own) + len(self.shared)

    def ids(self) -> tuple[PartId, ...]:
        """Every part id, in order (the call's own first)."""
        return (*self.own, *self.shared_ids)

    def seen_values(self) -> list[Seen]:
        """Every part's ``Seen``, in the order of :meth:`ids`."""
        return [*self.own.values(), *self.shared.values()]


MISSING_DATA = b"?missing"  # the data of a name that is not defined
REF_DATA = b"ref:"  # prefix of the data of a name that refers to user code (by its name)


@dataclass(slots=True)
class Part:
    """One component of a key.

    ``via`` is the chain of names through which it was reached, the cached function
    (or "the cell") first.  ``by_name`` is True when ``data`` names the thing
    instead of hashing its value (a module, a library object, the shell, an
    undefined name): such a part cannot have been mutated in place.
    """

    kind: PartKind
    name: str
    via: tuple[str, ...]
    data: bytes
    value: Any = None
    by_name: bool = False

    @property
    def ident(self) -> PartId:
        return part_id(self.kind, self.name, self.via)


def part_id(kind: PartKind, name: str, via: tuple[str, ...]) -> PartId:
    reader = via[-1] if len(via) > 1 and kind not in _SELF_NAMED else ""
    return PartId(kind.value, name, reader)


# Kinds named after the code they belong to (``code of helper``): no reader.
_SELF_NAMED = frozenset(
    {PartKind.ARGUMENT, PartKind.CODE, PartKind.DEFAULTS, PartKind.CELL_CODE, PartKind.OPTIONS}
)


@dataclass(frozen=True, slots=True)
class FileState:
    """A file (or a directory's listing) a miss read, as it was when the entry was
    stored: ``exists``, ``size`` (a directory: how many names it holds), the times
    that serve as the fast check, and ``digest`` (xxh3-128 of the bytes; a
    directory: of its sorted names; b"" when it changed while the miss ran).
    """

    path: str  # absolute
    is_dir: bool
    exists: bool
    size: int = 0
    mtime_ns: int = 0
    ctime_ns: int = 0
    digest: bytes = b""
    ignored: tuple[str, ...] = ()  # a directory's names the run created (its outputs)
    # The working directory of the run, when it named this path relative to it: in
    # another one the same name is another file (empty: named by an absolute path).
    base: str = ""

    def __setstate__(self, state: list[Any]) -> None:
        """Entries persisted before a field was added read alike: it takes its default."""
        fields = dataclasses.fields(self)
        for found, value in zip(fields, state, strict=False):
            object.__setattr__(self, found.name, value)
        for found in fields[len(state) :]:
            object.__setattr__(self, found.name, found.default)

    @property
    def ident(self) -> PartId:
        kind = PartKind.DIRECTORY if self.is_dir else PartKind.FILE
        return PartId(kind.value, self.path, "")


class ReasonKind(enum.StrEnum):
    """Why a key had no entry."""

    FIRST_CALL = "first_call"
    GONE = "gone"  # this very key's entry expired, was evicted or cleared
    NO_ENTRY = "no_entry"  # same parts as last time, yet no entry
    CHANGED = "changed"  # a part is new or differs from the last key's
    REMOVED = "removed"  # the last key had a part this one has not
    REBOUND = "rebound"  # a name now refers to another user function or class


@dataclass(slots=True, unsafe_hash=True)
class Reason:
    """One reason for a miss; :func:`ipycache_ext.messages.reason_text` words it.

    Treated as immutable, though not declared frozen: a frozen dataclass costs five
    times as much to make, and every miss makes one.

    ``old``/``new`` are the short reprs of a changed value (``old`` None: a part the
    last key did not have); ``gone`` is "expired", "evicted" or "cleared";
    ``files`` is a read file's state when stored and now (a FILE/DIRECTORY part).
    """

    kind: ReasonKind
    part: PartId | None = None
    old: str | None = None
    new: str | None = None
    gone: str = ""
    files: tuple[FileState, FileState] | None = None


@dataclass(frozen=True)
class CellName:
    """How a cell is named in notes and ``%memo_info``: its ``--name``, else the names
    it binds (``shown``, at most three, ``more`` if there are others), else its first
    line; :func:`ipycache_ext.messages.cell_label` words it."""

    given: str | None
    shown: tuple[str, ...]
    more: bool
    first_line: str


class OwnerKind(enum.StrEnum):
    """What an owner of entries is: a ``@memo`` function or a ``%%memo`` cell."""

    FUNCTION = "function"
    CELL = "cell"


# How a cell's owner is told from a function's in the text that names it in the
# stores: no ``module.qualname`` contains a colon.
_CELL_PREFIX = "cell:"


class Owner(NamedTuple):
    """Whose entries these are: a function (``name`` is its ``module.qualname``) or a
    cell (``name`` is its identity, :func:`ipycache_ext.keys.cell.cell_owner`).

    :attr:`stored` is the text that names the owner in the stores and in the names of
    persisted entries: its bytes must never change, or every persisted entry is lost.
    """

    kind: OwnerKind
    name: str

    @property
    def stored(self) -> str:
        """The owner as the stores name it (``mod.f``, ``cell:cell [df]``)."""
        return _CELL_PREFIX + self.name if self.kind is OwnerKind.CELL else self.name

    @classmethod
    def read(cls, stored: str) -> Owner:
        """The owner :attr:`stored` names (an index record read back from a store)."""
        if stored.startswith(_CELL_PREFIX):
            return cls(OwnerKind.CELL, stored[len(_CELL_PREFIX) :])
        return cls(OwnerKind.FUNCTION, stored)


# ----- what a snapshot shows of a value --------------------------------------------

# The ``shown`` of an undefined name (:class:`Seen`): a miss note says "was undefined".
UNDEFINED = "<undefined>"

_short = reprlib.Repr()
_short.maxstring = 40
_short.maxother = 40
_short.maxlist = 4
_short.maxdict = 4
_short.maxtuple = 4
_short.maxset = 4

_ARRAYS = ("numpy", "pandas", "torch", "jax")
_PLAIN = frozenset({int, float, bool, str, type(None)})


def short_repr(value: object) -> str:
    """A repr short enough for a one-line note; never raises.  A :class:`Seen` keeps
    it, so a later miss can say what a value was without keeping the value.

    Arrays and frames are shown by type and shape: their repr spans lines and two
    different ones often print alike.
    """
    if type(value) in _PLAIN:  # what reprlib would show, without its dispatch
        text = repr(value)
        if len(text) <= _short.maxother and " at 0x" not in text:
            return text
    # The module first: asking any object for .shape can change it (a Mock grows one).
    shape = getattr(value, "shape", None) if type(value).__module__.startswith(_ARRAYS) else None
    if shape and isinstance(shape, tuple):
        return f"<{type(value).__name__} {'x'.join(str(n) for n in shape)}>"
    try:
        text = _short.repr(value)
    except Exception:
        return f"<{type(value).__name__}>"
    if "\n" in text or " at 0x" in text:
        return f"<{type(value).__name__}>"
    return text


class Channel(enum.Enum):
    """A kind of input the key does not cover."""

    NETWORK = "the network"
    SUBPROCESS = "a subprocess"
    ENVIRONMENT = "the environment"
    CLOCK = "the clock"
    RANDOMNESS = "randomness"
    NATIVE_READER = "a native file reader"


@dataclass(frozen=True)
class Touch:
    """One use of an unseen input: its channel, the event or name that showed it
    (``http.client.connect``), and what it reached (``127.0.0.1:8000``; may be "")."""

    channel: Channel
    via: str
    detail: str = ""
