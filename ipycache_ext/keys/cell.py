"""The key of a ``%%memo`` cell and whose entries it has (its :class:`Owner`).

A cell's key is its normalized code, its options, and the values it reads
(transitively, through the user modules it reads from).  Its owner is named from
the structured :class:`~ipycache_ext.deps.cell.CellName`, never from the label a
note shows: the two read alike today, but only the display label may be reworded.
"""

from __future__ import annotations

import builtins
import importlib
import reprlib
import sys
import types
from typing import Any

from ..deps.cell import CellFacts, CellName
from ..deps.code import MISSING, Deps, add_import_read, add_value, resolve_chain
from ..deps.imports import user_module_of
from ..deps.usercode import is_user_module
from ..errors import UnhashableTypeError
from ..hashing.core import Hasher
from ..parts import Owner, OwnerKind, Part, PartKind
from .key import CELL_IDENTITY, CallKey, digest_parts

_BUILTINS = frozenset(dir(builtins))
_THE_CELL = ("the cell",)


def cell_owner(name: CellName) -> Owner:
    """The owner of a cell's entries: its ``--name``, else ``cell [a, b]`` from the
    names it binds, else ``cell [first line]``.  Persisted entries are found by this
    text: it is frozen, whatever :func:`ipycache_ext.messages.cell_label` shows."""
    if name.given:
        return Owner(OwnerKind.CELL, name.given)
    if name.shown:
        return Owner(
            OwnerKind.CELL, f"cell [{', '.join(name.shown)}{', ...' if name.more else ''}]"
        )
    return Owner(OwnerKind.CELL, f"cell [{_quoted(name.first_line)[1:-1]}]")


_first_line = reprlib.Repr()
_first_line.maxstring = 40
_first_line.maxother = 40


def _quoted(line: str) -> str:
    """The first line as the owner's name has always quoted it (shortened to some
    40 characters)."""
    text = repr(line)
    if len(text) <= _first_line.maxother and " at 0x" not in text:
        return text
    text = _first_line.repr(line)
    return "<str>" if " at 0x" in text else text


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
    return CallKey(digest_parts(CELL_IDENTITY, deps.parts), deps.parts)


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
