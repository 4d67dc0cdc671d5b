"""The keys of a function's calls: its arguments bound and hashed, its code walked once.

The first call walks the function's code (:mod:`..deps.code`) and records guards
(:mod:`..deps.guards`); the next calls, while every guard holds, hash only their
arguments and the values that can change in place, and reuse the rest of the key as
the bytes its digest takes.  The digest is the one :func:`.key.digest_parts` gives
for the same parts either way.
"""

from __future__ import annotations

import inspect
import io
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import xxhash

from ..deps.code import Deps, collect, part_data, short_atom
from ..deps.guards import Dynamic, Guards, Recorder
from ..deps.pathlike import EMPTY, NO_NAME, Named, is_mock
from ..deps.usercode import short_name
from ..errors import ConsumedArgumentError
from ..hashing.core import Hasher
from ..hashing.handlers import IN_MEMORY_FILES
from ..parts import (
    Owner,
    OwnerKind,
    Part,
    PartKind,
    Seen,
    Snapshot,
    SplitSnapshot,
    part_id,
    short_repr,
)
from .key import CallKey, digest_parts, id_bytes, identity_of, named_in, pack_len, part_chunk
from .shown import shown_of

_SCALARS = frozenset({int, float, str, bool, bytes, type(None), tuple, list, dict})
# ``Seen(data, shown)`` without the named tuple's Python ``__new__``: made on every miss.
_seen = tuple.__new__
_NO_DEFAULT = inspect.Parameter.empty


def function_owner(fn: Callable[..., Any]) -> Owner:
    """The owner of a function's entries: its ``module.qualname`` (a function redefined
    in a notebook keeps its entries; the key's code part tells the versions apart)."""
    return Owner(OwnerKind.FUNCTION, f"{fn.__module__}.{fn.__qualname__}")


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
        self.ids = {n: id_bytes(PartKind.ARGUMENT, n, self.via) for n in self.names}
        self.idents = {n: part_id(PartKind.ARGUMENT, n, self.via) for n in self.names}

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
                # f(x=1, y=2) is f(y=2, x=1); f(_log=...) is left out, as a _ parameter is
                value = {k: v for k, v in sorted(value.items()) if not k.startswith("_")}
            kept.append((name, value))
        return kept


Argument = tuple[str, Any, bytes]  # name, value, key data


def _arguments(shape: CallShape, hasher: Hasher, args: tuple, kwargs: dict) -> list[Argument]:
    """The arguments that count, each with its key data."""
    via = shape.via
    found = []
    for name, value in shape.bind(args, kwargs):
        data = short_atom(hasher, value)
        if data is None:
            if _consumed_by_call(value) and not hasher.claims(value):
                type_name = f"{type(value).__module__}.{type(value).__qualname__}"
                # An open file: its path is what to pass; any other iterator: a list.
                raise ConsumedArgumentError(name, type_name, via, isinstance(value, io.IOBase))
            data = part_data(hasher, PartKind.ARGUMENT, name, via, value, name)
        found.append((name, value, data))
    return found


def _consumed_by_call(value: Any) -> bool:
    """An iterator: reading it uses it up, so a hit would leave it unread.  That is an
    object whose ``__iter__`` returns itself; one that returns another object (a
    container that defines ``__next__`` too) is a value like others, and so is a test
    double (``MagicMock`` stubs both methods; calling one would change its state)."""
    if type(value) in _SCALARS or type(value) in IN_MEMORY_FILES or not isinstance(value, Iterator):
        return False
    if is_mock(value):
        return False
    try:
        return iter(value) is value
    except Exception:
        return False


def _argument_parts(arguments: list[Argument], via: tuple[str, ...]) -> list[Part]:
    return [Part(PartKind.ARGUMENT, name, via, data, value) for name, value, data in arguments]


class CallKeys:
    """The keys of one function's calls: the first walks its code and records guards,
    the next ones reuse that walk while every guard holds (:mod:`..deps.guards`).

    The guards hold what the last walk read (a global's old value too, until the next
    call walks again); clearing the cache lets go of it (:func:`forget_all`)."""

    def __init__(
        self, fn: Callable[..., Any], owner: Owner, shape: CallShape, hasher: Hasher
    ) -> None:
        self.fn = fn
        self.identity = identity_of(owner)
        self.shape = shape
        self.hasher = hasher
        self.guarded: GuardedCode | None = None
        _ALL.add(self)

    def forget(self) -> None:
        """Drop the guards (and what they hold): the next call walks the code again."""
        self.guarded = None

    def key(self, args: tuple, kwargs: dict) -> CallKey:
        """Key of ``fn(*args, **kwargs)``: its code and reads (transitively) and its
        arguments."""
        guarded = self.guarded
        if guarded is not None and guarded.guards.hold():
            if not (kwargs or guarded.changing):
                for value in args:
                    if type(value) not in _REMEMBERED:
                        break
                else:
                    key = guarded.keys.get(args)  # equal int/str tuples: the same key
                    if key is not None:
                        return key
                    return self._remembered(guarded, args)
            arguments = _arguments(self.shape, self.hasher, args, kwargs)
            return guarded.key(self.identity, self.shape, self.hasher, arguments)
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

    def _remembered(self, guarded: GuardedCode, args: tuple) -> CallKey:
        """A call with positional ints and strings only (exact types: ``1 == 1.0 ==
        True``), its code unchanged: its key is remembered, unless a string is long."""
        arguments = _arguments(self.shape, self.hasher, args, {})
        key = guarded.key(self.identity, self.shape, self.hasher, arguments)
        for value in args:
            if type(value) is str and len(value) > 256:
                return key
        if len(guarded.keys) >= _KEYS_KEPT:  # the oldest out: the hot arguments stay
            del guarded.keys[next(iter(guarded.keys))]
        guarded.keys[args] = key
        return key


_ALL: weakref.WeakSet[CallKeys] = weakref.WeakSet()


def forget_all() -> None:
    """Drop every function's guards (``memo.clear()``, ``%memo_clear``)."""
    for keys in list(_ALL):
        keys.forget()


_NOTHING_FRESH: dict[int, bytes] = {}  # read only: no part was hashed afresh
_REMEMBERED = frozenset({int, str})  # argument types whose equality is identity of key
_KEYS_KEPT = 64  # per function: some 30 kB at most


class GuardedCode:
    """A function's key apart from its arguments, as the bytes its digest takes, with
    the parts whose value can change in place left to hash on each call."""

    __slots__ = (
        "guards",
        "parts",
        "seen",
        "seen_map",
        "seen_ids",
        "segments",
        "tail",
        "changing",
        "keys",
        "_named",
    )

    def __init__(self, guards: Guards, parts: list[Part]) -> None:
        self.guards = guards
        self.parts = parts
        # What an entry keeps of each part: the same while the guards hold (a part
        # that can change in place is shown afresh).
        self.seen = [(part.ident, Seen(part.data, shown_of(part))) for part in parts]
        # The code's parts as every snapshot with nothing fresh shares them.
        self.seen_map = dict(self.seen)
        self.seen_ids = tuple(self.seen_map)
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
                run.append(part_chunk(part))
                continue
            if run:
                segments.append(b"".join(run))
                run = []
            segments.append((dynamic, id_bytes(part.kind, part.name, part.via)))
        if run:
            segments.append(b"".join(run))
        self.segments = segments
        self.tail = b"" if self.changing else b"".join(segments)  # type: ignore[arg-type]
        self._named: Named | None = None

    def named(self) -> Named:
        """What the code's parts name that may be files, apart from the parts that can
        change in place (see :meth:`GuardedKey.named`): found once per walk."""
        found = self._named
        if found is None:
            changing = {d.index for d in self.guards.dynamic}
            found = named_in(part for i, part in enumerate(self.parts) if i not in changing)
            self._named = found = found if found else EMPTY
        return found

    def key(
        self, identity: bytes, shape: CallShape, hasher: Hasher, arguments: list[Argument]
    ) -> CallKey:
        chunks = [identity]
        ids = shape.ids
        for name, _, data in arguments:
            chunks += (ids[name], pack_len(len(data)), data)
        if not self.changing:  # the code's bytes are one segment: nothing is fresh
            chunks.append(self.tail)
            digest = xxhash.xxh3_128_digest(b"".join(chunks))
            return GuardedKey(digest, self._parts, (arguments, shape, _NOTHING_FRESH), self)
        fresh: dict[int, bytes] = {}
        for segment in self.segments:
            if isinstance(segment, bytes):
                chunks.append(segment)
                continue
            dynamic, ident = segment
            data = hasher.part(dynamic.value, dynamic.where, dynamic.param)
            chunks += (ident, pack_len(len(data)), data)
            fresh[dynamic.index] = data
        digest = xxhash.xxh3_128_digest(b"".join(chunks))
        return GuardedKey(digest, self._parts, (arguments, shape, fresh), self)

    def _parts(self, source: tuple[list[Argument], CallShape, dict[int, bytes]]) -> list[Part]:
        arguments, shape, fresh = source
        parts = _argument_parts(arguments, shape.via)
        for i, part in enumerate(self.parts):
            data = fresh.get(i)
            if data is not None:
                part = Part(part.kind, part.name, part.via, data, part.value, part.by_name)
            parts.append(part)
        return parts


class GuardedKey(CallKey):
    """A key made on guards: the snapshot of its code's parts is made once, with them."""

    __slots__ = ("_code",)

    def __init__(
        self,
        digest: bytes,
        make: Callable[[Any], list[Part]],
        source: Any,
        code: GuardedCode,
    ) -> None:
        self.digest = digest  # CallKey's fields, set here: one call less on every miss
        self._parts = None
        self._make = make
        self._source = source
        self._code = code

    def named(self) -> Named:
        """The code's names (found once per walk), the arguments' and those of the
        values that can change in place, looked at again."""
        code = self._code
        found = code.named()
        arguments = self._source[0]
        for _, value, _ in arguments:  # a loop, no comprehension: it runs on every miss
            if type(value) not in NO_NAME:
                break
        else:
            if not code.changing:  # ints and the like: the common miss builds nothing
                return found
        own = Named()
        own.add_values(value for _, value, _ in arguments)
        own.add_values(d.value for d in code.guards.dynamic)
        if not own:
            return found
        return own.joined(found) if found is not EMPTY else own

    def snapshot(self) -> Snapshot:
        arguments, shape, fresh = self._source
        idents = shape.idents
        found = {}
        for name, value, data in arguments:  # a loop, not a comprehension: one frame less
            found[idents[name]] = _seen(Seen, (data, short_repr(value)))
        code = self._code
        if not fresh:
            return SplitSnapshot(found, code.seen_map, code.seen_ids)
        for i, (ident, seen) in enumerate(code.seen):
            data = fresh.get(i)
            if data is not None:
                part = code.parts[i]
                changed = Part(part.kind, part.name, part.via, data, part.value, part.by_name)
                seen = Seen(data, shown_of(changed))
            found[ident] = seen
        return found
