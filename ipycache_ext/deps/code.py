"""What code depends on: its own code, the globals and closure values it reads, and,
transitively, the user functions, methods and classes it references.

User code is code defined in ``__main__`` (a notebook or script) or in a file under the
current working directory that is not inside an environment (the stdlib, site-packages,
a venv).  Library functions, classes and modules are keyed by their qualified name and
never traversed.

The static part of a code object (its digest and the names it reads) is computed once
and cached; the values it reads are looked up again on every call, which is what keeps
results from going stale.
"""

from __future__ import annotations

import dis
import os
import site
import sys
import sysconfig
import threading
import types
from dataclasses import dataclass, field
from typing import Any

import xxhash

from .. import messages, notify
from ..errors import MemoError
from ..hashing.atoms import atom_bytes
from ..hashing.core import DEFAULT, Hasher, register

MISSING = object()
MISSING_DATA = b"?missing"  # the key part of a name that is not defined
_ATTR_OPS = frozenset({"LOAD_ATTR", "LOAD_METHOD"})
_GLOBAL_OPS = frozenset({"LOAD_GLOBAL", "LOAD_NAME"})
_OWN_PACKAGE = __name__.split(".")[0]


# ----- user code or library? ---------------------------------------------------------


def _environment_roots() -> tuple[str, ...]:
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    for name in ("stdlib", "platstdlib", "purelib", "platlib"):
        try:
            paths.add(sysconfig.get_path(name))
        except KeyError:
            pass
    try:
        paths.update(site.getsitepackages())
    except AttributeError:
        pass
    paths.add(site.getusersitepackages() or "")
    return tuple(os.path.realpath(p) + os.sep for p in paths if p)


_ENV_ROOTS = _environment_roots()
_user_module_cache: dict[tuple[str, str], bool] = {}


class Settings:
    """Folders besides the working directory whose code counts as the user's: a
    ``src/`` next to the notebooks (``%config MemoMagics.user_paths``,
    ``$IPYCACHE_USER_PATHS``)."""

    user_paths: tuple[str, ...] = tuple(
        p for p in os.environ.get("IPYCACHE_USER_PATHS", "").split(os.pathsep) if p
    )


def set_user_paths(paths: list[str] | tuple[str, ...]) -> None:
    Settings.user_paths = tuple(paths)
    _user_module_cache.clear()


def _in_environment(path: str) -> bool:
    if any(path.startswith(root) for root in _ENV_ROOTS):
        return True
    return "site-packages" in path or "dist-packages" in path


def _user_roots() -> list[str]:
    roots = [os.getcwd(), *Settings.user_paths]
    return [os.path.realpath(os.path.expanduser(r)) + os.sep for r in roots]


def is_user_file(filename: str | None) -> bool:
    """True for a file under the working directory (or a configured user path) and
    outside every environment."""
    if not filename or filename.startswith("<"):
        return False
    path = os.path.realpath(filename)
    if _in_environment(path):
        return False
    return any(path.startswith(root) for root in _user_roots())


def is_user_module(name: str | None) -> bool:
    """True for ``__main__`` and for modules whose file is user code (cached)."""
    if not name:
        return False
    if name == "__main__":
        return True
    if name == _OWN_PACKAGE or name.startswith(_OWN_PACKAGE + "."):
        return False
    key = (name, os.getcwd())
    cached = _user_module_cache.get(key)
    if cached is None:
        filename = getattr(sys.modules.get(name), "__file__", None)
        cached = is_user_file(filename)
        _user_module_cache[key] = cached
        if not cached and filename and not _in_environment(os.path.realpath(filename)):
            # Outside the project but not installed either: most likely the user's own
            # code (a src/ folder put on sys.path). Say once how to have it tracked.
            notify.emit(messages.outside_code_note(name, filename))
    return cached


def is_user_function(fn: types.FunctionType) -> bool:
    module = fn.__module__
    if module is None:
        return is_user_file(fn.__code__.co_filename)
    return is_user_module(module)


def is_user_class(cls: type) -> bool:
    return is_user_module(getattr(cls, "__module__", None))


def qualified_name(obj: Any) -> str:
    module = getattr(obj, "__module__", None) or "?"
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", "?")
    return f"{module}.{name}"


# ----- static analysis of a code object ------------------------------------------------


@dataclass(frozen=True)
class CodeFacts:
    """What a code object says about itself, independent of any values."""

    digest: bytes
    bare: tuple[str, ...]
    chains: tuple[tuple[str, ...], ...]


_facts_cache: dict[int, tuple[types.CodeType, CodeFacts]] = {}
_facts_lock = threading.Lock()


def _scan_reads(code: types.CodeType, bare: dict[str, None], chains: dict[tuple, None]) -> None:
    chain: list[str] = []

    def close() -> None:
        if not chain:
            return
        if len(chain) == 1:
            bare[chain[0]] = None
        else:
            chains[tuple(chain)] = None
        chain.clear()

    for ins in dis.get_instructions(code):
        if ins.opname in _GLOBAL_OPS:
            close()
            chain.append(ins.argval)
        elif ins.opname in _ATTR_OPS and chain:
            chain.append(ins.argval)
        else:
            close()
    close()
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _scan_reads(const, bare, chains)


def _code_digest(code: types.CodeType) -> bytes:
    """Bytecode, constants, names and signature shape; not lines, comments or file."""
    h = xxhash.xxh3_128()
    h.update(code.co_code)
    h.update(getattr(code, "co_exceptiontable", b""))
    h.update(
        repr(
            (
                code.co_name,
                code.co_argcount,
                code.co_posonlyargcount,
                code.co_kwonlyargcount,
                code.co_flags,
                code.co_names,
                code.co_varnames,
                code.co_freevars,
                code.co_cellvars,
            )
        ).encode()
    )
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            h.update(_code_digest(const))
        else:
            h.update(DEFAULT.digest(const))
    return h.digest()


def facts_of(code: types.CodeType) -> CodeFacts:
    """The cached :class:`CodeFacts` of ``code``."""
    hit = _facts_cache.get(id(code))
    if hit is not None and hit[0] is code:
        return hit[1]
    bare: dict[str, None] = {}
    chains: dict[tuple, None] = {}
    _scan_reads(code, bare, chains)
    facts = CodeFacts(
        _code_digest(code),
        tuple(bare),
        tuple(c for c in chains if c[0] not in bare),
    )
    with _facts_lock:
        _facts_cache[id(code)] = (code, facts)
    return facts


# ----- dependency parts of a call ------------------------------------------------------


@dataclass(slots=True)
class Part:
    """One component of a key: a label a user can read, its bytes, and the value."""

    label: str
    kind: str
    data: bytes
    value: Any = None


@dataclass
class Deps:
    """The parts collected for one key, with a guard against cycles."""

    hasher: Hasher
    parts: list[Part] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)


def unwrap(obj: Any) -> Any:
    """The plain function behind a memoized one, or behind any wrapper that says what it
    wraps (``functools.lru_cache``, ``functools.wraps`` decorators from libraries)."""
    for _ in range(16):
        if isinstance(obj, type) or not callable(obj):
            return obj
        if isinstance(obj, types.FunctionType) and is_user_function(obj):
            return getattr(obj, "__memo_wrapped__", obj)
        if is_user_class(type(obj)):
            return obj  # a callable object of the user's: its state and class count too
        inner = getattr(obj, "__wrapped__", None)
        if inner is None or inner is obj or not callable(inner):
            return obj
        obj = inner
    return obj


def is_user_callable(obj: Any) -> bool:
    obj = unwrap(obj)
    if isinstance(obj, types.FunctionType):
        return is_user_function(obj)
    if isinstance(obj, type):
        return is_user_class(obj)
    return False


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


_ENVIRONMENT_MODULES = ("IPython.", "ipykernel.", _OWN_PACKAGE + ".")


def _is_environment(value: Any) -> bool:
    """The shell and its helpers (``get_ipython``): part of the session, not of a result."""
    owner = value.__self__ if isinstance(value, types.MethodType) else value
    return type(owner).__module__.startswith(_ENVIRONMENT_MODULES)


def _is_library_ref(value: Any) -> bool:
    if _is_environment(value):
        return True
    if isinstance(value, types.ModuleType):
        return not is_user_module(value.__name__)
    if isinstance(value, (types.FunctionType, type, types.BuiltinFunctionType)):
        return not is_user_callable(value)
    return False


def _labels(via: tuple[str, ...], what: str) -> tuple[str, str]:
    """(label for a miss reason, place for an error) of something read along ``via``."""
    if len(via) <= 1:
        return what, what
    return f"{what} (read by {via[-1]})", " -> ".join(via) + f" -> {what}"


_SCALARS = frozenset({int, float, str, bool, type(None), bytes})
_SIZED = (str, bytes)


def add_value(
    deps: Deps, via: tuple[str, ...], what: str, value: Any, param: str | None = None
) -> None:
    """A value read by code: traverse user code, name libraries, hash the rest.

    ``param`` is the name a user could prefix with ``_`` to leave the value out.
    """
    tp = type(value)
    if tp in _SCALARS and not deps.hasher.has_hash_funcs and (tp not in _SIZED or len(value) < 60):
        data = atom_bytes(value)
        if len(data) <= 64:  # the hot path of a hit: a number or a short string
            label = what if len(via) <= 1 else _labels(via, what)[0]
            deps.parts.append(Part(label, "global", data, value))
            return
    if is_user_callable(value):
        target = unwrap(value)
        collect(deps, target, via + (short_name(target),))
        return
    label, where = _labels(via, what)
    if value is MISSING:
        deps.parts.append(Part(label, "global", MISSING_DATA, None))
        return
    if isinstance(value, types.ModuleType):
        deps.parts.append(Part(label, "global", b"mod:" + value.__name__.encode(), value))
        return
    if _is_environment(value):
        deps.parts.append(Part(label, "global", b"env:" + what.encode(), None))
        return
    deps.parts.append(Part(label, "global", deps.hasher.part(value, where, param), value))


def _read_globals(deps: Deps, fn: types.FunctionType, facts: CodeFacts, via: tuple) -> None:
    namespace = fn.__globals__
    builtins = namespace.get("__builtins__")
    if isinstance(builtins, types.ModuleType):
        builtins = builtins.__dict__
    for name in facts.bare:
        value = namespace.get(name, MISSING)
        if value is MISSING and builtins is not None and name in builtins:
            continue
        add_value(deps, via, f"global {name}", value)
    for chain in facts.chains:
        root = namespace.get(chain[0], MISSING)
        if root is MISSING and builtins is not None and chain[0] in builtins:
            continue
        dotted = ".".join(chain)
        if _is_library_ref(root):
            label, _ = _labels(via, f"global {dotted}")
            data = b"lib:" + qualified_name(root).encode() + b":" + dotted.encode()
            deps.parts.append(Part(label, "global", data, None))
            continue
        value, used = resolve_chain(root, chain[1:])
        add_value(deps, via, "global " + ".".join(chain[:1] + used), value)


def _function_parts(deps: Deps, fn: types.FunctionType, via: tuple[str, ...]) -> None:
    facts = facts_of(fn.__code__)
    deps.parts.append(Part(f"code of {via[-1]}", "code", facts.digest, fn))
    if fn.__defaults__ or fn.__kwdefaults__:
        # Apart from the code: a mutable default changed in place is not a code edit.
        defaults = (fn.__defaults__, fn.__kwdefaults__)
        where = " -> ".join(via) + " defaults"
        data = deps.hasher.part(defaults, where)
        deps.parts.append(Part(f"defaults of {via[-1]}", "global", data, None))
    _read_globals(deps, fn, facts, via)
    registry = getattr(fn, "registry", None)
    if isinstance(registry, types.MappingProxyType):  # functools.singledispatch
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
            add_value(deps, via, f"closure variable {name}", value)


def _class_parts(deps: Deps, cls: type, via: tuple[str, ...]) -> None:
    h = xxhash.xxh3_128(qualified_name(cls).encode())
    for base in cls.__bases__:
        if is_user_class(base):
            collect(deps, base, via + (base.__qualname__,))
        else:
            h.update(b"base:" + qualified_name(base).encode())
    deps.parts.append(Part(f"code of {via[-1]}", "code", h.digest(), cls))
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
            what = f"class attribute {cls.__qualname__}.{name}"
            try:
                add_value(deps, via, what, attr)
            except MemoError:
                # Bookkeeping a class may carry (ABC caches, locks): keyed by type.
                label, _ = _labels(via, what)
                data = b"?unhashable:" + qualified_name(type(attr)).encode()
                deps.parts.append(Part(label, "global", data, None))


def collect(deps: Deps, obj: Any, via: tuple[str, ...]) -> None:
    """Add the parts of a user function or class (once per key, cycles allowed).

    ``via`` is the chain of names that led here, the memoized function first.
    """
    if id(obj) in deps.seen:
        return
    deps.seen.add(id(obj))
    if isinstance(obj, type):
        _class_parts(deps, obj, via)
    else:
        _function_parts(deps, obj, via)


def short_name(obj: Any) -> str:
    return getattr(obj, "__qualname__", None) or getattr(obj, "__name__", repr(obj))


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
            h.update(part.label.encode() + b"\0" + part.data)
        return h.digest()
    finally:
        active.discard(id(obj))


def _is_wrapper(value: Any) -> bool:
    return callable(value) and hasattr(value, "__wrapped__")


# Functions, classes and modules found inside values are hashed by their code (the
# hashing package cannot import this module: it is imported from here).
register((types.FunctionType, types.ModuleType, type), digest_of_code_object)
register(_is_wrapper, digest_of_code_object)
