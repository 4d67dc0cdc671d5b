"""The table of types hashed by a handler of their own rather than by their pickle state.

A handler is ``handler(value, hasher) -> bytes | None``: the 16-byte digest of
``value``, or None to let it be hashed by its state like any object.  It hashes the
values it holds with ``hasher.digest_nested(x)``, so ``hash_funcs``, cycle handling
and error locations work inside it too.

Two kinds of entries, tried in this order:

* module roots: a value whose type's module name starts with a root (``"numpy"``,
  ``"pandas"``) belongs to the handlers registered under that root, and the module
  that registers them is imported the first time such a value is hashed, so hashing
  plain values never imports numpy or pandas.  A root owns all of its values: when
  none of its handlers matches, the value is hashed by its state.
* lazy bases: a class of another module (a user's ``nn.Module`` subclass, defined in
  ``__main__``) whose bases include a class named in :data:`LAZY_BASES` belongs to
  that base's root, as if it were the library's own.
* rules, in registration order: the first whose match fits gives the digest (None
  included).  :mod:`ipycache_ext.deps.code` registers the one for functions, classes
  and modules, so this package needs nothing from ``deps``.

Dispatch order and every digest are part of the persisted key format: a new entry
must not claim values an existing one hashes.
"""

from __future__ import annotations

import importlib
import io
from collections.abc import Callable
from types import GetSetDescriptorType, MappingProxyType
from typing import Any, NamedTuple, cast

from .. import messages
from .nested import Handler, HasherT, Nested
from .wire import (
    DESCRIPTOR,
    DICT_VIEW,
    MAPPING_PROXY,
    MEMORY_FILE,
    MEMORYVIEW,
    pack_q,
    xxh_digest,
)

Match = type | tuple[type, ...] | Callable[[Any], bool]


class Rule(NamedTuple):
    """One entry: ``types`` (isinstance, or exact type with ``exact``) or ``predicate``."""

    types: tuple[type, ...]
    exact: bool
    predicate: Callable[[Any], bool] | None
    handler: Handler


# Module root -> the module that registers its handlers when imported.
LAZY_MODULES: dict[str, str] = {
    "numpy": "ipycache_ext.hashing.arrays",
    "pandas": "ipycache_ext.hashing.frames",
    "ipywidgets": "ipycache_ext.hashing.widgets",
    "pyarrow": "ipycache_ext.hashing.arrow",
    "polars": "ipycache_ext.hashing.polars_frames",
    "matplotlib": "ipycache_ext.hashing.plots",
    "torch": "ipycache_ext.hashing.tensors",
    "jax": "ipycache_ext.hashing.jax_arrays",  # jaxlib's types too
}
# Qualified names of library base classes -> the root whose handlers also hash the
# subclasses other modules define (found by name: the library need not be imported).
LAZY_BASES: dict[str, str] = {
    "torch.nn.modules.module.Module": "torch",
    "torch.Tensor": "torch",
}
_ROOT_RULES: dict[str, list[Rule]] = {}
_imported: set[str] = set()  # roots whose module has been imported
_roots: tuple[str, ...] = tuple(LAZY_MODULES)
_RULES: list[Rule] = []
_base_root: dict[type, str | None] = {}  # per type: the root a lazy base gives it


def _rule(match: Match, handler: Handler, exact: bool) -> Rule:
    if isinstance(match, type):
        return Rule((match,), exact, None, handler)
    if isinstance(match, tuple):
        return Rule(match, exact, None, handler)
    if exact:
        raise TypeError(messages.exact_match_error(match))
    return Rule((), False, match, handler)


def _same_function(a: Any, b: Any) -> bool:
    """True for the same function, or its new version after a module reload."""
    return a is b or (
        getattr(a, "__module__", None) == getattr(b, "__module__", 0)
        and getattr(a, "__qualname__", None) == getattr(b, "__qualname__", 0)
    )


def register(
    match: Match,
    handler: Callable[[Any, HasherT], bytes | None],
    *,
    root: str | None = None,
    exact: bool = False,
) -> None:
    """Hash the values ``match`` selects with ``handler``.

    ``match`` is a type or tuple of types (``isinstance``, or the exact type with
    ``exact=True``) or a predicate on the value.  With ``root``, the rule belongs to
    that module root (see :func:`register_lazy_module`) and is tried only for values of
    its modules.  Registering a handler again (a reloaded module) replaces its entry
    in place, so the order stays as first registered.
    """
    rules = _RULES if root is None else _ROOT_RULES.setdefault(root, [])
    new = _rule(match, cast(Handler, handler), exact)
    for i, old in enumerate(rules):
        if _same_rule(old, new):
            rules[i] = new
            return
    rules.append(new)


def _same_rule(a: Rule, b: Rule) -> bool:
    if not _same_function(a.handler, b.handler) or a.types != b.types:
        return False
    return a.predicate is b.predicate or _same_function(a.predicate, b.predicate)


def unregister(handler: Callable[[Any, HasherT], bytes | None]) -> None:
    """Remove every entry of ``handler`` (a test, or a library being unloaded)."""
    _RULES[:] = [r for r in _RULES if not _same_function(r.handler, handler)]
    for rules in _ROOT_RULES.values():
        rules[:] = [r for r in rules if not _same_function(r.handler, handler)]


def register_lazy_module(root: str, module: str) -> None:
    """Let the types of modules named ``root...`` be hashed by what ``module`` registers.

    ``module`` is imported on the first such value, and must call
    ``register(..., root=root)`` when imported.
    """
    global _roots
    LAZY_MODULES[root] = module
    _imported.discard(root)
    _roots = tuple(LAZY_MODULES)
    _base_root.clear()


def _root_of_base(tp: type) -> str | None:
    """The root a lazy base gives ``tp`` (a subclass defined outside the library), if any.

    Decided once per type: the names of its bases are compared, never imported.
    """
    try:
        return _base_root[tp]
    except KeyError:
        pass
    found = None
    for klass in getattr(tp, "__mro__", ())[1:]:
        root = LAZY_BASES.get(f"{klass.__module__}.{klass.__qualname__}")
        if root is not None and root in LAZY_MODULES:
            found = root
            break
    _base_root[tp] = found
    return found


def _by_general_rules(value: Any, hasher: Nested) -> bytes | None:
    return _first(_RULES, value, hasher)


def _any_value(value: Any) -> bool:
    return True


def fall_back_to_general_rules(root: str) -> None:
    """Let the values of ``root`` that none of its handlers claims be hashed by the rules
    outside every root (a function by its code, a wrapper by what it wraps), registered
    last: a library that gains a root keeps the digests its functions, classes and
    jitted wrappers had before."""
    register(_any_value, _by_general_rules, root=root)


def _first(rules: list[Rule], value: Any, hasher: Nested) -> bytes | None:
    """The first matching rule's digest (inlined tests: this runs once per object)."""
    for types, exact, predicate, handler in rules:
        if (
            predicate(value)
            if predicate is not None
            else (type(value) in types if exact else isinstance(value, types))
        ):
            return handler(value, hasher)
    return None


def dispatch(value: Any, hasher: Nested) -> bytes | None:
    """The digest the table gives ``value``, or None to hash it by its state."""
    tp = type(value)
    module = tp.__module__
    if module.startswith(_roots):
        for root in _roots:
            if module.startswith(root):
                return _first(_rules_of(root), value, hasher)
    base = _root_of_base(tp)
    if base is not None:
        return _first(_rules_of(base), value, hasher)
    return _first(_RULES, value, hasher)


def _rules_of(root: str) -> list[Rule]:
    """The rules of ``root``, its module imported the first time."""
    if root not in _imported:
        importlib.import_module(LAZY_MODULES[root])
        _imported.add(root)
    return _ROOT_RULES.get(root, [])


# Types whose pickled state holds what does not define them (caches, counters, ids):
# (types, fn) where ``fn(obj, state)`` gives the state without those entries.
StateFilter = Callable[[Any, dict[str, Any]], dict[str, Any]]
_STATE_FILTERS: list[tuple[tuple[type, ...], StateFilter]] = []
_filter_of: dict[type, StateFilter | None] = {}


def register_state_filter(types: type | tuple[type, ...], fn: StateFilter) -> None:
    """Hash instances of ``types`` by ``fn(obj, state)``, their pickled state without the
    entries that change when nothing the user did changed (a cache, a counter, a dict
    keyed by ``id()``).  Such objects are hashed by the walk path, which applies it; the
    types must belong to a module root (:func:`register_lazy_module`), whose values the
    fast path hands to the table."""
    match = types if isinstance(types, tuple) else (types,)
    _STATE_FILTERS[:] = [(t, f) for t, f in _STATE_FILTERS if not _same_function(f, fn)]
    _STATE_FILTERS.append((match, fn))
    _filter_of.clear()


def state_filter(tp: type) -> StateFilter | None:
    """The state filter for instances of ``tp``, if one is registered (cached per type)."""
    try:
        return _filter_of[tp]
    except KeyError:
        pass
    found = next((fn for types, fn in _STATE_FILTERS if issubclass(tp, types)), None)
    _filter_of[tp] = found
    return found


def predicates_for(tp: type) -> tuple[Callable[[Any], bool], ...] | None:
    """What decides whether a handler hashes an instance of ``tp``: None when a type
    rule or a module root may (the instance goes through :func:`dispatch`), else the
    predicate rules to ask of each instance (none claims it: hashed by its state).

    Lets the fast path decide once per type for a list of 100,000 instances of one class.
    """
    module = getattr(tp, "__module__", None)
    if not isinstance(module, str) or module.startswith(_roots) or _root_of_base(tp):
        return None
    predicates = []
    for types, exact, predicate, _ in _RULES:
        if predicate is not None:
            predicates.append(predicate)
        elif tp in types if exact else issubclass(tp, types):
            return None
    return tuple(predicates)


def _digest_memoryview(value: memoryview, hasher: Nested) -> bytes:
    return xxh_digest(
        MEMORYVIEW + value.format.encode() + repr(value.shape).encode() + value.tobytes()
    )


register(memoryview, _digest_memoryview, exact=True)


IN_MEMORY_FILES = (io.BytesIO, io.StringIO)


def _digest_memory_file(value: io.BytesIO | io.StringIO, hasher: Nested) -> bytes | None:
    """An in-memory file is a value, not a stream to consume: its content and position
    (what the next read returns) are what a result can depend on."""
    try:
        content = value.getvalue()
        position = value.tell()
    except ValueError:  # closed: hashed by its state, which says so
        return None
    data = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
    return xxh_digest(MEMORY_FILE + type(value).__name__.encode() + b"\0" + pack_q(position) + data)


register(IN_MEMORY_FILES, _digest_memory_file, exact=True)


def _digest_mapping_proxy(value: MappingProxyType, hasher: Nested) -> bytes:
    """A read-only view of a dict (a class's ``__dict__``) is that dict's contents."""
    return xxh_digest(MAPPING_PROXY + hasher.digest_nested(dict(value)))


register(MappingProxyType, _digest_mapping_proxy, exact=True)

# ``d.keys()``, ``d.values()``, ``d.items()``: hashed as their items in the dict's
# order, as the dict itself is (two dicts equal but built in another order already
# give other keys; a keys view follows its dict rather than set semantics).
DICT_VIEWS = {
    type({}.keys()): b"keys",
    type({}.values()): b"values",
    type({}.items()): b"items",
}


def _digest_dict_view(value: Any, hasher: Nested) -> bytes:
    which = DICT_VIEWS[type(value)]
    return xxh_digest(DICT_VIEW + which + b"\0" + hasher.digest_nested(list(value)))


register(tuple(DICT_VIEWS), _digest_dict_view, exact=True)


def _digest_descriptor(value: Any, hasher: Nested) -> bytes:
    """A C-level attribute of a class (``type.__dict__["__name__"]``) is defined by its
    class and name.  (A slot's member descriptor pickles as ``getattr(cls, name)``
    already, and keeps that digest.)"""
    owner = hasher.digest_nested(value.__objclass__)
    return xxh_digest(DESCRIPTOR + owner + value.__name__.encode("utf-8", "surrogatepass"))


register(GetSetDescriptorType, _digest_descriptor, exact=True)
