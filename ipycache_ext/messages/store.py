"""Warnings and error texts of the persistent store."""

from __future__ import annotations

import html

from .base import PREFIX, Note, make_note, size, warning_note


def store_fault_warning(where: str, exc: BaseException) -> Note:
    return warning_note(
        f"the persistent cache at {where} failed ({type(exc).__name__}: {exc}). Results are "
        "still returned and kept in memory for this kernel; nothing stored is lost. Fix the "
        "store (disk space, permissions, the Redis server) or point %config "
        "MemoMagics.store at another location."
    )


_REJECTED = {
    "signature": "its signature does not verify (it was tampered with), so it was not unpickled",
    "foreign": "it was signed with another secret key than this kernel's, so it was not unpickled",
    "corrupt": "it is truncated or corrupt",
    "version": "it was written with other library versions",
    "format": "it was written by an older version of ipycache_ext",
    "unloadable": "it could not be unpickled here",
}


def short_read_error(size_bytes: int) -> str:
    return f"an entry of {size(size_bytes)} could not be read whole (short read)"


def no_room_error(size_bytes: int, free: int) -> str:
    return f"an entry of {size(size_bytes)} does not fit on the disk ({size(free)} free)"


def rejected_entry_warning(what: str, kind: str, detail: str, where: str) -> Note:
    reason = _REJECTED.get(kind, kind)
    extra = f" ({detail})" if detail and detail != kind else ""
    return warning_note(
        f"ignored the stored entry for {what} in {where}: {reason}{extra}. It was treated as "
        "a cache miss. If your team shares this store, set the same key on every kernel "
        "(%config MemoMagics.secret_key or $IPYCACHE_SECRET)."
    )


def unpicklable_warning(what: str, type_name: str, exc: BaseException) -> Note:
    return warning_note(
        f"the result of {what} (a {type_name}) cannot be pickled ({exc}), so it is kept in "
        "this kernel's memory only and not written to the persistent cache."
    )


def entry_too_large_warning(what: str, size_bytes: int, limit: int) -> Note:
    return warning_note(
        f"the entry for {what} ({size(size_bytes)}) is larger than the whole persistent "
        f"store may hold (max_disk_bytes = {size(limit)}), so it is kept in memory only. "
        "Fix: raise %config MemoMagics.max_disk_bytes."
    )


def unpicklable_variables_warning(
    what: str, refused: list[tuple[str, str]], exc: BaseException
) -> Note:
    names = ", ".join(f"{name} (a {kind})" for name, kind in refused) or f"a value ({exc})"
    first = refused[0][0] if refused else "it"
    return warning_note(
        f"{what} binds {names}, which cannot be pickled, so this cell is kept in this "
        "kernel's memory only and not written to the persistent cache. Fix: if later cells "
        f"don't need it, end the cell with `del {first}`."
    )


def cell_not_persisted_warning(what: str, names: list[str]) -> Note:
    return warning_note(
        f"{what} defines {', '.join(names)}, which a new kernel could not restore from the "
        "persistent store, so this cell is cached in memory only. Move the definitions to "
        "a cell (or module) of their own."
    )


def missing_extra_error(extra: str, module: str) -> str:
    """The one command that installs an optional dependency: the extra, not the bare
    module, so the version bound the project tested comes with it."""
    return f'the {module} package is not installed: pip install "ipycache_ext[{extra}]"'


def missing_extra_warning(where: str, extra: str, module: str) -> Note:
    return warning_note(
        f"the persistent cache at {where} needs the {module} package, which is not "
        f'installed. Install it with: pip install "ipycache_ext[{extra}]" (or %pip in '
        "this kernel). Until then results are still returned and kept in memory for this "
        "kernel. To persist without it, point %config MemoMagics.store at a directory."
    )


def cleared_store_note(what: str, entries: int, where: str) -> Note:
    """How many persisted entries a clear removed, and from where."""
    text = (
        f"[{PREFIX}] removed {entries} persisted entr{'y' if entries == 1 else 'ies'} "
        f"of {what} from {where}"
    )
    return make_note("info", text, html.escape(text), "#555")


def unknown_stored_name(name: str, known: list[str]) -> str:
    listing = ", ".join(known) if known else "the store is empty"
    return f"%memo_clear --store: nothing stored for {name!r} (stored: {listing})."


EVERYTHING = "every function and cell"  # what a clear without a name clears

STORE_COLUMNS = ("name", "kind", "persisted entries")


class StoreTable:
    """``%memo_info --store``: what the persistent store holds, per function or cell."""

    def __init__(self, where: str, rows: list[tuple[str, str, str]], unknown: int) -> None:
        self.where, self.rows, self.unknown = where, rows, unknown

    def _all_rows(self) -> list[tuple[str, str, str]]:
        extra = [("(owner unknown: older entries)", "?", str(self.unknown))] if self.unknown else []
        return self.rows + extra

    def __repr__(self) -> str:
        rows = self._all_rows()
        if not rows:
            return f"[{PREFIX}] the persistent store at {self.where} is empty"
        table = [STORE_COLUMNS, *rows]
        widths = [max(len(r[i]) for r in table) for i in range(len(STORE_COLUMNS))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return f"persistent store at {self.where}\n" + "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = self._all_rows()
        if not rows:
            return f"<i>{html.escape(repr(self))}</i>"
        head = "".join(f"<th>{html.escape(c)}</th>" for c in STORE_COLUMNS)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
        )
        return (
            f"<p>persistent store at <code>{html.escape(self.where)}</code></p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )


__all__ = [
    "cleared_store_note",
    "unknown_stored_name",
    "EVERYTHING",
    "STORE_COLUMNS",
    "StoreTable",
    "store_fault_warning",
    "short_read_error",
    "no_room_error",
    "rejected_entry_warning",
    "unpicklable_warning",
    "entry_too_large_warning",
    "unpicklable_variables_warning",
    "cell_not_persisted_warning",
    "missing_extra_error",
    "missing_extra_warning",
]
