"""The mutation check: a stored result's digest now vs when it was stored.

Results are stored by reference, so a caller that mutates one changes the cache.  The
fingerprint is taken when the result is stored and compared on every hit.  Some
objects change their own pickled state each time they are inspected (matplotlib's
callback registries advance a counter in ``__getstate__``); such a value gets no
fingerprint rather than a warning on every hit.
"""

from __future__ import annotations

import copy
from typing import Any

from ..errors import MemoError
from ..hashing.atoms import atom_bytes
from ..hashing.core import Hasher
from ..parts import Part, PartId, PartKind, Reason, ReasonKind
from ..store.sizes import approx_size

# Values hashed from their buffers, the same every time: fingerprinted in one pass.
_SINGLE_PASS_MODULES = ("numpy", "pandas", "torch", "jax")


def fingerprint(hasher: Hasher, value: Any, where: str) -> bytes | None:
    """Digest of ``value`` for later comparison; None if its hash is not stable.

    Raises :class:`MemoError` (naming what inside it) if it cannot be hashed at all.
    """
    first = hasher.digest(value, where)
    if atom_bytes(value) is not None or type(value).__module__.startswith(_SINGLE_PASS_MODULES):
        return first
    return first if hasher.digest(value, where) == first else None


def was_mutated(hasher: Hasher, value: Any, before: bytes | None, where: str) -> bool:
    """True if ``value`` no longer hashes to ``before`` (never for a missing fingerprint)."""
    if before is None:
        return False
    try:
        return hasher.digest(value, where) != before
    except MemoError:
        return False


def never_mutated(value: Any) -> bool:
    """True for a value no caller can change in place: a jax array (jax has no in-place
    operations; ``x.at[i].set(v)`` returns a new array), which needs no copy and no
    mutation check."""
    tp = type(value)
    return tp.__module__.startswith("jax") and tp.__name__ == "ArrayImpl"


def private_copy(value: Any) -> Any:
    """A copy the caller may mutate without touching the stored value (``copy=True``).

    Arrays, frames and tensors copy their buffers (``arr.copy()``, ``df.copy(deep=True)``,
    ``t.clone()``), which is much cheaper than ``copy.deepcopy`` walking them; a jax
    array is handed out as it is; anything else is deep-copied.
    """
    tp = type(value)
    module = tp.__module__
    if module.startswith("numpy") and tp.__name__ == "ndarray":
        return value.copy()
    if module.startswith("pandas") and tp.__name__ in ("DataFrame", "Series"):
        return value.copy(deep=True)
    if module == "torch" and tp.__name__ == "Tensor":
        return value.clone()
    if never_mutated(value):
        return value
    return copy.deepcopy(value)


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
