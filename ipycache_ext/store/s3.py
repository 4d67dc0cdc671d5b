"""An S3-compatible object store (AWS S3, MinIO, Ceph, SeaweedFS, GCS's S3 interface) as a
persistent backend: ``s3://bucket/prefix``.

Why obstore (the Python bindings of Rust's ``object_store``): one 16 MB wheel with no
Python dependencies (boto3 brings botocore, ~25 MB of service models, plus s3transfer;
s3fs brings aiobotocore, aiohttp and fsspec), its calls release the GIL so ranged reads
run in parallel from threads, it uploads an iterable of buffers as a multipart upload
without joining them, and it has conditional puts (``If-None-Match: *`` for the lease,
``If-Match`` to take over an expired one).

Entries are opaque signed bytes (the tier signs and verifies; nothing is unpickled
here).  A ttl is the object's ``ipycache-expires`` metadata (seconds since the epoch),
checked on read.  A lease is a small object ``locks/<key>`` holding the holder's token
and its expiry, created with a conditional put so one kernel of a team wins.
"""

from __future__ import annotations

import configparser
import contextlib
import datetime
import json
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlparse

from .. import messages, notify
from ..config import SETTINGS
from .backends import Chunks, EntryTooLarge, MissingExtra, _read_buffer, as_chunks
from .owners import INDEX_PREFIX
from .s3_bound import LOCKS, USED, LruBound
from .s3_read import Gone, ReadFault, Replaced, read_ranges

EXPIRES = "ipycache-expires"  # object metadata: when the entry stops being valid
PART = 8 << 20  # bytes per ranged read and per multipart part
READERS = 8  # ranged reads in flight for one big entry
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


class S3Fault(OSError):
    """A failed S3 request, worded short: obstore's own errors carry the whole request
    and response, far too long for a warning."""


def _fault(exc: BaseException) -> S3Fault:
    return S3Fault(messages.s3_request_error(type(exc).__name__, str(exc)))


# A server's answer that it has no conditional puts: the status, not any "501" in the
# error's text (its request id or its timing, "in 501.2ms", may hold one).
_NOT_IMPLEMENTED = re.compile(r"status(?: code)?:? 501\b|\b501 Not Implemented|NotImplemented")


def refuses_conditional_puts(exc: BaseException) -> bool:
    """True if a failed conditional put says the server does not implement them."""
    return bool(_NOT_IMPLEMENTED.search(str(exc)))


def _no_bucket(exc: FileNotFoundError) -> None:
    """A missing bucket is a fault, not a missing object (both are a 404)."""
    if "NoSuchBucket" in str(exc):
        raise _fault(exc) from None


def _profile_settings() -> dict[str, str]:
    """Credentials, region and endpoint from ``~/.aws`` for ``$AWS_PROFILE`` (or the
    default profile) when the environment names no access key: object_store reads only
    the environment, while the AWS tools also read these two files."""
    if os.environ.get("AWS_ACCESS_KEY_ID"):
        return {}
    profile = os.environ.get("AWS_PROFILE", "default")
    home = os.path.expanduser("~/.aws")
    found: dict[str, str] = {}
    files = (
        (os.environ.get("AWS_CONFIG_FILE", os.path.join(home, "config")), True),
        (os.environ.get("AWS_SHARED_CREDENTIALS_FILE", os.path.join(home, "credentials")), False),
    )
    for path, is_config in files:
        parser = configparser.ConfigParser()
        with contextlib.suppress(OSError, configparser.Error):
            parser.read(path)
        section = f"profile {profile}" if is_config and profile != "default" else profile
        if parser.has_section(section):
            found.update(parser[section])
    names = {
        "aws_access_key_id": "access_key_id",
        "aws_secret_access_key": "secret_access_key",
        "aws_session_token": "token",
        "region": "region",
        "endpoint_url": "endpoint",
    }
    return {ours: found[theirs] for theirs, ours in names.items() if found.get(theirs)}


class S3Backend:
    """One bucket (and prefix) of an S3-compatible server."""

    def __init__(self, url: str, max_bytes: int | None = None) -> None:
        try:
            import obstore
            from obstore.store import S3Store
        except ModuleNotFoundError as missing:
            if missing.name != "obstore":
                raise
            raise MissingExtra("s3", "obstore") from missing
        self._obs = obstore
        self.where = url
        parsed = urlparse(url)
        # Signed into every entry: an entry copied here from another store is misplaced.
        self.namespace = f"s3:{parsed.netloc}/{parsed.path.strip('/')}"
        config: dict[str, Any] = _profile_settings()
        endpoint = SETTINGS.s3_endpoint or config.get("endpoint")
        if endpoint:
            config["endpoint"] = endpoint
        endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL", "")
        loopback = urlparse(endpoint).hostname in _LOOPBACK
        self._store = S3Store(
            parsed.netloc,
            prefix=parsed.path.strip("/") or None,
            config=config,  # type: ignore[arg-type]  # keys checked by obstore
            client_options={"allow_http": loopback, "connect_timeout": "2s", "timeout": "300s"},
            retry_config={"max_retries": 2, "retry_timeout": datetime.timedelta(seconds=10)},
        )
        self._no_conditional_put = False
        self._direct_reads = True  # presigned plain GETs for big entries (see get)
        self._local = threading.local()
        self._bound = None if max_bytes is None else LruBound(obstore, self._store, max_bytes)

    # ----- entries -----------------------------------------------------------------------

    def get(self, key: str) -> Any:
        """The entry's bytes, or None (absent or expired).  A big entry is read as
        ranges in parallel straight from the sockets into one preallocated buffer
        (:mod:`.s3_read`): the entry is never held twice, nor copied once more."""
        try:
            first = self._obs.get(self._store, key, options={"range": (0, PART)})
        except FileNotFoundError as exc:
            _no_bucket(exc)
            return None
        except Exception as exc:
            raise _fault(exc) from None
        expires = first.attributes.get(EXPIRES)
        if expires is not None and float(expires) <= time.time():
            with contextlib.suppress(Exception):
                self._obs.delete(self._store, key)
            return None
        meta = first.meta
        size = meta["size"]
        head = first.bytes()
        self._local.expires = None if expires is None else float(expires)
        if self._bound is not None and not key.startswith(INDEX_PREFIX):
            self._bound.used(key)
        if size <= len(head):
            return memoryview(head)
        data = _read_buffer(size)
        offset = len(head)
        data[:offset] = head
        del head
        etag = meta["e_tag"]
        try:
            if self._direct_reads:
                try:
                    url = self._obs.sign(self._store, "GET", key, datetime.timedelta(minutes=10))
                    read_ranges(url, data, offset, etag, PART, READERS, timeout=60)
                    return data
                except (Replaced, Gone):
                    raise
                except Exception:
                    # A presigned plain GET this setup refuses (a proxy, a CA bundle
                    # only the client knows, a server without presigned URLs): the
                    # client's own ranged reads from now on, which do not fail there.
                    self._direct_reads = False
            self._client_ranges(key, data, offset, etag)
        except Replaced:
            return self.get(key)  # replaced meanwhile: read the new one
        except Gone:
            return None  # deleted meanwhile
        except ReadFault as exc:
            raise S3Fault(messages.s3_request_error(*exc.args)) from None
        except Exception as exc:
            raise _fault(exc) from None
        return data

    def _client_ranges(self, key: str, data: memoryview, offset: int, etag: str | None) -> None:
        """Fill ``data[offset:]`` with obstore's ranged reads, ``READERS`` at a time (each
        range arrives in a buffer of its own and is copied in)."""
        errors = self._obs.exceptions
        size = len(data)

        def fetch(start: int) -> None:
            end = min(start + PART, size)
            options: dict[str, Any] = {"range": (start, end)}
            if etag:
                options["if_match"] = etag  # the same object, not one written since
            try:
                data[start:end] = self._obs.get(self._store, key, options=options).bytes()
            except errors.PreconditionError:
                raise Replaced() from None
            except FileNotFoundError:
                raise Gone() from None

        with ThreadPoolExecutor(READERS) as pool:
            list(pool.map(fetch, range(offset, size, PART)))

    def expires_of_last_get(self) -> float | None:
        """When the entry this thread last read expires (epoch seconds), for a tier
        that copies it into a local store."""
        return getattr(self._local, "expires", None)

    def set(self, key: str, data: Chunks, ttl: float | None) -> None:
        """Upload the tier's chunks as they are: an entry bigger than one part goes as a
        multipart upload, which the server shows only once completed, so a killed
        kernel leaves no object, only an invisible partial upload."""
        chunks = as_chunks(data)
        attributes = {} if ttl is None else {EXPIRES: f"{time.time() + ttl:.3f}"}
        size = sum(memoryview(c).nbytes for c in chunks)
        entry = not key.startswith(INDEX_PREFIX)
        if self._bound is not None and entry and size > self._bound.max_bytes:
            raise EntryTooLarge(size, self._bound.max_bytes)
        try:
            self._obs.put(
                self._store,
                key,
                [memoryview(c).cast("B") for c in chunks],
                attributes=attributes,
                use_multipart=size > PART,
                chunk_size=PART,
                max_concurrency=READERS,
            )
        except Exception as exc:
            raise _fault(exc) from None
        if self._bound is not None and entry:
            with contextlib.suppress(Exception):  # the entry is written; eviction is later
                self._bound.written(key, size)

    def delete(self, key: str) -> None:
        try:
            self._obs.delete(self._store, key)
        except FileNotFoundError:
            pass
        except Exception as exc:
            raise _fault(exc) from None
        if self._bound is not None and not key.startswith((LOCKS, INDEX_PREFIX)):
            self._bound.forget(key)

    def keys(self) -> list[str]:
        return [p for p in self._paths() if not p.startswith((LOCKS, USED, INDEX_PREFIX))]

    def index_names(self) -> list[str]:
        """The owner index records (:mod:`.owners`), apart from the entries."""
        return [p for p in self._paths() if p.startswith(INDEX_PREFIX)]

    def _paths(self) -> list[str]:
        try:
            found = self._obs.list(self._store).collect()
        except Exception as exc:
            raise _fault(exc) from None
        return sorted(m["path"] for m in found)

    def clear(self) -> None:
        """Every entry and lease under the prefix."""
        try:
            paths = [m["path"] for m in self._obs.list(self._store).collect()]
            if paths:
                self._obs.delete(self._store, paths)
        except Exception as exc:
            raise _fault(exc) from None

    # ----- the lease ---------------------------------------------------------------------

    def _read_lock(self, key: str) -> tuple[str, float, str | None] | None:
        """(token, expiry, etag) of the lease object, or None if there is none."""
        try:
            found = self._obs.get(self._store, LOCKS + key)
            record = json.loads(bytes(found.bytes()))
        except FileNotFoundError as exc:
            _no_bucket(exc)
            return None
        except ValueError:
            return ("", 0.0, None)  # unreadable: treat as expired
        return str(record["token"]), float(record["expires"]), found.meta["e_tag"]

    def _lock_body(self, token: str, lease: float) -> bytes:
        return json.dumps({"token": token, "expires": time.time() + lease}).encode()

    def try_lock(self, key: str, token: str, lease: float) -> bool:
        """Create the lease object only if there is none (``If-None-Match: *``); take
        over an expired one only if it is unchanged since read (``If-Match``)."""
        if self._no_conditional_put:
            return True
        errors = self._obs.exceptions
        body = self._lock_body(token, lease)
        try:
            self._obs.put(self._store, LOCKS + key, body, mode="create")
            return True
        except errors.AlreadyExistsError:
            pass
        except (errors.NotSupportedError, NotImplementedError) as exc:
            return self._without_conditional_put(exc)
        except Exception as exc:
            if refuses_conditional_puts(exc):
                return self._without_conditional_put(exc)
            raise _fault(exc) from None
        try:
            held = self._read_lock(key)
            if held is None:  # released meanwhile: try again next round
                return False
            _, expires, etag = held
            if expires > time.time():
                return False
            if etag is None:
                self._obs.delete(self._store, LOCKS + key)
                return False
            self._obs.put(self._store, LOCKS + key, body, mode={"e_tag": etag})
            return True
        except (errors.PreconditionError, errors.AlreadyExistsError):
            return False  # another kernel took it over first
        except Exception as exc:
            raise _fault(exc) from None

    def _without_conditional_put(self, exc: BaseException) -> bool:
        """The server refuses conditional puts: no lease at all from now on, said once."""
        self._no_conditional_put = True
        notify.emit(messages.s3_no_conditional_put_note(self.where))
        return True

    def renew(self, key: str, token: str, lease: float) -> None:
        held = self._read_lock(key)
        if held is not None and held[0] == token:
            mode: Any = {"e_tag": held[2]} if held[2] else "overwrite"
            with contextlib.suppress(self._obs.exceptions.PreconditionError):
                self._obs.put(self._store, LOCKS + key, self._lock_body(token, lease), mode=mode)

    def holder(self, key: str) -> str | None:
        held = self._read_lock(key)
        return None if held is None or held[1] <= time.time() else held[0]

    def unlock(self, key: str, token: str) -> None:
        held = self._read_lock(key)
        if held is not None and held[0] == token:
            self.delete(LOCKS + key)

    def close(self) -> None:
        """Nothing to close: the client's connection pool goes with the object."""
