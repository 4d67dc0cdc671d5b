"""Every user-visible note, warning and error text, so the wording stays consistent.

A :class:`Note` carries a text/plain form (always) and a compact HTML form (for
Jupyter).  How notes reach the user is :mod:`ipycache_ext.notify`'s business.
"""

from __future__ import annotations

import html
import reprlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .errors import UnhashableTypeError, UserHashError

PREFIX = "ipycache"


@dataclass(frozen=True)
class Note:
    """One message for the user: ``kind`` is "miss", "hit" or "warning"."""

    kind: str
    text: str
    html: str

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return self.html


_short = reprlib.Repr()
_short.maxstring = 40
_short.maxother = 40
_short.maxlist = 4
_short.maxdict = 4
_short.maxtuple = 4
_short.maxset = 4


_ARRAYS = ("numpy", "pandas")


def short_repr(value: object) -> str:
    """A repr short enough for a one-line note; never raises.

    Arrays and frames are shown by type and shape: their repr spans lines and two
    different ones often print alike.
    """
    shape = getattr(value, "shape", None)
    if shape and isinstance(shape, tuple) and type(value).__module__.startswith(_ARRAYS):
        return f"<{type(value).__name__} {'x'.join(str(n) for n in shape)}>"
    try:
        text = _short.repr(value)
    except Exception:
        return f"<{type(value).__name__}>"
    if "\n" in text or " at 0x" in text:
        return f"<{type(value).__name__}>"
    return text


def duration(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f} ms"
    return f"{seconds * 1e6:.0f} µs"


def _style(color: str) -> str:
    return (
        f"font-family:monospace;font-size:90%;color:{color};"
        "border-left:3px solid currentColor;padding-left:6px;margin:2px 0"
    )


def _note(kind: str, text: str, body_html: str, color: str) -> Note:
    return Note(kind, text, f'<div style="{_style(color)}">{body_html}</div>')


# ----- why a call missed ---------------------------------------------------------


def reason_first_call() -> str:
    return "first call"


_GONE = {
    "expired": "its entry had expired (ttl)",
    "evicted": "its entry had been evicted (max_entries)",
    "cleared": "the cache had been cleared",
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


UNDEFINED = "<undefined>"


def reason_global(label: str, old: str | None, new: str) -> str:
    if old is None:
        return f"now reads {label}"
    if old == UNDEFINED:
        return f"{label} is now defined"
    if new == UNDEFINED:
        return f"{label} is no longer defined"
    return f"{label} changed{_change(old, new)}"


def reason_dep_code(label: str) -> str:
    return f"the code of {label} changed"


def reason_dep_removed(label: str) -> str:
    return f"no longer reads {label}"


def reason_cell_code() -> str:
    return "the cell's code changed"


def reason_option(options: str) -> str:
    return f"the options changed (now {options or 'none'})"


# ----- notes -----------------------------------------------------------------------


def miss_note(what: str, seconds: float, reasons: list[str]) -> Note:
    """One line: which call ran, how long it took, and why it missed."""
    why = "; ".join(reasons) if reasons else reason_first_call()
    text = f"[{PREFIX}] cache miss: ran {what} in {duration(seconds)} ({why})"
    body = (
        f"<b>cache miss</b>: ran <code>{html.escape(what)}</code> in "
        f"{duration(seconds)} <i>({html.escape(why)})</i>"
    )
    return _note("miss", text, body, "#8a6d00")


def hit_note(what: str, restored: list[str]) -> Note:
    """``restored`` lists the names bound again when ``what`` does not already say."""
    names = f" ({', '.join(restored)})" if restored else ""
    text = f"[{PREFIX}] cache hit: restored {what}{names}"
    body = f"<b>cache hit</b>: restored {html.escape(what)} <i>{html.escape(names)}</i>"
    return _note("hit", text, body, "#2e7d32")


def running_note(what: str) -> Note:
    text = f"[{PREFIX}] running {what} ..."
    return _note("spinner", text, f"⏳ running <code>{html.escape(what)}</code> …", "#555")


def _warning(text: str) -> Note:
    body = html.escape(text).replace("\n", "<br>")
    return _note("warning", f"[{PREFIX}] warning: {text}", f"<b>warning</b>: {body}", "#c62828")


def output_warning(func: str) -> Note:
    return _warning(
        f"{func} writes output (print/display) while it runs. That output appears only on a "
        "cache miss, never when the result comes from the cache. If that is what you want, "
        "pass suppress_warning=True to @memo."
    )


def mutation_warning(what: str, func: str) -> Note:
    return _warning(
        f"the cached result of {what} was mutated after it was returned, so this call and "
        "later calls see the mutated value, not what the function computed.\n"
        "Fix: don't mutate the result; or work on a copy "
        f"(res = copy.deepcopy({func}(...))); or, if the mutation is intended, "
        "pass allow_output_mutation=True to @memo."
    )


def unhashable_result_warning(func: str, err: UnhashableTypeError | UserHashError) -> Note:
    type_name = err.type_name or "?"
    where = err.where or "the result"
    return _warning(
        f"the result of {func} holds a {shown_type(type_name)} (at {where}) that cannot be "
        "hashed, so "
        "a later mutation of the result cannot be detected. Pass "
        "allow_output_mutation=True to @memo to say that is fine, or "
        f"hash_funcs={{{type_name!r}: ...}} to say how to hash it."
    )


def unstable_result_warning(func: str, type_name: str) -> Note:
    return _warning(
        f"the result of {func} (a {type_name}) hashes differently each time it is looked at, "
        "so a later mutation of it cannot be detected. Pass allow_output_mutation=True to "
        "@memo to say that is fine."
    )


def outside_code_note(module: str, filename: str) -> Note:
    folder = filename.rsplit("/", 1)[0]
    return _warning(
        f"module {module} ({filename}) is outside the working directory, so it is treated "
        "as a library: editing it does not make memoized results miss. If it is your code, "
        f"add its folder: %config MemoMagics.user_paths = [{folder!r}] (or set "
        "$IPYCACHE_USER_PATHS)."
    )


def loaded_note(what: str, where: str) -> Note:
    text = f"[{PREFIX}] cache hit: loaded {what} from {where}"
    body = f"<b>cache hit</b>: loaded {html.escape(what)} from <code>{html.escape(where)}</code>"
    return _note("hit", text, body, "#2e7d32")


def store_fault_warning(where: str, exc: BaseException) -> Note:
    return _warning(
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
    "unloadable": "it could not be unpickled here",
}


def rejected_entry_warning(what: str, kind: str, detail: str, where: str) -> Note:
    reason = _REJECTED.get(kind, kind)
    extra = f" ({detail})" if detail and detail != kind else ""
    return _warning(
        f"ignored the stored entry for {what} in {where}: {reason}{extra}. It was treated as "
        "a cache miss. If your team shares this store, set the same key on every kernel "
        "(%config MemoMagics.secret_key or $IPYCACHE_SECRET)."
    )


def unpicklable_warning(what: str, type_name: str, exc: BaseException) -> Note:
    return _warning(
        f"the result of {what} (a {type_name}) cannot be pickled ({exc}), so it is kept in "
        "this kernel's memory only and not written to the persistent cache."
    )


def entry_too_large_warning(what: str, size_bytes: int, limit: int) -> Note:
    return _warning(
        f"the entry for {what} ({size(size_bytes)}) is larger than the whole persistent "
        f"store may hold (max_disk_bytes = {size(limit)}), so it is kept in memory only. "
        "Fix: raise %config MemoMagics.max_disk_bytes."
    )


def unpicklable_variables_warning(
    what: str, refused: list[tuple[str, str]], exc: BaseException
) -> Note:
    names = ", ".join(f"{name} (a {kind})" for name, kind in refused) or f"a value ({exc})"
    first = refused[0][0] if refused else "it"
    return _warning(
        f"{what} binds {names}, which cannot be pickled, so this cell is kept in this "
        "kernel's memory only and not written to the persistent cache. Fix: if later cells "
        f"don't need it, end the cell with `del {first}`."
    )


def cell_not_persisted_warning(what: str, names: list[str]) -> Note:
    return _warning(
        f"{what} defines {', '.join(names)}, which a new kernel could not restore from the "
        "persistent store, so this cell is cached in memory only. Move the definitions to "
        "a cell (or module) of their own."
    )


def mutated_variable_warning(name: str) -> Note:
    return _warning(
        f"variable {name} restored from the cache was mutated after the cell cached it, so "
        "it now holds the mutated value, not what the cell computed.\n"
        "Fix: don't mutate it in later cells; or work on a copy (copy.deepcopy); or, if the "
        "mutation is intended, use %%memo --allow-mutation."
    )


def name_taken_note(name: str) -> Note:
    text = (
        f"[{PREFIX}] your variable {name} was left as it is; the decorator is available as "
        f"`from ipycache_ext import memo` (e.g. `from ipycache_ext import memo as cache`)."
    )
    return _note("info", text, html.escape(text), "#555")


def cleared_note(what: str, entries: int) -> Note:
    text = f"[{PREFIX}] cleared {entries} entr{'y' if entries == 1 else 'ies'} of {what}"
    return _note("info", text, html.escape(text), "#555")


def size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


INFO_COLUMNS = ("name", "kind", "entries", "hits", "misses", "memory", "last miss reason")


class InfoTable:
    """``%memo_info``'s table: plain text in a terminal, an HTML table in Jupyter."""

    def __init__(self, rows: list[tuple[str, ...]]) -> None:
        self.rows = rows

    def __repr__(self) -> str:
        if not self.rows:
            return f"[{PREFIX}] nothing is memoized yet"
        table = [INFO_COLUMNS, *self.rows]
        widths = [max(len(str(r[i])) for r in table) for i in range(len(INFO_COLUMNS))]
        lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in table]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        if not self.rows:
            return f"<i>{html.escape(repr(self))}</i>"
        head = "".join(f"<th>{html.escape(c)}</th>" for c in INFO_COLUMNS)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
            for row in self.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# ----- errors ----------------------------------------------------------------------


def shown_type(full_name: str) -> str:
    """``builtins.generator`` -> ``generator``: how a type is named in a sentence."""
    for prefix in ("builtins.", "__main__."):
        if full_name.startswith(prefix):
            return full_name[len(prefix) :]
    return full_name


def unhashable_error(type_name: str, where: str, func: str, param: str | None) -> str:
    """``type_name`` is ``module.QualName``: the string form ``hash_funcs`` accepts."""
    fix_param = f" or rename {param} to _{param} so it is left out of the key" if param else ""
    return (
        f"cannot hash a {shown_type(type_name)} found in {where} of {func}. "
        f"Fix: pass hash_funcs={{{type_name!r}: lambda obj: <something hashable>}} to @memo"
        f"{fix_param}."
    )


def unhashable_text(
    type_name: str, where: str, param: str | None, subject_kind: str, subject_name: str
) -> str:
    """An :class:`~ipycache_ext.errors.UnhashableTypeError` worded for its subject."""
    if subject_kind == "cell":
        return unhashable_in_cell_error(type_name, where, param)
    return unhashable_error(type_name, where, subject_name or "the call", param)


def unhashable_in_cell_error(type_name: str, where: str, param: str | None) -> str:
    name = param or "it"
    return (
        f"%%memo cannot hash a {shown_type(type_name)} found in {where}, which the cell reads. "
        f"Fix: rename {name} to _{name} so it is left out of the cell's key, or move its "
        "use into a @memo function that takes it as a _-prefixed parameter."
    )


def user_hash_error(entry: str, type_name: str, where: str, func: str, exc: BaseException) -> str:
    return (
        f"hash_funcs entry {entry} raised {type(exc).__name__}: {exc} while hashing a "
        f"{type_name} found in {where} of {func}. Fix that function, or remove the entry."
    )


def user_hash_text(
    entry: str, type_name: str, where: str, subject_name: str, cause: BaseException
) -> str:
    """A :class:`~ipycache_ext.errors.UserHashError` worded; a cell is its subject's name."""
    return user_hash_error(entry, type_name, where, subject_name or "the call", cause)


def iterator_argument_error(name: str, type_name: str, func: str) -> str:
    return (
        f"cannot hash a {shown_type(type_name)} found in argument {name} of {func}: an "
        "iterator is "
        "consumed by the call, so a result from the cache would leave it unconsumed. Fix: "
        f"pass a list ({name}=list(...)); or, if the result does not depend on it, rename "
        f"{name} to _{name} so it is left out of the key, or pass "
        f"hash_funcs={{{type_name!r}: ...}} to @memo."
    )


def generator_function_error(func: str) -> str:
    return (
        f"@memo cannot cache the generator function {func}: its result is consumed as it "
        "is read. Return a list (or another container) instead."
    )


def unknown_cache_name(name: str, known: list[str]) -> str:
    listing = ", ".join(known) if known else "nothing is memoized yet"
    return f"%memo_clear: no memoized function or cell named {name!r} (known: {listing})."


def empty_statement_error() -> str:
    return "%memo needs a statement, e.g. %memo df = load(path); for a whole cell use %%memo."


def bad_cell_option_error(name: str, value: object, expected: str) -> str:
    return f"%%memo option {name} {value!r} is not valid: expected {expected}."


def bad_option_error(name: str, value: object, expected: str) -> str:
    return f"@memo option {name}={value!r} is not valid: expected {expected}."
