"""Values -> 128-bit xxh3 digests, the same in every process (see :mod:`.core`)."""

from __future__ import annotations

from .core import DEFAULT, Hasher, digest, hexdigest
from .handlers import Handler, register, register_lazy_module, unregister

__all__ = [
    "DEFAULT",
    "Handler",
    "Hasher",
    "digest",
    "hexdigest",
    "register",
    "register_lazy_module",
    "unregister",
]
