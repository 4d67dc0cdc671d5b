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
