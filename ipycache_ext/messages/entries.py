"""What is said about one stored entry: a dry run's verdict (``f.explain``,
``%memo_explain``, ``%%memo --explain``), an entry's age, and ``%memo_info NAME``'s
columns."""

from __future__ import annotations

import html
from dataclasses import dataclass

from ..parts import Reason, Touch
from .base import PREFIX, Note, make_note, size
from .reasons import reason_first_call, reasons_text
from .unseen import unseen_inputs_line


def age(seconds: float | None) -> str:
    """How long ago an entry was stored, as people say it (``3 min``)."""
    if seconds is None:
        return "unknown"
    if seconds < 1:
        return "< 1 s"
    for unit, length in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= length:
            return f"{seconds / length:.0f} {unit}"
    return f"{seconds:.0f} s"


def hits_count(hits: int) -> str:
    return f"{hits} hit{'' if hits == 1 else 's'}"


def would_hit_note(
    what: str, where: str | None, age_seconds: float | None, size_bytes: int, hits: int
) -> Note:
    """A dry run found an entry: where it is (None: this kernel's memory), its age and size."""
    place = "in memory" if where is None else f"from {where}"
    facts = f"stored {age(age_seconds)} ago, {size(size_bytes)}"
    if where is None:
        facts += f", {hits_count(hits)}"
    verb = "is stored" if where is None else "would be loaded"
    text = f"[{PREFIX}] would hit: {what} {verb} {place} ({facts})"
    body = (
        f"<b>would hit</b>: <code>{html.escape(what)}</code> {verb} {html.escape(place)} "
        f"<i>({html.escape(facts)})</i>"
    )
    return make_note("explain", text, body, "#2e7d32")


def would_miss_note(what: str, reasons: list[Reason]) -> Note:
    """A dry run found no entry: why, worded exactly as the miss note would word it."""
    why = reasons_text(reasons) if reasons else reason_first_call()
    text = f"[{PREFIX}] would miss: {what} would run ({why})"
    body = (
        f"<b>would miss</b>: <code>{html.escape(what)}</code> would run <i>({html.escape(why)})</i>"
    )
    return make_note("explain", text, body, "#8a6d00")


@dataclass(frozen=True)
class Explanation:
    """What a call (or cell) would do now, without doing it (``f.explain``).

    ``where`` is None for this kernel's memory, else the persistent store's location;
    on a miss ``reasons`` say why, as the miss note would.
    """

    what: str
    would_hit: bool
    where: str | None = None
    age: float | None = None
    size: int = 0
    hits: int = 0
    reasons: tuple[Reason, ...] = ()

    @property
    def note(self) -> Note:
        if self.would_hit:
            return would_hit_note(self.what, self.where, self.age, self.size, self.hits)
        return would_miss_note(self.what, list(self.reasons))

    def __repr__(self) -> str:
        return self.note.text

    def _repr_html_(self) -> str:
        return self.note.html


def not_a_call_error(magic: str, line: str) -> str:
    return (
        f"%{magic} needs a call of a @memo function, like %{magic} f(2, 21); "
        f"{line.strip()!r} is not a call."
    )


def not_memoized_error(magic: str, what: str) -> str:
    return (
        f"%{magic}: {what} is not a @memo function. Decorate it with @memo, or for a cell "
        "use %%memo --explain."
    )


ENTRY_COLUMNS = ("entry", "age", "hits", "size", "ran in")


def entry_heading(
    label: str, count: int, outdated_evicted: int = 0, unseen: tuple[Touch, ...] = ()
) -> str:
    heading = f"{label}: {count} entr{'y' if count == 1 else 'ies'}"
    if outdated_evicted:
        heading += (
            f"; {outdated_evicted} result{'s' if outdated_evicted != 1 else ''} of earlier "
            "code evicted to stay within max_memory"
        )
    if unseen:  # what the runs used that the key cannot see (network, subprocesses)
        heading += "; " + unseen_inputs_line(unseen)
    return heading


def entry_inputs(shown: list[tuple[str, str]]) -> str:
    """An entry named by its inputs: ``a=2, b=21`` (or the variables a cell read)."""
    return ", ".join(f"{name}={value}" for name, value in shown) or "(no inputs)"


__all__ = [
    "age",
    "hits_count",
    "would_hit_note",
    "would_miss_note",
    "Explanation",
    "not_a_call_error",
    "not_memoized_error",
    "ENTRY_COLUMNS",
    "entry_heading",
    "entry_inputs",
]
