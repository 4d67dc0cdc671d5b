"""What every persistent backend does, and what some do beyond it.

A backend moves opaque bytes: signing, pickling and version checks live in
:mod:`..signed`, the fault policy in :mod:`..persistent`.  Each backend also offers a
lease-style lock, so two kernels missing the same key compute it once and a crashed
kernel's lock expires.

The capabilities only some backends have (hashing while reading, an expiry read with
the entry, a near copy in front of a far one, a directory that can be deleted under
it, telling its own objects from look-alikes) are methods here with the bodies that
suit a backend without them, so the tier calls them on any backend and never asks
which kind it holds.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from ... import messages
from ..segments import Leaves

# Names of the owner index records (:mod:`..owners`), kept apart from the entries by
# every backend.
INDEX_PREFIX = "idx-"

Chunks = Any  # bytes, or a list of bytes-like chunks that together make an entry


def as_chunks(data: Chunks) -> list[Any]:
    return [data] if isinstance(data, (bytes, bytearray, memoryview)) else list(data)


class EntryTooLarge(ValueError):
    """An entry bigger than the store's whole size bound: storing it would evict every
    other entry and then itself."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"{size} bytes > max_disk_bytes {limit}")
        self.size, self.limit = size, limit


class MissingExtra(ImportError):
    """A store whose client library is not installed.  It carries the extra that brings
    the library, so the warning can give the one install command instead of a bare
    "No module named ..."."""

    def __init__(self, extra: str, module: str) -> None:
        super().__init__(messages.missing_extra_error(extra, module), name=module)
        self.extra, self.module = extra, module


@dataclass(frozen=True, slots=True)
class Read:
    """One entry as a backend read it, with what the tier needs to judge that copy.

    ``leaves`` are the leaves of the signed body when the backend hashed it as it read
    (None: the tier hashes it); ``expires`` is when the store says the entry expires
    (epoch seconds, None if it does not say); ``near`` is True when a tiered store
    served it from its near (local) copy, which can be bad while the far one is good.
    """

    data: Any
    leaves: list[bytes] | None = None
    expires: float | None = None
    near: bool = False


class Backend(ABC):
    """A persistent store; every method may raise ``OSError``-like errors."""

    where: str  # shown in notes and warnings (a URL without its password)
    # Signed into every entry: an entry copied from another store is misplaced.
    namespace: str = "dir"
    # A remote store that fails is left alone for ``store_retry_seconds``.
    remote: bool = False

    @abstractmethod
    def get(self, key: str) -> Any:
        """The bytes stored under ``key`` (bytes or a memoryview), or None."""

    @abstractmethod
    def set(self, key: str, data: Chunks, ttl: float | None) -> None: ...

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def try_lock(self, key: str, token: str, lease: float) -> bool: ...

    @abstractmethod
    def break_stale(self, key: str, lease: float) -> bool: ...

    @abstractmethod
    def renew(self, key: str, token: str, lease: float) -> None: ...

    @abstractmethod
    def holder(self, key: str) -> str | None: ...

    @abstractmethod
    def unlock(self, key: str, token: str) -> None: ...

    @abstractmethod
    def keys(self) -> list[str]:
        """The entries' names (no locks, no index records)."""

    @abstractmethod
    def index_names(self) -> list[str]:
        """The owner index records' names, apart from the entries."""

    @abstractmethod
    def clear(self) -> None: ...

    def read(self, key: str, start: int = 0, leaf: Leaves | None = None) -> Read | None:
        """The entry under ``key`` with what is known of it; a backend that can hash
        the body from byte ``start`` while reading (with ``leaf``) returns its leaves."""
        data = self.get(key)
        return None if data is None else Read(data)

    def read_far(self, key: str, start: int = 0, leaf: Leaves | None = None) -> Read | None:
        """The far copy behind a near one that was found bad; None for a store that
        keeps one copy."""
        return None

    def repair_near(self, key: str, found: Read) -> None:
        """A verified far copy replaces a bad near one (nothing to do with one copy)."""
        return None

    def drop_copy(self, key: str, found: Read) -> None:
        """Drop the copy ``found`` came from, and only that one."""
        self.delete(key)

    def has(self, key: str) -> bool:
        """True if an entry is stored under ``key`` (read for a backend with no cheaper
        way to tell)."""
        return self.get(key) is not None

    def owned(self, names: list[str]) -> list[str]:
        """Those of the entries ``names`` a clear may delete: all of them, unless the
        store can hold objects that only bear an entry's name."""
        return names

    def gone(self) -> bool:
        """True when the store was deleted or replaced since it was opened (it is then
        opened again, not written into a deleted index)."""
        return False

    def close(self) -> None:
        """Let go of connections and files (nothing to let go of by default)."""
        return None
