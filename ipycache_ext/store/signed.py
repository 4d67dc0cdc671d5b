"""The signed entry format (the key that signs it comes from :mod:`.secret`).

Every entry is ``MAGIC | key id | salt | MAC | binding | header | pickle | buffers``.
Pickles are code, so an entry whose signature does not verify under the secret key is
never unpickled.  The MAC is a two-level tree (:mod:`.segments`): every 1 MiB segment
of the body gets an AES-GMAC tag, then keyed BLAKE3 runs over the salt, the body's
length and those tags.  Segments are tagged on every core, and the directory store
tags each one as it reads it, so checking a whole entry costs little beyond reading it.

Why GMAC for the segments: with AES and carry-less multiply in the CPU (every x86 and
ARM server of the last decade) OpenSSL's GMAC runs at 27-29 GB/s on one core here,
keyed BLAKE3 at 7-9 GB/s and HMAC-SHA256 at 1.9 (which was 70 % of a persistent hit).
GMAC is only safe when a key never tags two messages under one nonce, so every entry
gets its own key: keyed BLAKE3 of a random 16-byte salt the writer draws, with the
segment's index as the nonce.  A forger who reuses an honest entry's salt still faces
a key it does not know, used once per nonce.

The signed ``binding`` names the store namespace, the owner and the
key the entry was written for, so a valid entry copied or renamed under another key
(f(1)'s value under f(2)'s name) is refused too.  An entry carries the id of the key
that signed it, so one signed with another key (a colleague's) can be told from one
that was tampered with.  The header
lists the Python version and the versions of the libraries whose objects the pickle
holds, so an upgrade turns into a miss instead of an incompatible object, and when the
entry was stored and its ttl: whatever decides whether an entry is fresh is signed, so
an old entry put back in place (without a store's own expiry beside it) is expired
all the same.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import importlib
import importlib.metadata
import io
import json
import pickle
import secrets
import sys
import time
import types
from typing import Any

import blake3
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from . import segments

MAGIC = b"IPYCACHE7\n"  # 2: one entry type for functions and cells; 3: key bound; 4: BLAKE3
# 5: BLAKE3 over 1 MiB segments, then over their digests; 6: GMAC segments, salted;
# 7: when it was stored and its ttl in the signed header
_MAGIC_FAMILY = b"IPYCACHE"
FORMAT = int(MAGIC[len(_MAGIC_FAMILY) : -1])
_MAC_SIZE = 32
_KEY_ID_SIZE = 8
_SALT_SIZE = 16
_SALT_AT = len(MAGIC) + _KEY_ID_SIZE
_BINDING_SIZE = 32
FORMAT_TAG = f"py{sys.version_info.major}.{sys.version_info.minor}-{sys.implementation.name}"


# ----- entry format ----------------------------------------------------------------------


class EntryRejected(Exception):
    """A stored entry that must not be used; ``kind`` says why (for the warning)."""

    def __init__(self, kind: str, detail: str = "", libs: dict[str, str] | None = None) -> None:
        super().__init__(detail or kind)
        self.kind = kind
        self.libs = libs or {}  # "version": the library versions the (verified) entry holds


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


def binding(namespace: str, owner: str, digest: bytes) -> bytes:
    """What an entry is for: the store namespace, the owner and the key digest."""
    named = b"\0".join([b"ipycache entry", namespace.encode(), owner.encode(), digest])
    return hashlib.sha256(named).digest()


def dump_entry(payload: Any, key: bytes, bound_to: bytes, ttl: float | None = None) -> list[Any]:
    """Pickle, version and sign ``payload`` into a list of byte chunks (never joined),
    for the slot ``bound_to`` (see :func:`binding`), fresh for ``ttl`` seconds from now
    (None: for good).

    Array data travels as protocol-5 out-of-band buffers, so neither writing nor
    reading an entry copies it more than the disk needs.  Raises what pickle raises.
    """
    buf = io.BytesIO()
    buffers: list[pickle.PickleBuffer] = []
    pickler = _RecordingPickler(buf, buffers.append)
    pickler.dump(payload)
    views = [b.raw() for b in buffers]
    header = json.dumps(
        {
            "format": FORMAT_TAG,
            "libs": _library_versions(pickler.roots),
            "stored_at": time.time(),
            "ttl": ttl,
        },
        sort_keys=True,
    ).encode()
    pickled = buf.getbuffer()
    body: list[Any] = [bound_to, len(header).to_bytes(4, "little"), header]
    for part in (pickled, *views):
        body += [len(part).to_bytes(8, "little"), part]
    salt = secrets.token_bytes(_SALT_SIZE)
    return [MAGIC + key_id(key) + salt + mac(key, salt, body), *body]


_derived: dict[bytes, tuple[bytes, bytes, bytes]] = {}


def _keys(secret: bytes) -> tuple[bytes, bytes, bytes]:
    """The MAC key, the segment key and the public key id derived from ``secret``
    (cached per secret)."""
    found = _derived.get(secret)
    if found is None:

        def derive(context: str) -> bytes:
            return blake3.blake3(secret, derive_key_context=f"ipycache_ext 2026 {context}").digest()

        ident = derive("key id")[:_KEY_ID_SIZE]
        found = _derived[secret] = (derive("entry MAC"), derive("entry segment"), ident)
    return found


class _Gmac:
    """AES-GMAC of one segment (GCM over no plaintext, the segment as associated data),
    with the :class:`~.segments.Hasher` interface."""

    __slots__ = ("_gcm",)

    def __init__(self, aes: algorithms.AES, index: int) -> None:
        self._gcm = Cipher(aes, modes.GCM(index.to_bytes(12, "little"))).encryptor()

    def update(self, data: Any, /) -> None:
        self._gcm.authenticate_additional_data(data)

    def digest(self) -> bytes:
        self._gcm.finalize()
        return self._gcm.tag


def _leaf(secret: bytes, salt: bytes) -> segments.Leaf:
    """The maker of segment ``i``'s tagger in the entry salted with ``salt``."""
    aes = algorithms.AES(blake3.blake3(salt, key=_keys(secret)[1]).digest())
    return functools.partial(_Gmac, aes)


def leaf_hasher(secret: bytes) -> segments.Leaves:
    """The leaf maker of an entry signed under ``secret``, from its bytes before the body
    (where its salt is)."""

    def of_entry(prefix: memoryview) -> segments.Leaf:
        return _leaf(secret, salt_of(prefix))

    return of_entry


def salt_of(entry: Any) -> bytes:
    """The salt an entry (or the bytes before its body) was signed with."""
    return bytes(memoryview(entry)[_SALT_AT : _SALT_AT + _SALT_SIZE])


def mac(secret: bytes, salt: bytes, chunks: Any, leaves: list[bytes] | None = None) -> bytes:
    """The MAC of a body (a buffer or a list of them) in the entry salted with ``salt``,
    under ``secret``; ``leaves``, if given, are its segments' tags, already computed
    over these same bytes."""
    parts = [chunks] if isinstance(chunks, (bytes, bytearray, memoryview)) else chunks
    size = sum(memoryview(part).nbytes for part in parts)
    if leaves is None:
        leaves = segments.leaves(segments.split(parts), _leaf(secret, salt))
    hasher = blake3.blake3(salt + size.to_bytes(8, "little"), key=_keys(secret)[0])
    for tag in leaves:
        hasher.update(tag)
    return hasher.digest()


SIGNED_FROM = _SALT_AT + _SALT_SIZE + _MAC_SIZE  # where the signed body starts


def key_id(key: bytes) -> bytes:
    """A public id of a secret key, so an entry says which key signed it."""
    return _keys(key)[2]


def load_entry(data: Any, key: bytes, bound_to: bytes, leaves: list[bytes] | None = None) -> Any:
    """Verify and unpickle the entry found in slot ``bound_to``; :class:`EntryRejected`
    if it must not be used (a valid entry of another slot is "misplaced").  ``leaves``
    are the body's segment digests if the reader computed them, over ``data`` itself
    (never over the file it came from), after reading it.

    Arrays come back as views of ``data``, so read-only data is copied first: the
    arrays must be writable, as the ones that were stored.
    """
    view = memoryview(data).cast("B")
    if view.readonly:  # arrays must come back writable: copied, hashed as it is copied
        view, leaves = segments.copy_hashed(view, SIGNED_FROM, leaf_hasher(key))
    start = SIGNED_FROM
    if len(view) < start + _BINDING_SIZE + 4 or bytes(view[: len(MAGIC)]) != MAGIC:
        if bytes(view[: len(_MAGIC_FAMILY)]) == _MAGIC_FAMILY:
            raise EntryRejected("newer" if _format_of(view) > FORMAT else "format")
        raise EntryRejected("corrupt")
    signer = bytes(view[len(MAGIC) : _SALT_AT])
    salt = salt_of(view)
    signature = bytes(view[_SALT_AT + _SALT_SIZE : start])
    body = view[start:]
    if not hmac.compare_digest(signature, mac(key, salt, body, leaves)):
        raise EntryRejected("signature" if signer == key_id(key) else "foreign")
    if not hmac.compare_digest(bytes(body[:_BINDING_SIZE]), bound_to):
        raise EntryRejected("misplaced")
    body = body[_BINDING_SIZE:]
    size = int.from_bytes(body[:4], "little")
    try:
        header = json.loads(bytes(body[4 : 4 + size]))
    except ValueError:
        raise EntryRejected("corrupt") from None
    stored_at, ttl = header.get("stored_at"), header.get("ttl")
    if ttl is not None and not (isinstance(stored_at, float) and time.time() < stored_at + ttl):
        raise EntryRejected("expired")
    if header.get("format") != FORMAT_TAG:
        raise EntryRejected("version", header.get("format", "?"))
    libs = header.get("libs", {})
    for root, version in libs.items():
        current = module_version(root)
        if current != version:
            raise EntryRejected("version", f"{root} {version} (now {current})", libs)
    try:
        parts = _length_prefixed(body[4 + size :])
        return pickle.loads(parts[0], buffers=parts[1:])
    except Exception as exc:
        raise EntryRejected("unloadable", f"{type(exc).__name__}: {exc}") from None


def looks_like_entry(head: bytes) -> bool:
    """Whether bytes start as an entry of some format does (not a proof: only what a
    store checks before it deletes an object it did not name itself)."""
    return head.startswith(_MAGIC_FAMILY)


def _format_of(view: memoryview) -> int:
    """The format number after ``IPYCACHE`` (0 if there is none): a newer kernel's entry
    is told from an older one's."""
    head = bytes(view[len(_MAGIC_FAMILY) : len(_MAGIC_FAMILY) + 8]).split(b"\n", 1)[0]
    return int(head) if head.isdigit() else 0


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
