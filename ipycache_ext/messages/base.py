"""The building blocks of every message: the :class:`Note` type, sizes and durations,
and the look of a note in Jupyter.  Short reprs are a snapshot's (:mod:`..parts`),
re-exported here for wording."""

from __future__ import annotations

import html
from dataclasses import dataclass

from ..parts import UNDEFINED, short_repr

PREFIX = "ipycache"


@dataclass(frozen=True)
class Note:
    """One message for the user: ``kind`` is "miss", "hit" or "warning"."""

    kind: str
    text: str
    html: str
    # A miss note's facts, for a front end that sums up many misses of one function:
    # whose miss it was (its label), how long it ran, and why in short (no values).
    subject: str = ""
    seconds: float = 0.0
    gists: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return self.html


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


def make_note(kind: str, text: str, body_html: str, color: str) -> Note:
    return Note(kind, text, f'<div style="{_style(color)}">{body_html}</div>')


def warning_note(text: str) -> Note:
    body = html.escape(text).replace("\n", "<br>")
    return make_note("warning", f"[{PREFIX}] warning: {text}", f"<b>warning</b>: {body}", "#c62828")


def size(n_bytes: int) -> str:
    n = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def shown_type(full_name: str) -> str:
    """``builtins.generator`` -> ``generator``: how a type is named in a sentence."""
    for prefix in ("builtins.", "__main__."):
        if full_name.startswith(prefix):
            return full_name[len(prefix) :]
    return full_name


__all__ = [
    "PREFIX",
    "Note",
    "short_repr",
    "duration",
    "make_note",
    "warning_note",
    "size",
    "shown_type",
    "UNDEFINED",
]
