"""What an entry keeps of a key's parts to show later: a short repr of each value.

A miss note says what a value was (``x: 1 -> 2``) long after the value is gone, so the
repr is taken when the key is made and kept in the entry's snapshot.  Code parts show
nothing (a miss says "the code of f changed"); a name bound to user code shows that
name.
"""

from __future__ import annotations

from ..deps.usercode import short_name
from ..parts import (
    CODE_KINDS,
    MISSING_DATA,
    REF_DATA,
    UNDEFINED,
    Part,
    PartKind,
    Seen,
    Snapshot,
    short_repr,
)


def snapshot(parts: list[Part]) -> Snapshot:
    """What an entry keeps of its parts: bytes and a short repr, by part id."""
    return {p.ident: Seen(p.data, shown_of(p)) for p in parts}


def shown_of(part: Part) -> str:
    """The short repr a snapshot keeps of ``part`` (see the module's docstring)."""
    if part.kind in CODE_KINDS:
        return ""
    if part.kind is PartKind.OPTIONS:
        return str(part.value)
    if part.data == MISSING_DATA:
        return UNDEFINED
    if part.by_name and part.data.startswith(REF_DATA):
        return short_name(part.value)
    return short_repr(part.value)
