"""Warnings and error texts of the persistent store."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from .base import PREFIX, Note, make_note, size, warning_note

REDACTED = "***"  # what is shown instead of a password or the team secret
_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/\s]*)(:[^@/\s]*)?@", re.I)


def redacted(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@host`` replaced by
    ``***`` (and the team secret, if one is set): nothing shown to the user (notes,
    warnings, ``%memo_info``, tracebacks) may carry a credential."""
    text = _CREDENTIALS.sub(
        lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@" if m[3] else m[0], text
    )
    for secret in _secrets():
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


def _no_secrets() -> tuple[str | None, ...]:
    return ()


_secrets: Callable[[], tuple[str | None, ...]] = _no_secrets


def hide_secrets(secrets: Callable[[], tuple[str | None, ...]]) -> None:
    """Have :func:`redacted` hide what ``secrets()`` returns (the team secret, from the
    setting or the environment): ``config`` tells it, as messages import nothing above."""
    global _secrets
    _secrets = secrets


def store_fault_warning(where: str, exc: BaseException) -> Note:
    where, shown = redacted(where), redacted(f"{type(exc).__name__}: {exc}")
    return warning_note(
        f"the persistent cache at {where} failed ({shown}). Results are "
        "still returned and kept in memory for this kernel; nothing stored is lost. Fix: "
        "repair the store (disk space, permissions, the Redis server) or point %config "
        "MemoMagics.store at another location."
    )


_REJECTED = {
    "signature": "its signature does not verify (it was tampered with), so it was not unpickled",
    "foreign": "it was signed with another secret key than this kernel's, so it was not unpickled",
    "corrupt": "it is truncated or corrupt",
    "version": "it was written with other library versions",
    "format": "it was written by an older version of ipycache_ext",
    "newer": "it was written by a newer version of ipycache_ext",
    "unloadable": "it could not be unpickled here",
    "misplaced": "it was signed for another call's key (copied or renamed), so it was not returned",
    "planted": "it is not an entry this store wrote (a row planted in its index), so it "
    "was not unpickled",
}


_KEY_PROBLEMS = {
    "short": "is shorter than {n} bytes, so entries signed with it can be forged",
    "readable": "can be read by other users, who could forge entries signed with it",
    "owner": "is owned by another user, who could forge entries signed with it",
}


def unsafe_key_warning(path: str, problem: str, min_bytes: int) -> Note:
    """A key file (or, with ``path`` empty, the team secret) that must not sign."""
    reason = _KEY_PROBLEMS.get(problem, problem).format(n=min_bytes)
    if not path:
        return warning_note(
            f"the team secret key {reason}; the persistent cache is not used. Fix: set "
            f"%config MemoMagics.secret_key (or $IPYCACHE_SECRET) to at least {min_bytes} "
            "random bytes, e.g. python -c 'import secrets; print(secrets.token_hex(32))'."
        )
    fixes = {
        "short": f"delete {path} (a new random key is made on next use)",
        "readable": f"chmod 600 {path}",
        "owner": f"delete {path} or make it yours (chown)",
    }
    return warning_note(
        f"the secret key file {path} {reason}; the persistent cache is not used. Fix: "
        f"{fixes.get(problem, 'replace it')}. Entries it signed are then recomputed."
    )


def short_team_key_warning(min_bytes: int) -> Note:
    return warning_note(
        f"the team secret key is shorter than {min_bytes} bytes, so someone who can write "
        "to the store could guess it and forge entries. Fix: use at least "
        f"{min_bytes} random bytes (python -c 'import secrets; print(secrets.token_hex(32))')."
    )


def unsafe_store_dir_warning(path: str, reason: str, mode: int) -> Note:
    why = (
        "is owned by another user"
        if reason == "owner"
        else f"can be written by other users (mode {mode & 0o777:o})"
    )
    return warning_note(
        f"refused the persistent store directory {path}: it {why}, who could plant "
        "entries in it. Results are still returned and kept in memory. Fix: use a "
        f"directory of your own that only you can write (chmod go-w {path}), or point "
        "%config MemoMagics.store elsewhere."
    )


def short_read_error(size_bytes: int) -> str:
    return f"an entry of {size(size_bytes)} could not be read whole (short read)"


def no_room_error(size_bytes: int, free: int) -> str:
    return f"an entry of {size(size_bytes)} does not fit on the disk ({size(free)} free)"


def rejected_entry_warning(what: str, kind: str, detail: str, where: str) -> Note:
    reason = _REJECTED.get(kind, kind)
    extra = f" ({detail})" if detail and detail != kind else ""
    if kind == "version":
        fix = (
            "The entry is left for the kernels with those versions; this kernel stores its "
            "own result beside it, for its own. Fix: none needed; to share one entry, use "
            "the same library versions as your team."
        )
    elif kind == "newer":
        fix = (
            "The entry is left in place for the kernels that can read it, and this kernel "
            "keeps its result in memory only. Fix: upgrade this kernel's ipycache_ext "
            "(in its clone: git pull, then pip install .), as your team did."
        )
    elif kind in ("corrupt", "format", "unloadable"):
        fix = "Fix: none needed: the result computed now replaces it."
    else:
        fix = (
            "Fix: if your team shares this store, set the same key on every kernel "
            "(%config MemoMagics.secret_key or $IPYCACHE_SECRET)."
        )
    return warning_note(
        f"ignored the stored entry for {what} in {where}: {reason}{extra}. It was treated as "
        f"a cache miss. {fix}"
    )


def unpicklable_warning(what: str, type_name: str, exc: BaseException) -> Note:
    return warning_note(
        f"the result of {what} (a {type_name}) cannot be pickled ({exc}), so it is kept in "
        "this kernel's memory only and not written to the persistent cache. Fix: return "
        "data pickle can store (arrays, frames, plain objects) rather than handles such as "
        "open files, locks or connections; or pass persist=False to keep it in memory."
    )


def entry_too_large_warning(what: str, size_bytes: int, limit: int) -> Note:
    return warning_note(
        f"the entry for {what} ({size(size_bytes)}) is larger than the whole persistent "
        f"store may hold (max_disk_bytes = {size(limit)}), so it is kept in memory only. "
        "Fix: raise %config MemoMagics.max_disk_bytes."
    )


def too_big_for_memory_warning(
    what: str, size_bytes: int, budget: int | None, max_size: int | None
) -> Note:
    if max_size is not None and size_bytes > max_size:
        bound, fix = f"max_size = {size(max_size)}", "raise max_size in @memo(max_size=...)"
    else:
        bound = f"max_memory = {size(budget or 0)}"
        fix = 'raise %config MemoMagics.max_memory (bytes, or a share of RAM such as "50%")'
    return warning_note(
        f"the result of {what} ({size(size_bytes)}) is larger than the memory cache may "
        f"hold ({bound}), so it was returned but not kept: the next call computes it "
        f"again (or loads it from the persistent store). Fix: {fix}."
    )


def bad_memory_budget_error(value: object) -> str:
    return (
        f"max_memory {value!r} is not a memory size. Fix: give bytes (1000000000), a size "
        '("1GB", "512 MiB", "1.5 GiB"), a share of RAM ("25%"), or "" for no bound.'
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
        "persistent store, so this cell is cached in memory only. Fix: move the definitions "
        "to a cell (or module) of their own."
    )


def missing_extra_error(extra: str, module: str) -> str:
    return f"the {module} package is not installed: {install_extra_hint(extra, module)}"


def missing_extra_warning(where: str, extra: str, module: str) -> Note:
    return warning_note(
        f"the persistent cache at {where} needs the {module} package, which is not "
        "installed. Until then results are still returned and kept in memory for this "
        f"kernel. Fix: {install_extra_hint(extra, module)} (or %pip in this kernel); or, "
        "to persist without it, point %config MemoMagics.store at a directory."
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


def install_extra_hint(extra: str, module: str) -> str:
    """Commands that install an optional dependency wherever ipycache_ext came from.

    ipycache_ext is installed from a clone, not from an index, so ``pip install
    "ipycache_ext[redis]"`` would find nothing: the bare package works anywhere (its
    distribution has the module's name: redis, obstore), and in a clone the extra brings the
    version bound the project tested.
    """
    return f'pip install {module} (from a clone of ipycache_ext: pip install ".[{extra}]")'


def clear_unreachable_warning(what: str, where: str, exc: BaseException) -> Note:
    """A clear that could not reach the persistent store: memory was cleared, the
    persisted entries were not."""
    where, shown = redacted(where), redacted(f"{type(exc).__name__}: {exc}")
    return warning_note(
        f"could not reach the persistent cache at {where} ({shown}), so the persisted "
        f"entries of {what} were not removed: a new kernel (or a call after "
        "%memo_clear --memory) would load them again. Fix: bring the store back (start "
        "the Redis server, free the disk) and run the clear again."
    )


def store_unreachable_error(magic: str, where: str, exc: BaseException) -> str:
    """``%memo_info --store`` (or ``%memo_clear --store``) on a store that does not answer:
    one line, not the client library's traceback."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    shown = redacted(f"{type(exc).__name__}: {first}" if first else type(exc).__name__)
    return (
        f"%{magic}: could not reach the persistent cache at {redacted(where)} ({shown}). "
        "Fix: bring the store back (start the Redis server, check the address in "
        "%config MemoMagics.store) and try again."
    )


def cleared_memory_note(what: str, entries: int) -> Note:
    """A clear of memory only: how many entries went, and that the store keeps its own."""
    text = (
        f"[{PREFIX}] cleared {entries} entr{'y' if entries == 1 else 'ies'} of {what} from "
        "memory; persisted entries are kept"
    )
    return make_note("info", text, html.escape(text), "#555")


def clear_flags_error() -> str:
    return (
        "%memo_clear --store and --memory contradict each other: --store empties the "
        "persistent store only, --memory this kernel's memory only. Fix: give one of them, "
        "or neither to clear both."
    )


__all__ = [
    "hide_secrets",
    "clear_flags_error",
    "clear_unreachable_warning",
    "store_unreachable_error",
    "cleared_memory_note",
    "too_big_for_memory_warning",
    "bad_memory_budget_error",
    "redacted",
    "REDACTED",
    "unsafe_key_warning",
    "short_team_key_warning",
    "unsafe_store_dir_warning",
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
    "install_extra_hint",
]
