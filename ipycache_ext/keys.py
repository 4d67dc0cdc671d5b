"""The key of a call or a cell: what it depends on, as structured parts, and one digest.

The parts are kept with the entry (as a :data:`~ipycache_ext.parts.Snapshot`), so a
later miss can say which of them changed: :func:`why_missed` compares part ids and
bytes, and :mod:`ipycache_ext.messages` words the result.

A function's calls are keyed by :class:`CallKeys`: the first call walks its code and
records guards (:mod:`.deps.guards`); later calls, while the guards hold, hash only
their arguments and the values that can change in place, and reuse the rest of the
key as bytes.  The digest is the same either way.
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
from .deps.guards import Dynamic, Guards, Recorder
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
        self.all_kept = self.simple and all(self.kept)
        self.via = (short_name(fn),)
        # Each argument's id as it enters a key, encoded once.
        self.ids = {n: _id_bytes(PartKind.ARGUMENT, n, self.via) for n in self.names}

    def bind(self, args: tuple, kwargs: dict) -> list[tuple[str, Any]]:
        """``(name, value)`` for every parameter that counts, defaults applied."""
        if self.all_kept and not kwargs and len(args) == len(self.names):
            return list(zip(self.names, args))
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


def _chunk(part: Part) -> bytes:
    """What one part adds to a key's digest (see :func:`digest_parts`)."""
    return _id_bytes(part.kind, part.name, part.via) + _pack_len(len(part.data)) + part.data


Argument = tuple[str, Any, bytes]  # name, value, key data


def _arguments(shape: CallShape, hasher: Hasher, args: tuple, kwargs: dict) -> list[Argument]:
    """The arguments that count, each with its key data."""
    via = shape.via
    found = []
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
        found.append((name, value, data))
    return found


def _argument_parts(arguments: list[Argument], via: tuple[str, ...]) -> list[Part]:
    return [Part(PartKind.ARGUMENT, name, via, data, value) for name, value, data in arguments]


def key_of_call(
    fn: Callable[..., Any],
    identity: bytes,
    shape: CallShape,
    hasher: Hasher,
    args: tuple,
    kwargs: dict,
) -> CallKey:
    """Key of ``fn(*args, **kwargs)``: its code and reads (transitively) and its arguments."""
    return CallKeys(fn, identity, shape, hasher).key(args, kwargs)


class CallKeys:
    """The keys of one function's calls: the first walks its code and records guards,
    the next ones reuse that walk while every guard holds (:mod:`.deps.guards`)."""

    def __init__(
        self, fn: Callable[..., Any], identity: bytes, shape: CallShape, hasher: Hasher
    ) -> None:
        self.fn = fn
        self.identity = identity
        self.shape = shape
        self.hasher = hasher
        self.guarded: GuardedCode | None = None

    def key(self, args: tuple, kwargs: dict) -> CallKey:
        """Key of ``fn(*args, **kwargs)``: its code and reads (transitively) and its
        arguments."""
        guarded = self.guarded
        if guarded is not None and guarded.guards.hold():
            if kwargs or guarded.changing:
                arguments = _arguments(self.shape, self.hasher, args, kwargs)
                return guarded.key(self.identity, self.shape, self.hasher, arguments)
            return self._positional(guarded, args)
        arguments = _arguments(self.shape, self.hasher, args, kwargs)
        recorder = None if self.hasher.has_hash_funcs else Recorder()
        deps = Deps(self.hasher, guards=recorder)
        collect(deps, self.fn, self.shape.via)
        # A walk that met something it cannot guard is made again on every call.
        guarded = None
        if recorder is not None and not recorder.broken:
            guarded = GuardedCode(Guards(recorder), deps.parts)
        self.guarded = guarded
        parts = _argument_parts(arguments, self.shape.via) + deps.parts
        return CallKey(digest_parts(self.identity, parts), parts)

    def _positional(self, guarded: GuardedCode, args: tuple) -> CallKey:
        """A call with positional arguments only, its code unchanged: the key of the
        same short ints and strings (exact types: ``1 == 1.0 == True``) is remembered."""
        for value in args:
            if type(value) not in _REMEMBERED or (type(value) is str and len(value) > 256):
                break
        else:
            key = guarded.keys.get(args)
            if key is None:
                arguments = _arguments(self.shape, self.hasher, args, {})
                key = guarded.key(self.identity, self.shape, self.hasher, arguments)
                if len(guarded.keys) >= _KEYS_KEPT:
                    guarded.keys.clear()
                guarded.keys[args] = key
            return key
        arguments = _arguments(self.shape, self.hasher, args, {})
        return guarded.key(self.identity, self.shape, self.hasher, arguments)


_REMEMBERED = frozenset({int, str})  # argument types whose equality is identity of key
_KEYS_KEPT = 1024


class GuardedCode:
    """A function's key apart from its arguments, as the bytes its digest takes, with
    the parts whose value can change in place left to hash on each call."""

    __slots__ = ("guards", "parts", "segments", "changing", "keys")

    def __init__(self, guards: Guards, parts: list[Part]) -> None:
        self.guards = guards
        self.parts = parts
        # The keys of positional calls by their arguments, while nothing can change in
        # place (the cache dies with these guards).
        self.keys: dict[tuple, CallKey] = {}
        self.changing = bool(guards.dynamic)
        changing = {d.index: d for d in guards.dynamic}
        segments: list[bytes | tuple[Dynamic, bytes]] = []
        run: list[bytes] = []
        for i, part in enumerate(parts):
            dynamic = changing.get(i)
            if dynamic is None:
                run.append(_chunk(part))
                continue
            if run:
                segments.append(b"".join(run))
                run = []
            segments.append((dynamic, _id_bytes(part.kind, part.name, part.via)))
        if run:
            segments.append(b"".join(run))
        self.segments = segments

    def key(
        self, identity: bytes, shape: CallShape, hasher: Hasher, arguments: list[Argument]
    ) -> CallKey:
        chunks = [identity]
        ids = shape.ids
        for name, _, data in arguments:
            chunks += (ids[name], _pack_len(len(data)), data)
        fresh: dict[int, bytes] = {}
        for segment in self.segments:
            if isinstance(segment, bytes):
                chunks.append(segment)
                continue
            dynamic, ident = segment
            data = hasher.part(dynamic.value, dynamic.where, dynamic.param)
            chunks += (ident, _pack_len(len(data)), data)
            fresh[dynamic.index] = data
        digest = xxhash.xxh3_128_digest(b"".join(chunks))
        return CallKey(digest, None, self._parts, (arguments, shape.via, fresh))

    def _parts(
        self, source: tuple[list[Argument], tuple[str, ...], dict[int, bytes]]
    ) -> list[Part]:
        arguments, via, fresh = source
        parts = _argument_parts(arguments, via)
        for i, part in enumerate(self.parts):
            data = fresh.get(i)
            if data is not None:
                part = Part(part.kind, part.name, part.via, data, part.value, part.by_name)
            parts.append(part)
        return parts


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
