"""The persistent tier: signed entries in a directory or in Redis, with the fault policy.

Lookup order is memory, then this tier (whose entry then joins the memory tier).  An
entry that does not verify is reported once and treated as a miss: one signed with
another key (a colleague's) is left in place, one that claims our key but does not
verify (tampered) is replaced.

Faults (no store, a full or read-only disk, Redis down, a corrupt entry, a result
pickle refuses) never lose the computed value: the call returns it, the memory tier
keeps it, and the user sees one warning per kind of fault and place.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable

import xxhash

from .. import messages, notify
from ..config import SETTINGS
from . import owners
from .backends import (
    Backend,
    EntryTooLarge,
    MissingExtra,
    holder_is_dead,
    new_token,
    open_backend,
)
from .memory import Entry
from .signed import FORMAT_TAG, EntryRejected, dump_entry, load_entry, secret_key


def default_location() -> str:
    """``$IPYCACHE_STORE`` or ``$IPYCACHE_DIR``, else the platform's user cache dir."""
    for name in ("IPYCACHE_STORE", "IPYCACHE_DIR"):
        if os.environ.get(name):
            return os.environ[name]
    import platformdirs

    return platformdirs.user_cache_dir("ipycache_ext")


# ----- the tier ----------------------------------------------------------------------------


class Tier:
    """One opened persistent store, with the fault policy around it."""

    def __init__(self, backend: Backend, secret: bytes) -> None:
        self.backend = backend
        self._secret = secret
        self._warned: set[tuple[str, str]] = set()
        self._foreign: set[str] = set()

    def _warn_once(self, kind: str, where: str, note: messages.Note) -> None:
        if (kind, where) not in self._warned:
            self._warned.add((kind, where))
            notify.emit(note)

    def _fault(self, exc: BaseException) -> None:
        note = messages.store_fault_warning(self.backend.where, exc)
        self._warn_once("fault", self.backend.where, note)

    @staticmethod
    def entry_key(owner: str, key: bytes) -> str:
        raw = f"{FORMAT_TAG}|{owner}|".encode() + key
        return "v2-" + xxhash.xxh3_128_hexdigest(raw)

    def load(self, owner: str, key: bytes, label: str) -> Entry | None:
        """The stored entry, or None (missing, rejected, or the store failing)."""
        name = self.entry_key(owner, key)
        try:
            data = self.backend.get(name)
        except Exception as exc:
            self._fault(exc)
            return None
        if data is None:
            return None
        try:
            found = load_entry(data, self._secret)
            if not isinstance(found, Entry):
                raise EntryRejected("corrupt")
            return found
        except EntryRejected as rejected:
            where = self.backend.where
            note = messages.rejected_entry_warning(label, rejected.kind, str(rejected), where)
            self._warn_once(rejected.kind, name, note)
            if rejected.kind == "foreign":
                # Signed with another key (a colleague's): leave it, and don't overwrite
                # it with an entry only this kernel could read.
                self._foreign.add(name)
            else:
                with contextlib.suppress(Exception):
                    self.backend.delete(name)
            return None

    def save(
        self,
        owner: str,
        key: bytes,
        entry: Entry,
        ttl: float | None,
        label: str,
        unpicklable: Callable[[BaseException], messages.Note],
    ) -> bool:
        """Write ``entry``; on any failure warn once and keep going (memory has it).

        ``unpicklable`` words the warning when pickle refuses the value: it knows
        whether that is a result or a cell's variables.
        """
        if self.entry_key(owner, key) in self._foreign:
            return False
        try:
            data = dump_entry(entry, self._secret)
        except Exception as exc:
            self._warn_once("pickle", label, unpicklable(exc))
            return False
        try:
            self.backend.set(self.entry_key(owner, key), data, ttl)
        except EntryTooLarge as big:
            note = messages.entry_too_large_warning(label, big.size, big.limit)
            self._warn_once("size", label, note)
            return False
        except Exception as exc:
            self._fault(exc)
            return False
        owners.record(self.backend, owner, label, self.entry_key(owner, key), ttl)
        return True

    def try_claim(self, owner: str, key: bytes, label: str) -> Claim | None:
        """One attempt at the store's lease on ``key``, for computing it here.

        A :class:`Claim` when this kernel may go on: it holds the lease (or the store
        failed: a dead store means no lock, not a hang), with the entry if one is
        stored; or it holds no lease because another kernel stored the entry
        meanwhile.  None while another live kernel computes it: wait and try again.
        The caller waits (a thread sleeps, a coroutine awaits), so this serves both.
        """
        name = self.entry_key(owner, key)
        token = new_token()
        try:
            locked = self.backend.try_lock(name, token, SETTINGS.lease_seconds)
        except Exception as exc:
            self._fault(exc)
            return Claim(self, name, None, self.load(owner, key, label))
        if locked:
            return Claim(self, name, token, self.load(owner, key, label))
        found = self.load(owner, key, label)
        if found is not None:
            return Claim(self, name, None, found)
        self._break_dead_lock(name)
        return None

    def _break_dead_lock(self, name: str) -> None:
        """A lock held by a process of this host that died (kill -9) is released now,
        not when its lease runs out."""
        with contextlib.suppress(Exception):
            holder = self.backend.holder(name)
            if holder is not None and holder_is_dead(holder):
                self.backend.unlock(name, holder)


class Claim:
    """The right to compute a key (holding the store's lease, renewed while it runs),
    or the entry another kernel stored meanwhile (``stored``)."""

    def __init__(self, tier: Tier, name: str, token: str | None, stored: Entry | None) -> None:
        self.stored = stored
        self._backend = tier.backend
        self._name = name
        self._token = token
        self._renewal = _Renewal(tier.backend, name, token) if token and stored is None else None

    def release(self) -> None:
        if self._renewal is not None:
            self._renewal.stop()
        if self._token is not None:
            with contextlib.suppress(Exception):
                self._backend.unlock(self._name, self._token)


# How long a kernel waits between tries of a lease another kernel holds.
FIRST_PAUSE, LONGEST_PAUSE = 0.02, 0.5


class _Renewal:
    """Keeps a lease alive while its holder computes (every third of the lease)."""

    def __init__(self, backend: Backend, name: str, token: str) -> None:
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(backend, name, token), daemon=True)
        self._thread.start()

    def _run(self, backend: Backend, name: str, token: str) -> None:
        while not self._stopped.wait(SETTINGS.lease_seconds / 3):
            with contextlib.suppress(Exception):
                backend.renew(name, token, SETTINGS.lease_seconds)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()


_tier: Tier | None = None
_tier_config: tuple | None = None
_tier_lock = threading.Lock()
_open_failures: set[str] = set()


def tier(wanted: bool | None = True) -> Tier | None:
    """The tier for the current settings (opened on first use), or None if it can't
    open or is not wanted (``wanted`` None follows ``SETTINGS.persist``)."""
    if not (SETTINGS.persist if wanted is None else wanted):
        return None
    global _tier, _tier_config
    location = SETTINGS.store or default_location()
    config = (location, SETTINGS.max_disk_bytes, SETTINGS.secret_key)
    with _tier_lock:
        if _tier is not None and _tier_config == config:
            return _tier
        try:
            backend = open_backend(location, SETTINGS.max_disk_bytes)
            _tier = Tier(backend, secret_key())
            _tier_config = config
        except Exception as exc:
            if location not in _open_failures:
                _open_failures.add(location)
                if isinstance(exc, MissingExtra):
                    note = messages.missing_extra_warning(location, exc.extra, exc.module)
                else:
                    note = messages.store_fault_warning(location, exc)
                notify.emit(note)
            return None
        return _tier


def in_use() -> Tier | None:
    """The tier a clear should reach: the configured one when persisting is on, else
    the one a ``persist=True`` function opened (same settings); never opens a store
    nothing in this kernel uses."""
    if SETTINGS.persist:
        return tier(True)
    location = SETTINGS.store or default_location()
    config = (location, SETTINGS.max_disk_bytes, SETTINGS.secret_key)
    with _tier_lock:
        return _tier if _tier is not None and _tier_config == config else None


def close() -> None:
    """Forget the opened tier (settings changed, extension unloaded, tests)."""
    global _tier, _tier_config
    with _tier_lock:
        if _tier is not None:
            with contextlib.suppress(Exception):
                _tier.backend.close()  # type: ignore[attr-defined]
        _tier, _tier_config = None, None
        _open_failures.clear()
