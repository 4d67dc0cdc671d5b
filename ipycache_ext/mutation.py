"""The mutation check: a stored result's digest now vs when it was stored.

Results are stored by reference, so a caller that mutates one changes the cache.  The
fingerprint is taken when the result is stored and compared on every hit.  Some
objects change their own pickled state each time they are inspected (matplotlib's
callback registries advance a counter in ``__getstate__``); such a value gets no
fingerprint rather than a warning on every hit.
"""

from __future__ import annotations

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
