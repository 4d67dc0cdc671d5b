"""The notes a run shows (miss, hit, running), the warnings about results and
variables, and ``%memo_info``'s table."""

from __future__ import annotations

import dataclasses
import html
from typing import Protocol

from ..parts import PartId, Reason
from .base import PREFIX, Note, duration, make_note, shown_type, warning_note
from .reasons import part_label, reason_first_call, reason_gist, reasons_text


class Located(Protocol):
    """What an unhashable value's error says about it (``errors.UnhashableTypeError``,
    ``UserHashError``), read here without importing the error tree built on messages."""

    type_name: str
    where: str


def miss_note(
    what: str,
    seconds: float,
    reasons: list[Reason],
    unseen_readers: tuple[str, ...] = (),
    subject: str = "",
) -> Note:
    """One line: which call ran, how long it took, and why it missed; once per
    function or cell, the native file readers it calls that the file tracking
    cannot see, with how to declare what they read."""
    why = reasons_text(reasons) if reasons else reason_first_call()
    hint = unseen_readers_hint(unseen_readers) if unseen_readers else ""
    text = f"[{PREFIX}] cache miss: ran {what} in {duration(seconds)} ({why}){hint}"
    body = (
        f"<b>cache miss</b>: ran <code>{html.escape(what)}</code> in "
        f"{duration(seconds)} <i>({html.escape(why)})</i>{html.escape(hint)}"
    )
    gists = tuple(reason_gist(r) for r in reasons) or (reason_first_call(),)
    note = make_note("miss", text, body, "#8a6d00")
    return dataclasses.replace(note, subject=subject, seconds=seconds, gists=gists)


def held_miss_note(subject: str, seconds: float, reasons: list[Reason]) -> Note:
    """A miss a front end only counts toward its summary: the facts, and a plain line
    made of them (no argument reprs) in case it is shown after all."""
    gists = tuple(reason_gist(r) for r in reasons) or (reason_first_call(),)
    text = f"[{PREFIX}] cache miss: ran {subject} ({', '.join(gists)})"
    return Note("miss", text, html.escape(text), subject, seconds, gists)


def miss_summary_note(subject: str, times: int, seconds: float, gists: dict[str, int]) -> Note:
    """The misses of one function in one cell past the first few, in one line."""
    common = sorted(gists.items(), key=lambda item: (-item[1], item[0]))
    why = ", ".join(f"{gist}: {n}" for gist, n in common[:3])
    if len(common) > 3:
        why += ", ..."
    text = (
        f"[{PREFIX}] cache miss: ran {subject} {times} more time{'s' if times != 1 else ''} "
        f"in {duration(seconds)} ({why})"
    )
    body = (
        f"<b>cache miss</b>: ran <code>{html.escape(subject)}</code> {times} more "
        f"time{'s' if times != 1 else ''} in {duration(seconds)} <i>({html.escape(why)})</i>"
    )
    return make_note("miss", text, body, "#8a6d00")


def unstable_value_warning(what: str, part: PartId, value: object, kind: str) -> Note:
    tp = type(value)
    type_name = f"{tp.__module__}.{tp.__qualname__}"
    label = part_label(part)
    if kind == "cell":
        leave_out = f"rename it _{part.name} so the cell's key leaves it out"
    else:
        leave_out = "pass it as an argument named with a leading _ so the key leaves it out"
    return warning_note(
        f"{label} of {what} hashes differently each time it is hashed, though nothing "
        f"changed it (a {shown_type(type_name)} keeps a counter, an id or a cache in its "
        "state), so every call misses. Fix: pass hash_funcs={"
        f"{type_name!r}: lambda obj: <what defines it>}} to @memo, or {leave_out}."
    )


def unseen_readers_hint(readers: tuple[str, ...]) -> str:
    names = ", ".join(readers)
    return (
        f"; no file read was seen, but it calls {names}, which reads files natively: "
        'declare them inside the code with ipycache_ext.depends_on("data/*.parquet") '
        "(a %%memo cell: --files PATTERN) so an edited file is a miss"
    )


def hit_note(what: str, restored: list[str]) -> Note:
    """``restored`` lists the names bound again when ``what`` does not already say."""
    names = f" ({', '.join(restored)})" if restored else ""
    text = f"[{PREFIX}] cache hit: restored {what}{names}"
    body = f"<b>cache hit</b>: restored {html.escape(what)} <i>{html.escape(names)}</i>"
    return make_note("hit", text, body, "#2e7d32")


def running_note(what: str) -> Note:
    text = f"[{PREFIX}] running {what} ..."
    return make_note("spinner", text, f"⏳ running <code>{html.escape(what)}</code> …", "#555")


def spinner_text_note(text: str) -> Note:
    """``show_spinner="Loading data..."``: the user's own words while a miss runs."""
    return make_note("spinner", f"[{PREFIX}] {text}", f"⏳ {html.escape(text)}", "#555")


def output_warning(func: str) -> Note:
    return warning_note(
        f"{func} writes output (print/display) while it runs. That output appears only on a "
        "cache miss, never when the result comes from the cache. Fix: if that is what you "
        "want, pass suppress_warning=True to @memo."
    )


def mutation_warning(what: str, func: str) -> Note:
    return warning_note(
        f"the cached result of {what} was mutated after it was returned, so this call and "
        "later calls see the mutated value, not what the function computed.\n"
        "Fix: don't mutate the result; or work on a copy "
        f"(res = copy.deepcopy({func}(...))); or, if the mutation is intended, "
        "pass allow_output_mutation=True to @memo."
    )


def unhashable_result_warning(func: str, err: Located) -> Note:
    type_name = err.type_name or "?"
    where = err.where or "the result"
    return warning_note(
        f"the result of {func} holds a {shown_type(type_name)} (at {where}) that cannot be "
        "hashed, so a later mutation of the result cannot be detected. Fix: pass "
        "allow_output_mutation=True to @memo to say that is fine, or "
        f"hash_funcs={{{type_name!r}: ...}} to say how to hash it."
    )


def unstable_result_warning(func: str, type_name: str) -> Note:
    return warning_note(
        f"the result of {func} (a {type_name}) hashes differently each time it is looked at, "
        "so a later mutation of it cannot be detected. Fix: pass allow_output_mutation=True "
        "to @memo to say that is fine."
    )


def iterator_result_warning(func: str, type_name: str) -> Note:
    return warning_note(
        f"{func} returned a {type_name}, an iterator: it is used up when read, so a cached "
        "copy would come back empty. It is not cached: every call runs again.\n"
        f"Fix: return a list (return list(...)) so {func} can be cached."
    )


def outside_code_note(module: str, filename: str) -> Note:
    folder = filename.rsplit("/", 1)[0]
    return warning_note(
        f"module {module} ({filename}) is outside the working directory, so it is treated "
        "as a library: editing it does not make memoized results miss. Fix: if it is your "
        f"code, add its folder: %config MemoMagics.user_paths = [{folder!r}] (or set "
        "$IPYCACHE_USER_PATHS)."
    )


def loaded_note(what: str, where: str) -> Note:
    text = f"[{PREFIX}] cache hit: loaded {what} from {where}"
    body = f"<b>cache hit</b>: loaded {html.escape(what)} from <code>{html.escape(where)}</code>"
    return make_note("hit", text, body, "#2e7d32")


def mutated_variable_warning(name: str) -> Note:
    return warning_note(
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
    return make_note("info", text, html.escape(text), "#555")


def cleared_note(what: str, entries: int) -> Note:
    text = f"[{PREFIX}] cleared {entries} entr{'y' if entries == 1 else 'ies'} of {what}"
    return make_note("info", text, html.escape(text), "#555")


INFO_COLUMNS = (
    "name",
    "kind",
    "entries",
    "hits",
    "misses",
    "memory",
    "files",
    "last miss reason",
)


class InfoTable:
    """``%memo_info``'s table: plain text in a terminal, an HTML table in Jupyter.

    The same type shows one function's entries (``%memo_info f``): other ``columns``
    and a ``title`` above them.
    """

    def __init__(
        self,
        rows: list[tuple[str, ...]],
        columns: tuple[str, ...] = INFO_COLUMNS,
        title: str | None = None,
    ) -> None:
        self.rows = rows
        self.columns = columns
        self.title = title

    def __repr__(self) -> str:
        if not self.rows:
            return self.title or f"[{PREFIX}] nothing is memoized yet"
        table = [self.columns, *self.rows]
        widths = [max(len(str(r[i])) for r in table) for i in range(len(self.columns))]
        lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in table]
        lines.insert(1, "  ".join("-" * w for w in widths))
        if self.title:
            lines.insert(0, self.title)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        if not self.rows:
            return f"<i>{html.escape(repr(self))}</i>"
        caption = f"<caption>{html.escape(self.title)}</caption>" if self.title else ""
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
            for row in self.rows
        )
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


__all__ = [
    "unstable_value_warning",
    "miss_summary_note",
    "miss_note",
    "held_miss_note",
    "hit_note",
    "running_note",
    "spinner_text_note",
    "output_warning",
    "mutation_warning",
    "unhashable_result_warning",
    "unstable_result_warning",
    "iterator_result_warning",
    "outside_code_note",
    "loaded_note",
    "mutated_variable_warning",
    "name_taken_note",
    "cleared_note",
    "INFO_COLUMNS",
    "InfoTable",
]
