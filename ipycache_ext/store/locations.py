"""Which backend a store location names.

Kept apart from :mod:`.backends` (the protocol and the directory and Redis stores) so
the S3 and tiered backends can build on that module without an import cycle.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from . import backends
from .tiered import SEPARATOR, TieredBackend


def open_backend(location: str, max_disk_bytes: int, timeout: float = 2.0) -> Any:
    """``near|far`` a directory in front of a shared store, ``s3://bucket/prefix`` an
    object store, ``redis://...`` Redis; anything else is a directory."""
    if SEPARATOR in location:
        near, far = location.split(SEPARATOR, 1)
        return TieredBackend(
            open_backend(near, max_disk_bytes, timeout), open_backend(far, max_disk_bytes, timeout)
        )
    if urlparse(location).scheme == "s3":
        from .s3 import S3Backend  # only for s3:// stores: it pulls in http.client and more

        return S3Backend(location, max_disk_bytes)
    return backends.open_backend(location, max_disk_bytes, timeout)
