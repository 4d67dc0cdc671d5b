"""Guards: what a function's code-and-globals parts were made from, checked by identity.

Walking a function's code (:mod:`.code`) on every call costs microseconds per helper
it reaches.  The walk's outcome only depends on what it read: the functions' code and
defaults, the bindings of the names they read (absence included, so a builtin shadowed
later is seen), closure cells, classes' attributes, attribute chains, and whether a
module is the user's.  While each of those is the very object it was, the walk would
produce the same parts, so a hit reuses them; values that can change in place (a
list, a dict, an array) are re-hashed on every call all the same.

A :class:`Recorder` collects the guards while the full walk runs; :class:`Guards`
checks them.  Guards hold strong references, so ``is`` is sound (an id cannot be
reused while the guard lives).  What Python reports through its audit hook (a
function's ``__code__``/``__defaults__``/``__kwdefaults__`` assigned, a class's
``__bases__``, ``os.chdir``) moves :data:`.usercode.epoch`, which every guard
compares, instead of re-reading those attributes per call.

Nothing that cannot be guarded this way is trusted: a walk that met one (a class
attribute keyed only by its type) marks the recorder broken, and that function's calls
take the full walk every time.
"""

from __future__ import annotations

import operator
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..config import SETTINGS
from . import usercode
from .versions import tag_of

MISSING = object()  # a name with no binding (or a chain that cannot be followed)

_FROZEN = frozenset({int, float, complex, str, bytes, bool, type(None)})
_BY_NAME = (types.FunctionType, types.BuiltinFunctionType, type)
_is = operator.is_


def frozen(value: Any, depth: int = 0) -> bool:
    """True for a value that cannot change in place: an atom, or a tuple or frozenset
    of such (exact types: a subclass could hold mutable state)."""
    tp = type(value)
    if tp in _FROZEN:
        return True
    if (tp is tuple or tp is frozenset) and depth < 4 and len(value) <= 64:
        return all(frozen(item, depth + 1) for item in value)
    return False


def keyed_by_identity(value: Any) -> bool:
    """True if the same object always gets the same part: a frozen value, or a library
    function or class (keyed by its qualified name)."""
    return frozen(value) or (isinstance(value, _BY_NAME) and usercode.is_library_ref(value))


@dataclass(frozen=True, slots=True)
class Dynamic:
    """A part re-hashed on every call: ``value`` may change in place."""

    index: int  # in the walk's parts
    value: Any
    where: str  # the place an error names (built once)
    param: str | None


class Recorder:
    """What one walk read, as it reads it."""

    def __init__(self) -> None:
        usercode.watch()
        self.epoch = usercode.epoch
        self.user_paths = SETTINGS.user_paths
        self.bindings: dict[int, tuple[dict, dict[str, Any]]] = {}
        self.cells: list[tuple[types.CellType, Any]] = []
        self.checks: list[tuple[Callable[[Any], Any], Any, Any]] = []
        self.dynamic: list[Dynamic] = []
        self.broken = False

    def binding(self, namespace: dict, name: str, value: Any) -> None:
        """``namespace[name]`` is ``value`` (:data:`MISSING`: absent)."""
        found = self.bindings.get(id(namespace))
        if found is None:
            found = self.bindings[id(namespace)] = (namespace, {})
        found[1][name] = value

    def cell(self, cell: types.CellType, value: Any) -> None:
        self.cells.append((cell, value))

    def check(self, read: Callable[[Any], Any], arg: Any, expected: Any) -> None:
        """``read(arg) is expected`` (``expected`` kept alive by the guard)."""
        self.checks.append((read, arg, expected))

    def changing(self, index: int, value: Any, where: str, param: str | None) -> None:
        self.dynamic.append(Dynamic(index, value, where, param))


class Bindings:
    """The names one walk read in one dict, and what each was bound to.

    Where the dict has a version tag (:mod:`.versions`), a check whose tag is the one
    last seen costs one comparison; else (and after any change to the dict, related
    or not) every name is compared by identity, in C where possible.
    """

    __slots__ = ("namespace", "tag", "seen", "getter", "expected", "many", "absent", "pairs")

    def __init__(self, namespace: dict, names: dict[str, Any]) -> None:
        self.namespace = namespace
        self.tag = tag_of(namespace)
        self.seen: int | None = None  # the tag when every name was last found in place
        present = {name: value for name, value in names.items() if value is not MISSING}
        plain = type(namespace) is dict
        self.getter = operator.itemgetter(*present) if plain and present else None
        self.many = len(present) > 1
        self.expected: Any = (
            tuple(present.values()) if self.many else next(iter(present.values()), None)
        )
        self.absent = tuple(name for name, value in names.items() if value is MISSING)
        self.pairs = () if plain else tuple(names.items())  # a dict subclass: .get only

    def hold(self) -> bool:
        tag = self.tag
        if tag is None:
            return self._same()
        version = tag.value  # read before comparing: a change meanwhile gets a new tag
        if version == self.seen:
            return True
        if not self._same():
            return False
        self.seen = version
        return True

    def _same(self) -> bool:
        namespace = self.namespace
        if self.getter is not None:
            try:
                found = self.getter(namespace)
            except KeyError:
                return False
            if self.many:
                if not all(map(_is, found, self.expected)):
                    return False
            elif found is not self.expected:
                return False
        for name in self.absent:
            if name in namespace:
                return False
        return all(namespace.get(name, MISSING) is value for name, value in self.pairs)


class Guards:
    """The checks of one recorded walk, in the cheapest order."""

    __slots__ = ("epoch", "user_paths", "bindings", "cells", "checks", "dynamic", "only")

    def __init__(self, recorder: Recorder) -> None:
        self.epoch = recorder.epoch
        self.user_paths = recorder.user_paths
        self.bindings = tuple(Bindings(*found) for found in recorder.bindings.values())
        self.cells = tuple(recorder.cells)
        self.checks = tuple(recorder.checks)
        self.dynamic = tuple(recorder.dynamic)
        # The common walk: names read from one tagged dict (a module's), nothing else.
        only = self.bindings[0] if len(self.bindings) == 1 else None
        plain = only is not None and only.tag is not None and not (self.cells or self.checks)
        self.only = only if plain else None

    def hold(self) -> bool:
        """True while everything the walk read is what it was."""
        if usercode.epoch != self.epoch or SETTINGS.user_paths is not self.user_paths:
            return False
        only = self.only
        if only is not None:  # the loop below for that one dict, inline
            return only.tag.value == only.seen or only.hold()  # type: ignore[union-attr]
        for bindings in self.bindings:
            tag = bindings.tag  # the untouched dict's case inline: it is most calls
            if (tag is None or tag.value != bindings.seen) and not bindings.hold():
                return False
        if self.cells and not self._cells_hold():
            return False
        if self.checks:
            for read, arg, expected in self.checks:
                if read(arg) is not expected:
                    return False
        return True

    def _cells_hold(self) -> bool:
        for cell, value in self.cells:
            try:
                if cell.cell_contents is not value:
                    return False
            except ValueError:  # emptied (``del`` of a nonlocal)
                if value is not MISSING:
                    return False
        return True


def same_items(mapping: Mapping[Any, Any]) -> Callable[[Mapping[Any, Any]], bool]:
    """A check that ``mapping`` (a live view: a class's ``vars``, a ``singledispatch``
    registry) still holds the very keys and values it holds now: assigning a class
    attribute or registering an implementation fires no audit event."""
    keys, values = tuple(mapping), tuple(mapping.values())

    def same(now: Mapping[Any, Any]) -> bool:
        return (
            len(now) == len(keys)
            and all(map(_is, now, keys))
            and all(map(_is, now.values(), values))
        )

    return same
