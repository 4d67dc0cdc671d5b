"""The persistent tier: signed entries in a directory or in Redis, with the fault policy.

Lookup order is memory, then this tier (whose entry then joins the memory tier).  An
entry that does not verify is reported once and treated as a miss, and the next
verified write replaces it: one signed with another key (a colleague's), one that
claims our key but does not verify (tampered), one copied from another key's slot,
and a row this store did not write (planted in the index) are never unpickled.

A store that stops answering (Redis down or black-holed) is skipped at once for
``SETTINGS.store_retry_seconds`` after a failure, so every call does not wait out a
timeout; a lease older than its lifetime is broken whatever its row says.

Faults (no store, a full or read-only disk, Redis down, a corrupt entry, a result
pickle refuses) never lose the computed value: the call returns it, the memory tier
keeps it, and the user sees one warning per kind of fault and place (a store that
fails: once, until it takes a write again).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable

import xxhash

from .. import messages, notify
from ..config import SETTINGS, from_env
from ..errors import UnknownStoreError
from . import index
from .backends import deadline
from .backends.base import Backend, EntryTooLarge, MissingExtra, Read
from .backends.holders import new_token
from .backends.registry import open_backend
from .entry import Entry
from .guard import ForeignRow, UnsafeStoreDir
from .lease import Claim, break_dead_lock
from .secret import MIN_KEY_BYTES, UnreadableKey, UnsafeKey, secret_key, team_secret
from .signed import (
    FORMAT_TAG,
    SIGNED_FROM,
    EntryRejected,
    binding,
    dump_entry,
    leaf_hasher,
    load_entry,
    module_version,
)


def _slot_for(name: str, libs: dict[str, str]) -> str:
    """Where this kernel keeps its copy of the entry ``name`` when the one there holds
    other versions of the libraries ``libs`` names: a name for this kernel's versions
    of them (every kernel with the same versions finds the same slot)."""
    here = json.dumps({root: module_version(root) for root in sorted(libs)}, sort_keys=True)
    return f"{name}-{xxhash.xxh3_64_hexdigest(here.encode())}"


def default_location() -> str:
    """``$IPYCACHE_STORE`` or ``$IPYCACHE_DIR``, else the platform's user cache dir."""
    found = from_env("store")
    if found:
        return found
    import platformdirs

    return platformdirs.user_cache_dir("ipycache_ext")


# Stores that failed and said so: a store's fault is said once, then not again until it
# takes a write (a dead Redis warns in the first cell that meets it, not in every cell),
# even when a changed setting reopens the tier.
_failing: set[str] = set()


# ----- the tier ----------------------------------------------------------------------------


class Tier:
    """One opened persistent store, with the fault policy around it."""

    def __init__(self, backend: Backend, secret: bytes) -> None:
        self.backend = backend
        self._secret = secret
        self._warned: set[tuple[str, str]] = set()
        self._namespace = backend.namespace
        self._skip_until = 0.0  # a remote store that failed is skipped until then
        self._leaf = leaf_hasher(secret)
        # Entries a newer ipycache_ext wrote: left in place, never overwritten from here.
        self._newer: set[str] = set()
        # Entries written with other library versions (a colleague's numpy): left in
        # place; this kernel's own copy goes to a slot named for its versions, and why
        # the entry was not used is said only if that slot has nothing either.
        self._slots: dict[str, str] = {}
        self._held_back: dict[str, EntryRejected] = {}

    def _warn_once(self, kind: str, where: str, note: messages.Note) -> None:
        if (kind, where) not in self._warned:
            self._warned.add((kind, where))
            notify.emit(note)

    def _fault(self, exc: BaseException) -> None:
        where = self.backend.where
        if where not in _failing:
            _failing.add(where)
            notify.emit(messages.store_fault_warning(where, exc))
        if self.backend.remote:
            self._skip_until = time.monotonic() + SETTINGS.store_retry_seconds

    def fault_said(self) -> None:
        """This store's fault was just said by a clear: the next call does not say it again."""
        _failing.add(self.backend.where)

    def _answered(self) -> None:
        """The store took a write: a later fault is news again.  A read is not enough (a
        read-only store serves reads and fails every write: its fault is said once)."""
        if _failing:
            _failing.discard(self.backend.where)

    def _skipped(self) -> bool:
        """True while a remote store that failed is being left alone."""
        return self._skip_until > 0 and time.monotonic() < self._skip_until

    def _binding(self, owner: str, key: bytes) -> bytes:
        return binding(self._namespace, owner, key)

    @staticmethod
    def entry_key(owner: str, key: bytes) -> str:
        raw = f"{FORMAT_TAG}|{owner}|".encode() + key
        return "v2-" + xxhash.xxh3_128_hexdigest(raw)

    def load(self, owner: str, key: bytes, label: str) -> Entry | None:
        """The stored entry, or None (missing, rejected, or the store failing)."""
        if self._skipped():
            return None
        with deadline.call():
            return self._load(owner, key, label)

    def _load(self, owner: str, key: bytes, label: str) -> Entry | None:
        name = self.entry_key(owner, key)
        try:
            try:
                read = self.backend.read(name, SIGNED_FROM, self._leaf)
            except ForeignRow as planted:
                self._reject(planted, name, label)
                return None
            if read is None:
                return None
            found = self._verified(read, owner, key, name, label)
            if found is None and read.near:
                # A bad local copy of a tiered store says nothing of the team's copy:
                # read that one, and if it verifies, it replaces the local copy.
                far = self.backend.read_far(name, SIGNED_FROM, self._leaf)
                if far is not None:
                    found = self._verified(far, owner, key, name, label)
                    if found is not None:
                        self.backend.repair_near(name, far)
            slot = self._slots.get(name)
            if found is None and slot is not None:
                found = self._load_slot(owner, key, name, slot, label)
            return found
        except Exception as exc:
            self._fault(exc)
            return None

    def _load_slot(self, owner: str, key: bytes, name: str, slot: str, label: str) -> Entry | None:
        """This kernel's own copy beside an entry written with other library versions;
        if there is none, the warning why that entry was not used."""
        read = self.backend.read(slot, SIGNED_FROM, self._leaf)
        found = None
        if read is not None:
            found = self._verified(read, owner, key, slot, label, own_slot=True)
        if found is None:
            self._reject(self._held_back[name], name, label)
        return found

    def _verified(
        self, read: Read, owner: str, key: bytes, name: str, label: str, own_slot: bool = False
    ) -> Entry | None:
        """The entry ``read`` holds if it verifies as ``owner``'s ``key``; else None,
        said once, and the copy it came from dropped unless it is someone else's (an
        entry of other library versions gets this kernel a slot of its own instead,
        unless it was read from that slot: then it is ours, outdated)."""
        try:
            found = load_entry(read.data, self._secret, self._binding(owner, key), read.leaves)
            if not isinstance(found, Entry):
                raise EntryRejected("corrupt")
            return found
        except (EntryRejected, ForeignRow) as rejected:
            if isinstance(rejected, EntryRejected) and rejected.libs and not own_slot:
                self._slots[name] = _slot_for(name, rejected.libs)
                self._held_back[name] = rejected
                return None
            self._reject(rejected, name, label, read)
            return None

    def _reject(
        self,
        rejected: EntryRejected | ForeignRow,
        name: str,
        label: str,
        read: Read | None = None,
    ) -> None:
        """Say once that the copy under ``name`` (``read``, when it was read) was
        refused; drop it unless it is someone else's."""
        kind = rejected.kind if isinstance(rejected, EntryRejected) else "planted"
        detail = str(rejected) if isinstance(rejected, EntryRejected) else ""
        where = self.backend.where
        if kind != "expired":  # past its signed ttl: a plain miss, only dropped
            self._warn_once(kind, name, messages.rejected_entry_warning(label, kind, detail, where))
        if kind == "newer":
            self._newer.add(name)
        elif kind not in ("foreign", "planted") and name not in self._slots:
            with contextlib.suppress(Exception):
                # A tiered store drops only the copy that was read (the local one
                # can be bad while the team's is good).
                if read is None:
                    self.backend.delete(name)
                else:
                    self.backend.drop_copy(name, read)
        # A colleague's entry and a planted row are left for the next verified
        # write to replace (deleting a planted row could follow its file name); a
        # newer version's entry is left for the kernels that can read it.

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
        name = self.entry_key(owner, key)
        if self._skipped() or name in self._newer:
            return False
        name = self._slots.get(name, name)
        try:
            data = dump_entry(entry, self._secret, self._binding(owner, key), ttl)
        except Exception as exc:
            self._warn_once("pickle", label, unpicklable(exc))
            return False
        with deadline.call():  # the miss's call, when it holds the lease
            try:
                self.backend.set(name, data, ttl)
            except EntryTooLarge as big:
                note = messages.entry_too_large_warning(label, big.size, big.limit)
                self._warn_once("size", label, note)
                return False
            except Exception as exc:
                self._fault(exc)
                return False
            self._answered()
            index.record(self.backend, owner, label, name, ttl)
        return True

    def try_claim(self, owner: str, key: bytes, label: str) -> Claim | None:
        """One attempt at the store's lease on ``key``, for computing it here.

        A :class:`Claim` when this kernel may go on: it holds the lease (or the store
        failed: a dead store means no lock, not a hang), with the entry if one is
        stored; or it holds no lease because another kernel stored the entry
        meanwhile.  None while another live kernel computes it: wait and try again.
        The caller waits (a thread sleeps, a coroutine awaits), so this serves both.

        Each attempt is a call of its own to a remote store (:mod:`.backends.deadline`):
        all its requests, and with a claim also the write and the release after the
        computation, wait about three ``store_timeout`` at most together.
        """
        opened = deadline.open_call()
        claim = None
        try:
            claim = self._try_claim(owner, key, label)
        finally:
            if claim is None:
                deadline.close_call(opened)
            else:
                claim.call = opened
        return claim

    def _try_claim(self, owner: str, key: bytes, label: str) -> Claim | None:
        name = self.entry_key(owner, key)
        if self._skipped():
            return Claim(self.backend, name, None, None)
        # A stored entry is read, not computed: no lease for a hit (a lease is a write
        # and a delete, two round trips to a remote store).
        found = self.load(owner, key, label)
        if found is not None or self._skipped():
            return Claim(self.backend, name, None, found)
        token = new_token()
        try:
            locked = self.backend.try_lock(name, token, SETTINGS.lease_seconds)
        except Exception as exc:
            self._fault(exc)
            return Claim(self.backend, name, None, self.load(owner, key, label))
        if locked:
            return Claim(self.backend, name, token, self.load(owner, key, label))
        found = self.load(owner, key, label)
        if found is not None:
            return Claim(self.backend, name, None, found)
        if self._skipped():  # the store failed while loading: don't wait on it
            return Claim(self.backend, name, None, None)
        break_dead_lock(self.backend, name)
        return None


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
    location, config = _configured()
    with _tier_lock:
        if _tier is not None and _tier_config == config:
            # A directory store deleted while the kernel runs is made again, not
            # written into a deleted index.
            if not _tier.backend.gone():
                return _tier
            with contextlib.suppress(Exception):
                _tier.backend.close()
        try:
            key = secret_key()
            backend = open_backend(location, SETTINGS.max_disk_bytes, SETTINGS.store_timeout)
            _tier = Tier(backend, key)
            _tier_config = config
            shared = team_secret()
            if shared is not None and len(shared.encode()) < MIN_KEY_BYTES:
                notify.emit(messages.short_team_key_warning(MIN_KEY_BYTES))
        except Exception as exc:
            if location not in _open_failures:
                _open_failures.add(location)
                notify.emit(_open_failure(messages.redacted(location), exc))
            return None
        return _tier


def _open_failure(where: str, exc: BaseException) -> messages.Note:
    """The one warning for a store that could not be opened."""
    if isinstance(exc, MissingExtra):
        return messages.missing_extra_warning(where, exc.extra, exc.module)
    if isinstance(exc, UnsafeKey):
        return messages.unsafe_key_warning(exc.path, exc.problem, MIN_KEY_BYTES)
    if isinstance(exc, UnreadableKey):
        return messages.unreadable_key_warning(exc.path, exc.reason)
    if isinstance(exc, UnknownStoreError):
        return messages.unknown_store_warning(exc.location, exc.scheme, exc.supported)
    if isinstance(exc, UnsafeStoreDir):
        return messages.unsafe_store_dir_warning(exc.path, exc.reason, exc.mode)
    return messages.store_fault_warning(where, exc)


def _configured() -> tuple[str, tuple[object, ...]]:
    """The store location the settings name, and everything an opened tier depends on."""
    location = SETTINGS.store or default_location()
    return location, (
        location,
        SETTINGS.max_disk_bytes,
        SETTINGS.secret_key,
        SETTINGS.store_timeout,
        SETTINGS.s3_endpoint,
    )


def in_use() -> Tier | None:
    """The tier a clear should reach: the configured one when persisting is on, else
    the one a ``persist=True`` function opened (same settings); never opens a store
    nothing in this kernel uses."""
    if SETTINGS.persist:
        return tier(True)
    _, config = _configured()
    with _tier_lock:
        return _tier if _tier is not None and _tier_config == config else None


def close() -> None:
    """Forget the opened tier (settings changed, extension unloaded, tests)."""
    global _tier, _tier_config
    with _tier_lock:
        if _tier is not None:
            with contextlib.suppress(Exception):
                _tier.backend.close()
        _tier, _tier_config = None, None
        _open_failures.clear()
        _failing.clear()
