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

from .errors import MemoError
from .hashing.atoms import atom_bytes
from .hashing.core import Hasher

_SINGLE_PASS_MODULES = ("numpy", "pandas")


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


def private_copy(value: Any) -> Any:
    """A copy the caller may mutate without touching the stored value (``copy=True``).

    Arrays and frames copy their buffers (``arr.copy()``, ``df.copy(deep=True)``), which
    is much cheaper than ``copy.deepcopy`` walking them; anything else is deep-copied.
    """
    module = type(value).__module__
    if module.startswith("numpy") and type(value).__name__ == "ndarray":
        return value.copy()
    if module.startswith("pandas") and type(value).__name__ in ("DataFrame", "Series"):
        return value.copy(deep=True)
    return copy.deepcopy(value)
