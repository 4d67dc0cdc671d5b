"""The key of a call or a cell: what it depends on, as structured parts, and one digest.

The parts are kept with the entry (as a :data:`~ipycache_ext.parts.Snapshot`), so a
later miss can say which of them changed: :func:`why_missed` compares part ids and
bytes, and :mod:`ipycache_ext.messages` words the result.

A function's calls are keyed through :mod:`.callkeys` (which walks the code once and
reuses it on guards); a cell's here.
"""

from __future__ import annotations

import builtins
import functools
import importlib
import struct
import sys
import types
from collections.abc import Callable, Iterable
from typing import Any

import xxhash

from .. import messages
from ..deps.cell import CellFacts
from ..deps.code import (
    MISSING,
    Deps,
    add_import_read,
    add_value,
    resolve_chain,
)
from ..deps.imports import user_module_of
from ..deps.native import VALUE_KINDS
from ..deps.pathlike import Named, function_strings
from ..deps.usercode import is_user_module, short_name
from ..errors import UnhashableTypeError
from ..hashing.core import Hasher
from ..parts import (
    CODE_KINDS,
    MISSING_DATA,
    REF_DATA,
    Part,
    PartKind,
    Reason,
    ReasonKind,
    Seen,
    Snapshot,
    SplitSnapshot,
    part_id,
)

pack_len = struct.Struct("<I").pack
_BUILTINS = frozenset(dir(builtins))
_THE_CELL = ("the cell",)


class CallKey:
    """A call's (or cell's) digest and the parts it was made of (made when first
    asked for: a hit needs the digest only)."""

    __slots__ = ("digest", "_parts", "_make", "_source")

    def __init__(
        self,
        digest: bytes,
        parts: list[Part] | None = None,
        make: Callable[[Any], list[Part]] | None = None,
        source: Any = None,
    ) -> None:
        self.digest = digest
        self._parts = parts
        self._make = make
        self._source = source

    @property
    def parts(self) -> list[Part]:
        if self._parts is None:
            assert self._make is not None
            self._parts = self._make(self._source)
        return self._parts

    def snapshot(self) -> Snapshot:
        """What an entry keeps of these parts (see :func:`snapshot`)."""
        return snapshot(self.parts)

    def named(self) -> Named:
        """What the key's values and code name that may be files (see
        :mod:`.deps.pathlike`): asked on every miss."""
        return named_in(self.parts)


def named_in(parts: Iterable[Part]) -> Named:
    """:meth:`CallKey.named` of ``parts``: the values they hold and the constants of
    the code they name."""
    named = Named()
    functions = []
    for part in parts:
        if part.kind is PartKind.CODE:
            functions.append(part.value)
        elif not part.by_name and part.kind in VALUE_KINDS:
            named.add_value(part.value)
    named.add_strings(function_strings(functions))
    return named


def digest_parts(identity: bytes, parts: list[Part]) -> bytes:
    """One digest of the ids and the length-prefixed data of every part."""
    chunks = [identity]
    for part in parts:
        chunks += (id_bytes(part.kind, part.name, part.via), pack_len(len(part.data)), part.data)
    return xxhash.xxh3_128_digest(b"".join(chunks))


@functools.lru_cache(maxsize=4096)
def id_bytes(kind: PartKind, name: str, via: tuple[str, ...]) -> bytes:
    """A part's id as it enters a key (ids repeat from call to call: encode them once)."""
    return "\x1f".join(part_id(kind, name, via)).encode() + b"\0"


def part_chunk(part: Part) -> bytes:
    """What one part adds to a key's digest (see :func:`digest_parts`)."""
    return id_bytes(part.kind, part.name, part.via) + pack_len(len(part.data)) + part.data


def key_of_cell(
    facts: CellFacts, namespace: dict[str, Any], options: str, hasher: Hasher
) -> CallKey:
    """Key of a cell: its normalized code, options, and what it reads (transitively)."""
    deps = Deps(hasher)
    deps.parts.append(Part(PartKind.CELL_CODE, "", _THE_CELL, facts.code_digest, None, True))
    deps.parts.append(Part(PartKind.OPTIONS, "", _THE_CELL, options.encode(), options, True))
    starred = _star_exports(facts.star_modules)
    for name in facts.reads:
        if name in starred:  # bound by the cell's own `from module import *`
            module = starred[name]
            dotted = f"{module.__name__}.{name}"
            add_value(
                deps, _THE_CELL, PartKind.VARIABLE, dotted, getattr(module, name, MISSING), name
            )
            continue
        value = namespace.get(name, MISSING)
        if value is MISSING and name in _BUILTINS:
            continue
        if name.startswith("_"):
            _add_underscored(deps, name, value)
        else:
            add_value(deps, _THE_CELL, PartKind.VARIABLE, name, value, name)
        if isinstance(value, types.ModuleType) and is_user_module(value.__name__):
            for chain in facts.chains:
                if chain[0] == name:
                    found, used = resolve_chain(value, chain[1:])
                    dotted = ".".join((name, *used))
                    add_value(deps, _THE_CELL, PartKind.VARIABLE, dotted, found, name)
    for name, source in facts.imported:
        # A user module the cell imports itself: keyed on what the cell reads of it,
        # as when it was imported in an earlier cell (imported now if need be).
        imported = None if name.startswith("_") else user_module_of(source, None)
        if imported is None:
            continue
        paths = [()] + [chain[1:] for chain in facts.chains if chain[0] == name]
        for path in dict.fromkeys(paths):
            add_import_read(deps, _THE_CELL, PartKind.VARIABLE, name, source, imported, path)
    return CallKey(digest_parts(b"cell", deps.parts), deps.parts)


def _add_underscored(deps: Deps, name: str, value: Any) -> None:
    """A name starting with ``_`` that a cell reads is an input like any other
    (``_raw``, IPython's ``_`` and ``_3``).  One whose value cannot be hashed (a lock,
    a connection) is a handle, keyed by its type: as a ``@memo`` parameter starting
    with ``_`` is left out, renaming such a value is how a cell says it does not
    define the result."""
    try:
        add_value(deps, _THE_CELL, PartKind.VARIABLE, name, value, name)
    except UnhashableTypeError:
        tp = type(value)
        data = b"handle:" + f"{tp.__module__}.{tp.__qualname__}".encode()
        deps.parts.append(Part(PartKind.VARIABLE, name, _THE_CELL, data, None, True))


def _star_exports(modules: tuple[str, ...]) -> dict[str, types.ModuleType]:
    """The names ``from module import *`` binds, by module (imported now if need be:
    the cell is about to import it anyway)."""
    exported: dict[str, types.ModuleType] = {}
    for name in modules:
        try:
            module = sys.modules.get(name) or importlib.import_module(name)
        except Exception:
            continue
        names = getattr(module, "__all__", None)
        if names is None:
            names = [n for n in vars(module) if not n.startswith("_")]
        for exported_name in names:
            exported.setdefault(exported_name, module)
    return exported


def snapshot(parts: list[Part]) -> Snapshot:
    """What an entry keeps of its parts: bytes and a short repr, by part id."""
    return {p.ident: Seen(p.data, shown_of(p)) for p in parts}


def shown_of(part: Part) -> str:
    if part.kind in CODE_KINDS:
        return ""
    if part.kind is PartKind.OPTIONS:
        return str(part.value)
    if part.data == MISSING_DATA:
        return messages.UNDEFINED
    if part.by_name and part.data.startswith(REF_DATA):
        return short_name(part.value)
    return messages.short_repr(part.value)


def why_missed(before: Snapshot | None, now: Snapshot, gone: str | None = None) -> list[Reason]:
    """Why a key differs from the last one seen for the same function or cell.

    ``gone`` says how this very key's entry went (expired, evicted, cleared): an
    expired or evicted entry explains the miss better than a comparison with the
    previous call; a clear does when no call was made since.
    """
    if gone is not None and (gone != "cleared" or before is None):
        return [Reason(ReasonKind.GONE, gone=gone)]
    if before is None:
        return [Reason(ReasonKind.FIRST_CALL)]
    if type(before) is SplitSnapshot and type(now) is SplitSnapshot and before.shared is now.shared:
        before, now = before.own, now.own  # the same code's parts: only the call's differ
    reasons = []
    references = []  # names newly bound to user code: why, when nothing else says
    for ident, seen in now.items():
        old = before.get(ident)
        if old is not None and old.data == seen.data:
            continue
        if old is None and (ident.kind == PartKind.CODE.value or seen.data.startswith(REF_DATA)):
            # Newly reached code: the part that leads to it says why (or, with no
            # other change, a name that now refers to it: a builtin shadowed).
            if ident.kind != PartKind.CODE.value:
                references.append(Reason(ReasonKind.CHANGED, ident, None, seen.shown))
            continue
        rebound = old is not None and old.data.startswith(REF_DATA)
        kind = ReasonKind.REBOUND if rebound and seen.data.startswith(REF_DATA) else None
        reasons.append(
            Reason(
                kind or ReasonKind.CHANGED, ident, None if old is None else old.shown, seen.shown
            )
        )
    for ident, seen in before.items():
        if ident not in now and ident.kind != PartKind.CODE.value:
            if seen.data.startswith(REF_DATA):
                continue  # code no longer reached: the changed code that read it says why
            reasons.append(Reason(ReasonKind.REMOVED, ident))
    return reasons or references or [Reason(ReasonKind.NO_ENTRY)]
