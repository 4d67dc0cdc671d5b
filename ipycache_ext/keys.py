"""The key of a call or a cell: what it depends on, as structured parts, and one digest.

The parts are kept with the entry (as a :data:`~ipycache_ext.parts.Snapshot`), so a
later miss can say which of them changed: :func:`why_missed` compares part ids and
bytes, and :mod:`ipycache_ext.messages` words the result.
"""

from __future__ import annotations

import builtins
import functools
import importlib
import inspect
import struct
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

import xxhash

from . import messages
from .deps.cell import CellFacts
from .deps.code import (
    MISSING,
    Deps,
    add_import_read,
    add_value,
    collect,
    resolve_chain,
    short_atom,
)
from .deps.imports import user_module_of
from .deps.usercode import is_user_module, short_name
from .errors import UnhashableTypeError
from .hashing.core import Hasher
from .hashing.handlers import IN_MEMORY_FILES
from .parts import (
    CODE_KINDS,
    MISSING_DATA,
    REF_DATA,
    Part,
    PartKind,
    Reason,
    ReasonKind,
    Seen,
    Snapshot,
    part_id,
)

_pack_len = struct.Struct("<I").pack
_SCALARS = frozenset({int, float, str, bool, bytes, type(None), tuple, list, dict})
_NO_DEFAULT = inspect.Parameter.empty
_BUILTINS = frozenset(dir(builtins))
_THE_CELL = ("the cell",)


class CallShape:
    """How to bind a function's arguments quickly, and which ones to leave out.

    The common case (positional-or-keyword parameters only) is bound by hand, which
    costs a fraction of ``Signature.bind``; anything else goes through ``bind``.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.signature = inspect.signature(fn)
        params = list(self.signature.parameters.values())
        self.simple = all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params)
        self.names = [p.name for p in params]
        self.defaults = {p.name: p.default for p in params if p.default is not _NO_DEFAULT}
        self.kept = [not n.startswith("_") for n in self.names]

    def bind(self, args: tuple, kwargs: dict) -> list[tuple[str, Any]]:
        """``(name, value)`` for every parameter that counts, defaults applied."""
        if self.simple and len(args) <= len(self.names):
            out = []
            from_kwargs = 0
            for i, name in enumerate(self.names):
                if i < len(args):
                    value = args[i]
                elif name in kwargs:
                    value = kwargs[name]
                    from_kwargs += 1
                elif name in self.defaults:
                    value = self.defaults[name]
                else:
                    break
                if self.kept[i]:
                    out.append((name, value))
            else:
                if from_kwargs == len(kwargs):
                    return out
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        kept = []
        for name, value in bound.arguments.items():
            if name.startswith("_"):
                continue
            if self.signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
                value = dict(sorted(value.items()))  # f(x=1, y=2) is f(y=2, x=1)
            kept.append((name, value))
        return kept


class CallKey:
    """A call's (or cell's) digest and the parts it was made of."""

    __slots__ = ("digest", "parts")

    def __init__(self, digest: bytes, parts: list[Part]) -> None:
        self.digest = digest
        self.parts = parts


def digest_parts(identity: bytes, parts: list[Part]) -> bytes:
    """One digest of the ids and the length-prefixed data of every part."""
    chunks = [identity]
    for part in parts:
        chunks += (_id_bytes(part.kind, part.name, part.via), _pack_len(len(part.data)), part.data)
    return xxhash.xxh3_128_digest(b"".join(chunks))


@functools.lru_cache(maxsize=4096)
def _id_bytes(kind: PartKind, name: str, via: tuple[str, ...]) -> bytes:
    """A part's id as it enters a key (ids repeat from call to call: encode them once)."""
    return "\x1f".join(part_id(kind, name, via)).encode() + b"\0"


def key_of_call(
    fn: Callable[..., Any],
    identity: bytes,
    shape: CallShape,
    hasher: Hasher,
    args: tuple,
    kwargs: dict,
) -> CallKey:
    """Key of ``fn(*args, **kwargs)``: its code and reads (transitively) and its arguments."""
    deps = Deps(hasher)
    via = (short_name(fn),)
    for name, value in shape.bind(args, kwargs):
        data = short_atom(hasher, value)
        if data is None:
            where = messages.part_place(PartKind.ARGUMENT, name, via)
            if (
                type(value) not in _SCALARS
                and isinstance(value, Iterator)
                and type(value) not in IN_MEMORY_FILES
            ):
                type_name = f"{type(value).__module__}.{type(value).__qualname__}"
                text = messages.iterator_argument_error(name, type_name, via[0])
                raise UnhashableTypeError(text, type_name, where)
            data = hasher.part(value, where, name)
        deps.parts.append(Part(PartKind.ARGUMENT, name, via, data, value))
    collect(deps, fn, via)
    return CallKey(digest_parts(identity, deps.parts), deps.parts)


def key_of_cell(
    facts: CellFacts, namespace: dict[str, Any], options: str, hasher: Hasher
) -> CallKey:
    """Key of a cell: its normalized code, options, and what it reads (transitively)."""
    deps = Deps(hasher)
    deps.parts.append(Part(PartKind.CELL_CODE, "", _THE_CELL, facts.code_digest, None, True))
    deps.parts.append(Part(PartKind.OPTIONS, "", _THE_CELL, options.encode(), options, True))
    starred = _star_exports(facts.star_modules)
    for name in facts.reads:
        if name.startswith("_"):
            continue
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
    return {p.ident: Seen(p.data, _shown(p)) for p in parts}


def _shown(part: Part) -> str:
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
    reasons = []
    for ident, seen in now.items():
        old = before.get(ident)
        if old is not None and old.data == seen.data:
            continue
        if old is None and (ident.kind == PartKind.CODE.value or seen.data.startswith(REF_DATA)):
            continue  # newly reached code: the part that leads to it says why
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
    return reasons or [Reason(ReasonKind.NO_ENTRY)]
