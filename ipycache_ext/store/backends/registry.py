"""Which backend a store location names.

Kept apart from :mod:`.backends` (the protocol and the directory and Redis stores) so
the S3 and tiered backends can build on that module without an import cycle.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

from ...errors import UnknownStoreError
from . import directory as backends
from .tiered import SEPARATOR, TieredBackend

# The URL schemes a store location may start with; a location without one is a directory.
SCHEMES = ("redis", "rediss", "unix", "s3")
# ``name://``: a URL.  A drive letter (``C:\cache``, ``C:/cache``) is one letter, so a
# Windows path is a directory, as is ``data:v2`` (no ``//``).
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+)://")


def check_location(location: str) -> None:
    """Raise :class:`~ipycache_ext.errors.UnknownStoreError` for a URL whose scheme no
    backend serves (``ftp://x/y`` would otherwise become a folder ``./ftp:/x/y``)."""
    for part in location.split(SEPARATOR, 1) if SEPARATOR in location else (location,):
        found = _URL.match(part.strip())
        if found is not None and found.group(1).lower() not in SCHEMES:
            raise UnknownStoreError(part, found.group(1), SCHEMES)


def open_backend(location: str, max_disk_bytes: int, timeout: float = 2.0) -> Any:
    """``near|far`` a directory in front of a shared store, ``s3://bucket/prefix`` an
    object store, ``redis://...`` Redis; any other URL is an error; the rest is a
    directory."""
    check_location(location)
    if SEPARATOR in location:
        near, far = location.split(SEPARATOR, 1)
        return TieredBackend(
            open_backend(near, max_disk_bytes, timeout), open_backend(far, max_disk_bytes, timeout)
        )
    if urlparse(location).scheme == "s3":
        from .s3 import S3Backend  # only for s3:// stores: it pulls in http.client and more

        return S3Backend(location, max_disk_bytes, timeout)
    return backends.open_backend(location, max_disk_bytes, timeout)
