"""What code depends on: its own code, the globals and closure values it reads, and,
transitively, the user functions, methods and classes it references.

The static part of a code object (its digest and the names it reads, :mod:`.facts`) is
computed once and cached; the values it reads are looked up again on every call (or,
while :mod:`.guards` say nothing moved, only the ones that can change in place), which
is what keeps results from going stale.  Which code is the user's is :mod:`.usercode`'s
business.
"""

from __future__ import annotations

import functools
import operator
import threading
import types
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import xxhash

from .. import messages
from ..errors import MemoError
from ..hashing.core import Hasher, register
from ..hashing.wire import pack_q
from ..parts import MISSING_DATA, REF_DATA, Part, PartKind
from .facts import CodeFacts, facts_of
from .guards import MISSING, Recorder, frozen, keyed_by_identity, same_items
from .imports import start_value, user_module_of
from .usercode import (
    is_environment,
    is_library_ref,
    is_user_callable,
    is_user_class,
    qualified_name,
    short_name,
    unwrap,
)

# ----- dependency parts of a call ------------------------------------------------------


@dataclass
class Deps:
    """The parts collected for one key, with a guard against cycles.

    ``guards``, when given, records what the walk read (:mod:`.guards`) so a later
    call can check that instead of walking again.  ``pending`` is the walk's own
    stack: a chain of helpers as long as the program can run is walked without
    recursion.
    """

    hasher: Hasher
    parts: list[Part] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)
    guards: Recorder | None = None
    pending: deque[tuple[Any, tuple[str, ...]]] = field(default_factory=deque)
    walking: bool = False


_METHOD_TYPES = (types.MethodType, types.BuiltinMethodType, types.MethodWrapperType)


def resolve_chain(root: Any, chain: tuple[str, ...]) -> tuple[Any, tuple[str, ...]]:
    """Follow ``root.a.b``; stop before a bound method (``arr.mean``): its owner is
    what the code reads.  Returns the value and the part of the chain used."""
    value = root
    for i, attr in enumerate(chain):
        try:
            found = getattr(value, attr)
        except Exception:
            return MISSING, chain[: i + 1]
        if isinstance(found, _METHOD_TYPES) and getattr(found, "__self__", None) is value:
            return value, chain[:i]
        value = found
    return value, chain


_SCALARS = frozenset({int, float, str, bool, type(None), bytes})
_INT64 = range(-(1 << 63), 1 << 63)


def short_atom(hasher: Hasher, value: Any) -> bytes | None:
    """The key data of a number or a string (:meth:`Hasher.part`'s), without building
    the place an error would need: hashing one cannot fail (no ``hash_funcs`` entry
    can raise for it).  None for anything else.

    An int that fits 64 bits, the most common argument, is encoded here: the same
    bytes as :mod:`..hashing.atoms` gives it, without three calls on every miss."""
    if hasher.has_hash_funcs:
        return None
    if type(value) is int and value in _INT64:
        return b"i" + pack_q(value)
    if type(value) in _SCALARS:
        return hasher.part(value)
    return None


def part_data(
    hasher: Hasher,
    kind: PartKind,
    name: str,
    via: tuple[str, ...],
    value: Any,
    param: str | None = None,
) -> bytes:
    """The key data of a part's value, an error placed where the value sits
    (``f -> helper -> global cfg``)."""
    return hasher.part(value, messages.part_place(kind, name, via), param)


def add_value(
    deps: Deps,
    via: tuple[str, ...],
    kind: PartKind,
    name: str,
    value: Any,
    param: str | None = None,
) -> None:
    """A value read by code: traverse user code, name libraries, hash the rest.

    ``param`` is the name a user could prefix with ``_`` to leave the value out.
    """
    data = short_atom(deps.hasher, value)  # the hot path of a hit: a number or a string
    if data is not None:
        deps.parts.append(Part(kind, name, via, data, value))
        return
    if is_user_callable(value):
        target = unwrap(value)
        # Which function the name refers to, by name: rebinding it (helper = other) is
        # then a changed global, not only new code reached.
        data = REF_DATA + qualified_name(target).encode()
        deps.parts.append(Part(kind, name, via, data, target, True))
        if deps.guards is not None and target is not value:
            deps.guards.check(unwrap, value, target)
        collect(deps, target, via + (short_name(target),))
        return
    if value is MISSING:
        deps.parts.append(Part(kind, name, via, MISSING_DATA, None, True))
        return
    if isinstance(value, types.ModuleType):
        data = b"mod:" + value.__name__.encode()
        deps.parts.append(Part(kind, name, via, data, value, True))
        return
    if is_environment(value):
        deps.parts.append(Part(kind, name, via, b"env:" + name.encode(), None, True))
        return
    where = messages.part_place(kind, name, via)
    deps.parts.append(Part(kind, name, via, deps.hasher.part(value, where, param), value))
    if deps.guards is not None and not keyed_by_identity(value):
        deps.guards.changing(len(deps.parts) - 1, value, where, param)


def _is_builtin(rec: Recorder | None, builtins: Any, name: str) -> bool:
    """True if ``name`` (not a global) is a builtin; recorded either way."""
    if builtins is None:
        return False
    if rec is not None:
        if isinstance(builtins, dict):
            rec.binding(builtins, name, builtins.get(name, MISSING))
        else:
            rec.broken = True
    return name in builtins


def _read_globals(deps: Deps, fn: types.FunctionType, facts: CodeFacts, via: tuple) -> None:
    namespace = fn.__globals__
    rec = deps.guards
    builtins = namespace.get("__builtins__")
    if rec is not None:
        rec.binding(namespace, "__builtins__", namespace.get("__builtins__", MISSING))
    if isinstance(builtins, types.ModuleType):
        builtins = builtins.__dict__
    for name in facts.bare:
        value = namespace.get(name, MISSING)
        if rec is not None:
            rec.binding(namespace, name, value)
        if value is MISSING and _is_builtin(rec, builtins, name):
            continue
        add_value(deps, via, PartKind.GLOBAL, name, value)
    for chain in facts.chains:
        root = namespace.get(chain[0], MISSING)
        if rec is not None:
            rec.binding(namespace, chain[0], root)
        if root is MISSING and _is_builtin(rec, builtins, chain[0]):
            continue
        dotted = ".".join(chain)
        if is_library_ref(root):
            data = b"lib:" + qualified_name(root).encode() + b":" + dotted.encode()
            deps.parts.append(Part(PartKind.GLOBAL, dotted, via, data, None, True))
            continue
        value, used = resolve_chain(root, chain[1:])
        if rec is not None:
            _guard_chain(rec, root, chain[1:], value, used)
        add_value(deps, via, PartKind.GLOBAL, ".".join(chain[:1] + used), value)


def _guard_chain(
    rec: Recorder, root: Any, rest: tuple[str, ...], value: Any, used: tuple[str, ...]
) -> None:
    """Guard ``root.a.b``: through modules, the bindings in their dicts; else the chain
    is followed again on each call."""
    current = root
    if value is not MISSING and used == rest:
        for attr in rest:
            if type(current) is not types.ModuleType:
                break
            namespace = vars(current)
            current = namespace.get(attr, MISSING)
            if current is MISSING:
                break
            rec.binding(namespace, attr, current)
        else:
            return
    rec.check(functools.partial(_follow, rest, used), root, value)


def _follow(rest: tuple[str, ...], used: tuple[str, ...], root: Any) -> Any:
    value, now = resolve_chain(root, rest)
    return value if now == used else _ELSEWHERE


_ELSEWHERE = object()  # a chain that now stops at another step


def _read_imports(deps: Deps, fn: types.FunctionType, facts: CodeFacts, via: tuple) -> None:
    """What the function reads of user modules it imports itself: keyed as if the
    import were at module level (``mymod.helper``, ``helper``)."""
    package = fn.__globals__.get("__package__")
    rec = deps.guards
    if rec is not None:
        rec.binding(fn.__globals__, "__package__", fn.__globals__.get("__package__", MISSING))
    for read in facts.imports:
        module = user_module_of(read.source, package)
        if rec is not None:  # which module the import finds (``sys.modules``, a reload)
            rec.check(functools.partial(user_module_of, read.source), package, module)
        if module is not None:
            add_import_read(deps, via, PartKind.GLOBAL, read.name, read.source, module, read.path)


def add_import_read(
    deps: Deps,
    via: tuple[str, ...],
    kind: PartKind,
    name: str,
    source: Any,
    module: types.ModuleType,
    path: tuple[str, ...],
) -> None:
    """The part of ``name.path`` where ``name`` was bound by importing ``module``."""
    root, first = start_value(source, module)
    value, used = resolve_chain(root, first + path)
    if deps.guards is not None:
        _guard_chain(deps.guards, root, first + path, value, used)
    dotted = ".".join((name, *used[len(first) :]))
    add_value(deps, via, kind, dotted, value, name if kind is PartKind.VARIABLE else None)


def _function_parts(deps: Deps, fn: types.FunctionType, via: tuple[str, ...]) -> None:
    facts = facts_of(fn.__code__)
    rec = deps.guards
    deps.parts.append(Part(PartKind.CODE, via[-1], via, facts.digest, fn, True))
    if fn.__defaults__ or fn.__kwdefaults__:
        # Apart from the code: a mutable default changed in place is not a code edit.
        defaults = (fn.__defaults__, fn.__kwdefaults__)
        where = messages.part_place(PartKind.DEFAULTS, via[-1], via)
        data = deps.hasher.part(defaults, where)
        deps.parts.append(Part(PartKind.DEFAULTS, via[-1], via, data, None))
        if rec is not None and not (fn.__kwdefaults__ is None and frozen(fn.__defaults__)):
            rec.changing(len(deps.parts) - 1, defaults, where, None)
    _read_globals(deps, fn, facts, via)
    if facts.imports:
        _read_imports(deps, fn, facts, via)
    registry = getattr(fn, "registry", None)
    if isinstance(registry, types.MappingProxyType):  # functools.singledispatch
        if rec is not None:
            rec.check(operator.attrgetter("registry"), fn, registry)
            rec.check(same_items(registry), registry, True)
        for impl in registry.values():
            if is_user_callable(impl):
                target = unwrap(impl)
                collect(deps, target, via + (short_name(target),))
    if fn.__closure__:
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__):
            try:
                value = cell.cell_contents
            except ValueError:
                value = MISSING
            if rec is not None:
                rec.cell(cell, value)
            add_value(deps, via, PartKind.CLOSURE, name, value)


def _class_parts(deps: Deps, cls: type, via: tuple[str, ...]) -> None:
    rec = deps.guards
    if rec is not None:
        rec.check(same_items(vars(cls)), vars(cls), True)
    h = xxhash.xxh3_128(qualified_name(cls).encode())
    for base in cls.__bases__:
        if is_user_class(base):
            collect(deps, base, via + (base.__qualname__,))
        else:
            h.update(b"base:" + qualified_name(base).encode())
    deps.parts.append(Part(PartKind.CODE, via[-1], via, h.digest(), cls, True))
    for name, attr in list(vars(cls).items()):
        if isinstance(attr, (staticmethod, classmethod)):
            attr = attr.__func__
        if isinstance(attr, property):
            for accessor in (attr.fget, attr.fset, attr.fdel):
                if isinstance(accessor, types.FunctionType):
                    collect(deps, accessor, via + (accessor.__qualname__,))
            continue
        if isinstance(attr, types.FunctionType) or is_user_callable(attr):
            target = unwrap(attr)
            collect(deps, target, via + (short_name(target),))
        elif not (name.startswith("_") and name.endswith("_")):
            dotted = f"{cls.__qualname__}.{name}"
            try:
                add_value(deps, via, PartKind.CLASS_ATTRIBUTE, dotted, attr)
            except MemoError:
                # Bookkeeping a class may carry (ABC caches, locks): keyed by type.
                if rec is not None:
                    rec.broken = True
                data = b"?unhashable:" + qualified_name(type(attr)).encode()
                deps.parts.append(Part(PartKind.CLASS_ATTRIBUTE, dotted, via, data, None, True))


def collect(deps: Deps, obj: Any, via: tuple[str, ...]) -> None:
    """Add the parts of a user function or class (once per key, cycles allowed).

    ``via`` is the chain of names that led here, the memoized function first.  Code
    reached while a walk runs waits on ``deps.pending`` (first come, first walked), so
    the depth of the call graph never becomes the depth of Python's stack.
    """
    if id(obj) in deps.seen:
        return
    deps.seen.add(id(obj))
    deps.pending.append((obj, via))
    if deps.walking:
        return
    deps.walking = True
    try:
        while deps.pending:
            obj, via = deps.pending.popleft()
            if isinstance(obj, type):
                _class_parts(deps, obj, via)
            else:
                _function_parts(deps, obj, via)
    finally:
        deps.walking = False
        deps.pending.clear()


# ----- functions, classes and modules as values ----------------------------------------

_in_progress = threading.local()


def digest_of_code_object(obj: Any, hasher: Hasher) -> bytes | None:
    """Digest of a function, class or module found inside a value (an argument, a global).

    User code is hashed by its code and what it reads, transitively; library code by
    its qualified name.  None for a callable object of a user class (it is hashed by
    its state, like any object).
    """
    obj = unwrap(obj)
    if not isinstance(obj, (types.FunctionType, type)) and is_user_class(type(obj)):
        return None
    if isinstance(obj, types.ModuleType):
        return xxhash.xxh3_128_digest(b"module:" + obj.__name__.encode())
    if not is_user_callable(obj):
        return xxhash.xxh3_128_digest(b"lib:" + qualified_name(obj).encode())
    active: set[int] = getattr(_in_progress, "ids", None) or set()
    _in_progress.ids = active
    if id(obj) in active:
        return xxhash.xxh3_128_digest(b"ref:" + qualified_name(obj).encode())
    active.add(id(obj))
    try:
        deps = Deps(hasher)
        collect(deps, obj, (short_name(obj),))
        h = xxhash.xxh3_128(b"code:" + qualified_name(obj).encode())
        for part in deps.parts:
            h.update("|".join(part.ident).encode() + b"\0" + part.data)
        return h.digest()
    finally:
        active.discard(id(obj))


def _is_wrapper(value: Any) -> bool:
    return callable(value) and hasattr(value, "__wrapped__")


# Functions, classes and modules found inside values are hashed by their code (the
# hashing package cannot import this module: it is imported from here).
register((types.FunctionType, types.ModuleType, type), digest_of_code_object)
register(_is_wrapper, digest_of_code_object)
