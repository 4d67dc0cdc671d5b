"""Warnings and error texts of the persistent store."""

from __future__ import annotations

from .base import Note, size, warning_note


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


__all__ = [
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
