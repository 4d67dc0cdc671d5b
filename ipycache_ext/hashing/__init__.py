"""Values -> 128-bit xxh3 digests, the same in every process (see :mod:`.core`)."""

from __future__ import annotations

from .core import DEFAULT, Hasher, digest, hexdigest

__all__ = ["DEFAULT", "Hasher", "digest", "hexdigest"]
