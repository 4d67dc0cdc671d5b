"""Values read by name that hash differently each time: every call would miss.

A miss blamed on a changed global (or closure value, class attribute, cell variable)
may be a value whose hash is not stable (a counter, an ``id()`` or a cache in its
state).  Hashing it twice, nothing run in between, tells; the engine warns once per
owner about each.
"""

from __future__ import annotations

from ..hashing.core import Hasher
from ..parts import Part, PartId, PartKind, Reason, ReasonKind
from ..store.sizes import approx_size

_BY_NAME_READS = (PartKind.GLOBAL, PartKind.CLOSURE, PartKind.VARIABLE, PartKind.CLASS_ATTRIBUTE)
_CHECKED_BYTES = 1 << 20  # bigger values are not hashed again on a miss


_BY_NAME_KINDS = frozenset(kind.value for kind in _BY_NAME_READS)


def suspects(reasons: tuple[Reason, ...], said: set[PartId]) -> set[PartId]:
    """The values read by name (globals, closure cells, class attributes, a cell's
    variables) that a miss blames on a change and that were not named yet: cheap, so a
    miss on its arguments alone never builds its parts for :func:`unstable_parts`."""
    return {
        r.part
        for r in reasons
        if r.kind is ReasonKind.CHANGED
        and r.part
        and r.files is None
        and r.part.kind in _BY_NAME_KINDS
        and r.part not in said
    }


def unstable_parts(
    hasher: Hasher, parts: list[Part], blamed: set[PartId], said: set[PartId]
) -> list[Part]:
    """Those of the ``blamed`` values (see :func:`suspects`) that hash differently
    twice in a row, nothing run in between: a counter, an ``id()`` or a cache in
    their state, so every call would miss.  Each is returned once per owner
    (``said``); values over a megabyte are not hashed again."""
    found: list[Part] = []
    for part in parts:
        if part.by_name or part.kind not in _BY_NAME_READS:
            continue
        ident = part.ident
        if ident not in blamed or ident in said:
            continue
        if approx_size(part.value) > _CHECKED_BYTES:
            continue
        try:
            unstable = hasher.part(part.value) != hasher.part(part.value)
        except Exception:
            continue  # it hashed for the key; a failure now is not this check's to report
        if unstable:
            said.add(ident)
            found.append(part)
    return found
