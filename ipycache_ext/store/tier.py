"""The persistent tier: signed, versioned entries in a directory or in Redis.

Lookup order is memory, then this tier (whose value then joins the memory tier).
Every entry is ``MAGIC | key id | HMAC-SHA256 | header | pickle | buffers``.  Pickles
are code, so an entry whose signature does not verify under the secret key is never unpickled: it is
reported once and treated as a miss.  An entry carries the id of the key that signed
it: one signed with another key (a colleague's) is left in place, one that claims our
key but does not verify (tampered) is replaced.  The header lists the Python version
and the versions of the libraries whose objects the pickle holds, so an upgrade turns into a
miss instead of an incompatible object.

Faults (no store, a full or read-only disk, Redis down, a corrupt entry, a result
pickle refuses) never lose the computed value: the call returns it, the memory tier
keeps it, and the user sees one warning per kind of fault and place.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import importlib
import importlib.metadata
import io
import json
import os
import pickle
import secrets
import sys
import threading
import time
import types
from collections.abc import Iterator
from typing import Any

import xxhash

from .. import messages, notify
from .backends import Backend, EntryTooLarge, MissingExtra, holder_is_dead, new_token, open_backend

MAGIC = b"IPYCACHE1\n"
_MAC_SIZE = 32
_KEY_ID_SIZE = 8
FORMAT_TAG = f"py{sys.version_info.major}.{sys.version_info.minor}-{sys.implementation.name}"


class Settings:
    """Kernel-wide persistence settings; ``MemoMagics`` traitlets mirror them."""

    default = False
    location: str | None = None
    max_disk_bytes = 4 << 30
    secret: str | None = None
    lease = 30.0


# ----- where things live ---------------------------------------------------------------


def default_location() -> str:
    """``$IPYCACHE_STORE`` or ``$IPYCACHE_DIR``, else the platform's user cache dir."""
    for name in ("IPYCACHE_STORE", "IPYCACHE_DIR"):
        if os.environ.get(name):
            return os.environ[name]
    import platformdirs

    return platformdirs.user_cache_dir("ipycache_ext")


def key_file() -> str:
    import platformdirs

    return os.environ.get("IPYCACHE_KEY_FILE") or os.path.join(
        platformdirs.user_config_dir("ipycache_ext"), "secret.key"
    )


def secret_key() -> bytes:
    """The team key if configured, else this user's key file (created 0600 on first use)."""
    shared = Settings.secret or os.environ.get("IPYCACHE_SECRET")
    if shared:
        return shared.encode()
    path = key_file()
    with contextlib.suppress(FileNotFoundError), open(path, "rb") as fh:
        return fh.read().strip()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        with open(path, "rb") as fh:
            return fh.read().strip()
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_hex(32).encode())
    with open(path, "rb") as fh:
        return fh.read().strip()


# ----- entry format ----------------------------------------------------------------------


class EntryRejected(Exception):
    """A stored entry that must not be used; ``kind`` says why (for the warning)."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(detail or kind)
        self.kind = kind


_versions: dict[str, str | None] = {}


def module_version(root: str) -> str | None:
    """The installed version of a top-level package (cached: it can't change in a process).

    ``__version__`` where the package has one, else its distribution's metadata under
    the same name; None for what has neither (it is then not checked).
    """
    if root not in _versions:
        version = None
        with contextlib.suppress(Exception):
            module = sys.modules.get(root) or importlib.import_module(root)
            version = getattr(module, "__version__", None)
        if not isinstance(version, str):
            try:
                version = importlib.metadata.version(root)
            except Exception:
                version = None
        _versions[root] = version
    return _versions[root]


def _library_versions(roots: set[str]) -> dict[str, str]:
    """Versions of the libraries a pickle refers to (stdlib and user code left out)."""
    versions = {}
    for root in sorted(roots):
        if root in sys.stdlib_module_names or root in ("builtins", "__main__"):
            continue
        version = module_version(root)
        if version is not None:
            versions[root] = version
    return versions


class _RecordingPickler(pickle.Pickler):
    """Pickles modules by name and notes which libraries the pickle depends on."""

    def __init__(self, file: Any, buffer_callback: Any) -> None:
        super().__init__(file, protocol=5, buffer_callback=buffer_callback)
        self.roots: set[str] = set()

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, types.ModuleType):
            self.roots.add(obj.__name__.split(".")[0])
            return importlib.import_module, (obj.__name__,)
        module = getattr(obj if isinstance(obj, type) else type(obj), "__module__", None)
        if isinstance(module, str):
            self.roots.add(module.split(".")[0])
        return NotImplemented


def dump_entry(payload: Any, key: bytes) -> list[Any]:
    """Pickle, version and sign ``payload`` into a list of byte chunks (never joined).

    Array data travels as protocol-5 out-of-band buffers, so neither writing nor
    reading an entry copies it more than the disk needs.  Raises what pickle raises.
    """
    buf = io.BytesIO()
    buffers: list[pickle.PickleBuffer] = []
    pickler = _RecordingPickler(buf, buffers.append)
    pickler.dump(payload)
    views = [b.raw() for b in buffers]
    header = json.dumps(
        {"format": FORMAT_TAG, "libs": _library_versions(pickler.roots)}, sort_keys=True
    ).encode()
    pickled = buf.getbuffer()
    body: list[Any] = [len(header).to_bytes(4, "little"), header]
    for part in (pickled, *views):
        body += [len(part).to_bytes(8, "little"), part]
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for chunk in body:
        mac.update(chunk)
    return [MAGIC + key_id(key) + mac.digest(), *body]


def key_id(key: bytes) -> bytes:
    """A public id of a secret key, so an entry says which key signed it."""
    return hmac.new(key, b"ipycache key id", hashlib.sha256).digest()[:_KEY_ID_SIZE]


def load_entry(data: Any, key: bytes) -> Any:
    """Verify and unpickle an entry; :class:`EntryRejected` if it must not be used.

    Arrays come back as views of ``data``, so read-only data is copied first: the
    arrays must be writable, as the ones that were stored.
    """
    view = memoryview(data)
    if view.readonly:
        view = memoryview(bytearray(view))
    start = len(MAGIC) + _KEY_ID_SIZE + _MAC_SIZE
    if len(view) < start + 4 or bytes(view[: len(MAGIC)]) != MAGIC:
        raise EntryRejected("corrupt")
    signer = bytes(view[len(MAGIC) : len(MAGIC) + _KEY_ID_SIZE])
    mac = bytes(view[len(MAGIC) + _KEY_ID_SIZE : start])
    body = view[start:]
    if not hmac.compare_digest(mac, hmac.new(key, body, hashlib.sha256).digest()):
        raise EntryRejected("signature" if signer == key_id(key) else "foreign")
    size = int.from_bytes(body[:4], "little")
    try:
        header = json.loads(bytes(body[4 : 4 + size]))
    except ValueError:
        raise EntryRejected("corrupt") from None
    if header.get("format") != FORMAT_TAG:
        raise EntryRejected("version", header.get("format", "?"))
    for root, version in header.get("libs", {}).items():
        current = module_version(root)
        if current != version:
            raise EntryRejected("version", f"{root} {version} (now {current})")
    try:
        parts = _length_prefixed(body[4 + size :])
        return pickle.loads(parts[0], buffers=parts[1:])
    except Exception as exc:
        raise EntryRejected("unloadable", f"{type(exc).__name__}: {exc}") from None


def _length_prefixed(view: memoryview) -> list[memoryview]:
    """Split ``len(8 bytes) | data`` records (the pickle, then its buffers), no copies."""
    parts = []
    at = 0
    while at < len(view):
        size = int.from_bytes(view[at : at + 8], "little")
        parts.append(view[at + 8 : at + 8 + size])
        at += 8 + size
    if at != len(view) or not parts:
        raise ValueError("truncated entry")
    return parts


# ----- the tier ----------------------------------------------------------------------------


class Tier:
    """One opened persistent store, with the fault policy around it."""

    def __init__(self, backend: Backend, secret: bytes) -> None:
        self.backend = backend
        self._secret = secret
        self._warned: set[tuple[str, str]] = set()
        self._foreign: set[str] = set()
        self._broken_since: float | None = None

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
        return "v1-" + xxhash.xxh3_128_hexdigest(raw)

    def load(self, owner: str, key: bytes, label: str) -> Any | None:
        """The stored payload, or None (missing, rejected, or the store failing)."""
        name = self.entry_key(owner, key)
        try:
            data = self.backend.get(name)
        except Exception as exc:
            self._fault(exc)
            return None
        if data is None:
            return None
        try:
            return load_entry(data, self._secret)
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

    def save(self, owner: str, key: bytes, payload: Any, ttl: float | None, label: str) -> bool:
        """Write ``payload``; on any failure warn once and keep going (memory has it)."""
        if self.entry_key(owner, key) in self._foreign:
            return False
        try:
            data = dump_entry(payload, self._secret)
        except Exception as exc:
            self._warn_once("pickle", label, _unpicklable_note(label, payload, exc))
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
        return True

    @contextlib.contextmanager
    def computing(self, owner: str, key: bytes, label: str) -> Iterator[Any | None]:
        """Hold the store's lease on ``key`` while it is computed here.

        Yields a payload if another kernel stored it meanwhile (use it instead of
        computing), else None.  A dead store means no lock, not a hang.
        """
        name = self.entry_key(owner, key)
        token = new_token()
        locked = False
        pause = 0.02
        while True:
            try:
                locked = self.backend.try_lock(name, token, Settings.lease)
            except Exception as exc:
                self._fault(exc)
                break
            if locked:
                break
            found = self.load(owner, key, label)
            if found is not None:
                yield found
                return
            self._break_dead_lock(name)
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
        renewing = _Renewal(self.backend, name, token) if locked else None
        try:
            yield self.load(owner, key, label)
        finally:
            if renewing is not None:
                renewing.stop()
                with contextlib.suppress(Exception):
                    self.backend.unlock(name, token)

    def _break_dead_lock(self, name: str) -> None:
        """A lock held by a process of this host that died (kill -9) is released now,
        not when its lease runs out."""
        with contextlib.suppress(Exception):
            holder = self.backend.holder(name)
            if holder_is_dead(holder):
                self.backend.unlock(name, holder)


class _Renewal:
    """Keeps a lease alive while its holder computes (every third of the lease)."""

    def __init__(self, backend: Backend, name: str, token: str) -> None:
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(backend, name, token), daemon=True)
        self._thread.start()

    def _run(self, backend: Backend, name: str, token: str) -> None:
        while not self._stopped.wait(Settings.lease / 3):
            with contextlib.suppress(Exception):
                backend.renew(name, token, Settings.lease)

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()


def _unpicklable_note(label: str, payload: Any, exc: BaseException) -> messages.Note:
    """Name what pickle refused: the variables of a cell record, else the result."""
    parts = getattr(payload, "unpicklable_parts", None)
    if parts is not None:
        return messages.unpicklable_variables_warning(label, parts(), exc)
    value = payload["value"] if isinstance(payload, dict) and "value" in payload else payload
    return messages.unpicklable_warning(label, type(value).__name__, exc)


_tier: Tier | None = None
_tier_config: tuple | None = None
_tier_lock = threading.Lock()
_open_failures: set[str] = set()


def tier() -> Tier | None:
    """The tier for the current settings (opened on first use), or None if it can't open."""
    global _tier, _tier_config
    location = Settings.location or default_location()
    config = (location, Settings.max_disk_bytes, Settings.secret)
    with _tier_lock:
        if _tier is not None and _tier_config == config:
            return _tier
        try:
            backend = open_backend(location, Settings.max_disk_bytes)
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


def close() -> None:
    """Forget the opened tier (settings changed, extension unloaded, tests)."""
    global _tier, _tier_config
    with _tier_lock:
        if _tier is not None:
            with contextlib.suppress(Exception):
                _tier.backend.close()  # type: ignore[attr-defined]
        _tier, _tier_config = None, None
        _open_failures.clear()
