"""Which backend a store location names: one table from URL scheme to backend.

``near|far`` is a tiered store (a directory in front of a shared store), a URL opens
the backend its scheme names, any other URL is an error (``ftp://x/y`` would
otherwise become a folder ``./ftp:/x/y``), and the rest is a directory.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlparse

from ...errors import UnknownStoreError
from .base import Backend
from .directory import open_directory
from .redis import RedisBackend
from .tiered import SEPARATOR, TieredBackend


def _redis(location: str, max_disk_bytes: int, timeout: float) -> Backend:
    return RedisBackend(location, timeout=timeout)


def _s3(location: str, max_disk_bytes: int, timeout: float) -> Backend:
    from .s3 import S3Backend  # only for s3:// stores: it pulls in http.client and more

    return S3Backend(location, max_disk_bytes, timeout)


# URL scheme -> how to open the store: (location, max_disk_bytes, timeout) -> backend.
OPENERS: dict[str, Callable[[str, int, float], Backend]] = {
    "redis": _redis,
    "rediss": _redis,
    "unix": _redis,
    "s3": _s3,
}
# The URL schemes a store location may start with; a location without one is a directory.
SCHEMES = tuple(OPENERS)
# ``name://``: a URL.  A drive letter (``C:\cache``, ``C:/cache``) is one letter, so a
# Windows path is a directory, as is ``data:v2`` (no ``//``).
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+)://")


def check_location(location: str) -> None:
    """Raise :class:`~ipycache_ext.errors.UnknownStoreError` for a URL whose scheme no
    backend serves."""
    for part in location.split(SEPARATOR, 1) if SEPARATOR in location else (location,):
        found = _URL.match(part.strip())
        if found is not None and found.group(1).lower() not in SCHEMES:
            raise UnknownStoreError(part, found.group(1), SCHEMES)


def open_backend(location: str, max_disk_bytes: int, timeout: float = 2.0) -> Backend:
    """The store ``location`` names, opened."""
    check_location(location)
    if SEPARATOR in location:
        near, far = location.split(SEPARATOR, 1)
        return TieredBackend(
            open_backend(near, max_disk_bytes, timeout), open_backend(far, max_disk_bytes, timeout)
        )
    opener = OPENERS.get(urlparse(location).scheme)
    if opener is None:
        return open_directory(location, max_disk_bytes)
    return opener(location, max_disk_bytes, timeout)
