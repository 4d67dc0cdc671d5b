"""Imports made inside cached code: a function body's ``import mymod``, ``from mymod
import f`` or ``importlib.import_module("mymod")``, and a cell's own imports.

A name bound by such an import is a local of the function (or a name the cell binds),
so the reads that key a module-level import (the global ``mymod``, then
``mymod.helper``) never see it.  Here the bytecode (or the cell's AST) is read for what
the import binds and what is then read through that name, and the module is found in
``sys.modules`` (imported now if it is the user's and not imported yet: the code is
about to import it anyway) so the key can include what is read of it, exactly as for
a module-level import.  Library modules are left out: they are keyed by name only.
"""

from __future__ import annotations

import dis
import importlib
import importlib.util
import sys
import types
from dataclasses import dataclass

from .usercode import is_user_file, is_user_module

_STORE_OPS = frozenset({"STORE_FAST", "STORE_DEREF", "STORE_NAME", "STORE_GLOBAL"})
_LOAD_OPS = frozenset(
    {"LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_DEREF", "LOAD_CLOSURE", "LOAD_NAME", "LOAD_CLASSDEREF"}
)
_ATTR_OPS = frozenset({"LOAD_ATTR", "LOAD_METHOD"})
_CALL_OPS = frozenset({"PRECALL", "CALL", "PUSH_NULL", "KW_NAMES"})


@dataclass(frozen=True)
class Imported:
    """What one import binds: the module ``module`` (relative by ``level`` dots), its
    top package for ``import a.b`` (``top``), or its attribute ``attr`` for ``from
    module import attr``."""

    module: str
    level: int = 0
    top: bool = False
    attr: str | None = None


@dataclass(frozen=True)
class ImportRead:
    """A read through a name an import bound: ``name.path...``."""

    source: Imported
    name: str
    path: tuple[str, ...] = ()


def import_reads(code: types.CodeType) -> tuple[ImportRead, ...]:
    """Every read through a name an import in ``code`` (or code nested in it) binds."""
    found: dict[ImportRead, None] = {}
    _scan(code, {}, found)
    return tuple(found)


def _scan(code: types.CodeType, bound: dict[str, Imported], found: dict) -> None:
    bound = dict(bound)  # a nested function sees its enclosing function's imports
    ins = list(dis.get_instructions(code))
    i = 0
    while i < len(ins):
        op = ins[i]
        if op.opname == "IMPORT_NAME":
            i = _import_statement(ins, i, bound, found)
            continue
        if (
            op.opname == "LOAD_CONST"
            and isinstance(op.argval, str)
            and _calls_import_module(ins, i)
        ):
            i = _import_module_call(ins, i, bound, found)
            continue
        if op.opname in _LOAD_OPS and op.argval in bound:
            i = _chain(ins, i + 1, bound[op.argval], op.argval, found)
            continue
        i += 1
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _scan(const, bound, found)


def _chain(ins: list, i: int, source: Imported, name: str, found: dict) -> int:
    """Record ``name.a.b`` read from instruction ``i`` on; the index after it."""
    path: list[str] = []
    while i < len(ins) and ins[i].opname in _ATTR_OPS:
        path.append(ins[i].argval)
        i += 1
    found[ImportRead(source, name, tuple(path))] = None
    return i


def _import_statement(ins: list, i: int, bound: dict, found: dict) -> int:
    op = ins[i]
    level = ins[i - 2].argval if i >= 2 and ins[i - 2].opname == "LOAD_CONST" else 0
    fromlist = ins[i - 1].argval if i >= 1 and ins[i - 1].opname == "LOAD_CONST" else None
    module, level = op.argval, int(level or 0)
    i += 1
    if i < len(ins) and ins[i].opname in _STORE_OPS:  # import a / import a.b
        imported = Imported(module, level, top="." in module)
        _bind(bound, found, ins[i].argval, imported)
        return i + 1
    if not fromlist:  # import a.b as c: IMPORT_FROM walks down to the submodule
        while i < len(ins) and ins[i].opname in ("IMPORT_FROM", "SWAP", "POP_TOP"):
            i += 1
        if i < len(ins) and ins[i].opname in _STORE_OPS:
            _bind(bound, found, ins[i].argval, Imported(module, level))
            return i + 1
        return i
    while i + 1 < len(ins) and ins[i].opname == "IMPORT_FROM" and ins[i + 1].opname in _STORE_OPS:
        _bind(bound, found, ins[i + 1].argval, Imported(module, level, attr=ins[i].argval))
        i += 2
    return i


def _bind(bound: dict, found: dict, name: str, imported: Imported) -> None:
    bound[name] = imported
    found[ImportRead(imported, name)] = None  # what it binds counts even if only passed on


def _calls_import_module(ins: list, i: int) -> bool:
    """``import_module("m")`` / ``importlib.import_module("m")`` with one constant."""
    before = ins[i - 1] if i else None
    if before is None or before.argval != "import_module":
        return False
    j = i + 1
    while j < len(ins) and ins[j].opname in ("PRECALL", "KW_NAMES"):
        j += 1
    return j < len(ins) and ins[j].opname == "CALL" and ins[j].arg == 1


def _import_module_call(ins: list, i: int, bound: dict, found: dict) -> int:
    imported = Imported(ins[i].argval)
    i += 1
    while i < len(ins) and ins[i].opname in _CALL_OPS:
        i += 1
    if i < len(ins) and ins[i].opname in _STORE_OPS:
        _bind(bound, found, ins[i].argval, imported)
        return i + 1
    return _chain(ins, i, imported, imported.module, found)


# ----- finding the module ----------------------------------------------------------------


def user_module_of(source: Imported, package: str | None) -> types.ModuleType | None:
    """The user module an import binds (imported now if need be), or None for a
    library module or one that cannot be found."""
    name = source.module
    if source.level:
        try:
            name = importlib.util.resolve_name("." * source.level + name, package)
        except (ImportError, ValueError):
            return None
    module = sys.modules.get(name)
    if module is None:
        if not _is_user_spec(name):
            return None
        try:
            module = importlib.import_module(name)
        except Exception:
            return None  # the code's own import will raise, with its own traceback
    if source.top:
        module = sys.modules.get(name.split(".")[0], module)
    if not isinstance(module, types.ModuleType) or not is_user_module(module.__name__):
        return None
    return module


def _is_user_spec(name: str) -> bool:
    try:
        spec = importlib.util.find_spec(name)
    except Exception:
        return False
    return spec is not None and is_user_file(spec.origin)


def start_value(source: Imported, module: types.ModuleType) -> tuple[object, tuple[str, ...]]:
    """Where a read through the bound name starts: the module, or (``from m import
    attr``) the module with ``attr`` as the first step."""
    return module, (() if source.attr is None else (source.attr,))
