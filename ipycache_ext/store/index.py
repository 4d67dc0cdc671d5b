"""The owner index record beside each persisted entry: its name and its bytes.

An entry's name is a digest of its owner and key, so the owner cannot be read back
from it; the tier writes ``idx-<entry name>`` beside each entry it saves, holding the
owner and label as JSON (never unpickled) with the entry's ttl, and :mod:`.owners`
reads them to list and clear the store by function or cell.
"""

from __future__ import annotations

import contextlib
import json

from .backends.base import INDEX_PREFIX, Backend


def record(backend: Backend, owner: str, label: str, name: str, ttl: float | None) -> None:
    """Write the index record of entry ``name`` (a failure only costs the listing)."""
    data = json.dumps([owner, label]).encode()
    with contextlib.suppress(Exception):
        backend.set(INDEX_PREFIX + name, data, ttl)


def read(backend: Backend, name: str) -> tuple[str, str] | None:
    """The owner and label the index record ``name`` holds; None if it is unreadable."""
    try:
        data = backend.get(name)
        owner, label = json.loads(bytes(data)) if data is not None else (None, None)
    except Exception:
        return None
    if not isinstance(owner, str) or not isinstance(label, str):
        return None
    return owner, label
