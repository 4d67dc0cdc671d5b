"""How a call or a cell is named, how the parts of a key are named, and why a call
missed: structured :class:`~ipycache_ext.parts.Reason` s in words."""

from __future__ import annotations

import os
import time

from ..parts import CellName, FileState, PartId, PartKind, Reason, ReasonKind
from .base import UNDEFINED, short_repr, size
from .files import reason_working_directory


def describe_call(name: str, args: tuple, kwargs: dict) -> str:
    """``f(2, b=21)`` with short reprs, for notes."""
    shown = [short_repr(a) for a in args]
    shown += [f"{k}={short_repr(v)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(shown)})"


_PART_WORDS: dict[str, str] = {
    PartKind.ARGUMENT: "argument {}",
    PartKind.GLOBAL: "global {}",
    PartKind.CLOSURE: "closure variable {}",
    PartKind.CLASS_ATTRIBUTE: "class attribute {}",
    PartKind.VARIABLE: "variable {}",
    PartKind.DEFAULTS: "defaults of {}",
    PartKind.CODE: "code of {}",
    PartKind.CELL_CODE: "code of the cell",
    PartKind.OPTIONS: "options",
    PartKind.FILE: "file {}",
    PartKind.DIRECTORY: "directory {}",
}


_VALUED = frozenset({PartKind.ARGUMENT, PartKind.GLOBAL, PartKind.CLOSURE})


def part_label(ident: PartId) -> str:
    """``global threshold (read by helper)``: a part as a miss reason names it."""
    # A StrEnum member hashes and compares as its value: the str kind looks it up as it
    # is (``PartKind(kind)`` cost a microsecond a note).
    text = _PART_WORDS[ident.kind].format(ident.name)
    return f"{text} (read by {ident.reader})" if ident.reader else text


def part_place(kind: PartKind, name: str, via: tuple[str, ...]) -> str:
    """Where a value sits, for an error: ``f -> helper -> global cfg``."""
    if kind is PartKind.DEFAULTS:
        return " -> ".join(via) + " defaults"
    what = _PART_WORDS[kind].format(name)
    return what if len(via) <= 1 else " -> ".join(via) + f" -> {what}"


def reason_text(reason: Reason) -> str:
    """One structured :class:`~ipycache_ext.parts.Reason` in words."""
    kind, part = reason.kind, reason.part
    if kind is ReasonKind.FIRST_CALL:
        return reason_first_call()
    if kind is ReasonKind.GONE:
        return reason_gone(reason.gone)
    if reason.files is not None:
        return reason_file(*reason.files)
    if kind is ReasonKind.NO_ENTRY or part is None:
        return reason_no_entry()
    if kind is ReasonKind.REMOVED:
        return reason_dep_removed(part_label(part))
    if kind is ReasonKind.REBOUND:
        return reason_rebound(part_label(part), reason.new or "")
    part_kind = PartKind(part.kind)
    if part_kind is PartKind.CELL_CODE:
        return reason_cell_code()
    if part_kind is PartKind.OPTIONS:
        return reason_option(reason.new or "")
    if part_kind is PartKind.CODE:
        return reason_dep_code(part.name)
    if part_kind is PartKind.ARGUMENT:
        return reason_argument(part.name, reason.old, reason.new or "")
    return reason_global(part_label(part), reason.old, reason.new or "")


def reason_gist(reason: Reason) -> str:
    """A reason without the values it names (``argument i changed``): what many misses
    in a row have in common."""
    part = reason.part
    if (
        reason.files is None
        and part is not None
        and reason.kind is ReasonKind.CHANGED
        and part.kind in _VALUED
    ):
        return f"{part_label(part)} changed"
    return reason_text(reason)


def reasons_text(reasons: tuple[Reason, ...] | list[Reason]) -> str:
    return "; ".join(reason_text(r) for r in reasons)


def reason_first_call() -> str:
    return "first call"


_GONE = {
    "expired": "its entry had expired (ttl)",
    "evicted": "its entry had been evicted (max_entries)",
    "memory": "its entry had been evicted to keep the cache within max_memory or max_size",
    "cleared": "the cache had been cleared",
    "invalid": "validate rejected its stored entry",
}


def reason_gone(how: str) -> str:
    return _GONE.get(how, how)


def reason_no_entry() -> str:
    return "no stored entry for these inputs (expired, evicted or cleared)"


def _change(old: str, new: str) -> str:
    """`` (old -> new)``, or nothing when both print alike (a big frame, an object)."""
    return "" if old == new else f" ({old} -> {new})"


def reason_argument(name: str, old: str | None, new: str) -> str:
    if old is None:
        return f"argument {name} is new"
    return f"argument {name} changed{_change(old, new)}"


def reason_global(label: str, old: str | None, new: str) -> str:
    if old is None:
        return f"now reads {label}"
    if old == UNDEFINED:
        return f"{label} is now defined"
    if new == UNDEFINED:
        return f"{label} is no longer defined"
    return f"{label} changed{_change(old, new)}"


def reason_rebound(label: str, target: str) -> str:
    return f"{label} now refers to {target}"


def reason_dep_code(label: str) -> str:
    return f"the code of {label} changed"


def reason_dep_removed(label: str) -> str:
    return f"no longer reads {label}"


def reason_cell_code() -> str:
    return "the cell's code changed"


def reason_option(options: str) -> str:
    return f"the options changed (now {options or 'none'})"


def shown_path(path: str, is_dir: bool = False) -> str:
    """A recorded path as the user wrote it, most likely: relative to the working
    directory when under it; a directory ends in ``/``."""
    cwd = os.getcwd()
    shown = os.path.relpath(path, cwd) if path.startswith(cwd + os.sep) else path
    return shown + "/" if is_dir else shown


def _clock(mtime_ns: int) -> str:
    return time.strftime("%H:%M:%S", time.localtime(mtime_ns / 1e9))


def reason_file(old: FileState, new: FileState) -> str:
    """``file data/sales.csv changed (modified 12:03:07, 1.2 MB -> 1.3 MB)``."""
    if old.base and new.base != old.base:
        return reason_working_directory(old, new)
    what = "directory" if old.is_dir else "file"
    name = f"{what} {shown_path(old.path, old.is_dir)}"
    if old.exists and not new.exists:
        return f"{name} was deleted"
    if new.exists and not old.exists:
        return f"{name} was created"
    if old.is_dir:
        if new.size > old.size:
            return f"{name} has new files"
        if new.size < old.size:
            return f"{name} has fewer files"
        return f"{name} has other files (renamed or replaced)"
    sizes = size(new.size) if old.size == new.size else f"{size(old.size)} -> {size(new.size)}"
    return f"{name} changed (modified {_clock(new.mtime_ns)}, {sizes})"


def cell_label(name: CellName) -> str:
    """A cell's name in notes and ``%memo_info``: ``cell [df, model]``."""
    if name.given:
        return name.given
    if name.shown:
        return f"cell [{', '.join(name.shown)}{', ...' if name.more else ''}]"
    return f"cell [{short_repr(name.first_line)[1:-1]}]"


__all__ = [
    "reason_gist",
    "describe_call",
    "part_label",
    "part_place",
    "reason_text",
    "reasons_text",
    "reason_first_call",
    "reason_gone",
    "reason_no_entry",
    "reason_argument",
    "reason_global",
    "reason_rebound",
    "reason_dep_code",
    "reason_dep_removed",
    "reason_cell_code",
    "reason_option",
    "cell_label",
    "shown_path",
    "reason_file",
]
