"""An S3-compatible object store (AWS S3, MinIO, Ceph, SeaweedFS, GCS's S3 interface) as a
persistent backend: ``s3://bucket/prefix``.

Why obstore (the Python bindings of Rust's ``object_store``): one 16 MB wheel with no
Python dependencies (boto3 brings botocore, ~25 MB of service models, plus s3transfer;
s3fs brings aiobotocore, aiohttp and fsspec), its calls release the GIL so ranged reads
run in parallel from threads, it uploads an iterable of buffers as a multipart upload
without joining them, and it has conditional puts (``If-None-Match: *`` for the lease,
``If-Match`` to take over an expired one).

Entries are opaque signed bytes (the tier signs and verifies; nothing is unpickled
here).  Everything lives in a folder of its own inside the prefix (:data:`NAMESPACE`):
the store lists, counts, evicts and clears only objects there whose names it gives
and (before deleting an entry) whose first bytes are an entry's, so a bucket holding
other data loses none of it.  A ttl is signed into the entry (:mod:`..signed`); the
object's ``ipycache-expires`` metadata only saves reading an entry already expired.
A lease is a small object ``locks/<key>`` holding the holder's token and its expiry,
created with a conditional put so one kernel of a team wins.

Every request gives up after ``store_timeout`` seconds without a byte (connecting or
reading), and all the requests of one call wait ``3 x store_timeout`` at most together
(:mod:`.deadline`); the tier then skips the store for ``store_retry_seconds``: a
black-holed, stalled or slow server costs one call about three timeouts, not every
call minutes.
"""

from __future__ import annotations

import configparser
import contextlib
import datetime
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import unquote, urlparse

from ... import messages
from ...config import SETTINGS, from_env
from ..segments import SEGMENT, Leaves, read_buffer
from . import deadline
from .base import INDEX_PREFIX, Backend, Chunks, EntryTooLarge, MissingExtra, Read, as_chunks
from .s3_bound import ENTRY_NAME, LOCKS, USED, LruBound, owned_entries
from .s3_errors import S3Fault, fault, no_bucket
from .s3_lease import S3Lease
from .s3_read import Gone, OutOfTime, ReadFault, Replaced, read_ranges
from .s3_uploads import sweep_in_background

EXPIRES = "ipycache-expires"  # object metadata: when the entry stops being valid
PART = 8 << 20  # bytes of an entry's first read, and per multipart part
# Then ranges of READ_PART, READERS at a time: few big requests cost a local server less
# CPU (800 MB vs its raw GET: 1.58-1.95x at 8 of 8 MB, 1.35-1.43x at 4 of 64 MB).
READ_PART, READERS = 64 << 20, 4
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
NAMESPACE = "ipycache/v1"  # the store's own folder inside the prefix: it owns nothing else
# A whole request (a part of a big entry) may take this long while bytes flow; a
# request with no byte for ``store_timeout`` seconds fails at once.
REQUEST_SECONDS = 120
# All the requests of one call (a miss: read, lease, read, write, owner record,
# release) wait this many ``store_timeout`` at most together.
CALL_TIMEOUTS = 3
T = TypeVar("T")


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


class S3Backend(S3Lease, Backend):
    """One bucket (and prefix) of an S3-compatible server."""

    remote = True

    def __init__(self, url: str, max_bytes: int | None = None, timeout: float = 2.0) -> None:
        try:
            import obstore
            from obstore.store import S3Store
        except ModuleNotFoundError as missing:
            if missing.name != "obstore":
                raise
            raise MissingExtra("s3", "obstore") from missing
        self._obs = obstore
        self.where = messages.redacted(url)
        parsed = urlparse(url)
        bucket = parsed.netloc.rpartition("@")[2]
        prefix = parsed.path.strip("/")
        # Signed into every entry: an entry copied here from another store is misplaced.
        self.namespace = f"s3:{bucket}/{prefix}"
        config: dict[str, Any] = _profile_settings()
        if parsed.username is not None:  # s3://key-id:secret@bucket/prefix
            config["access_key_id"] = unquote(parsed.username)
            config["secret_access_key"] = unquote(parsed.password or "")
            config.pop("token", None)
        endpoint = SETTINGS.s3_endpoint or config.get("endpoint")
        if endpoint:
            config["endpoint"] = endpoint
        endpoint = endpoint or from_env("s3_endpoint") or ""
        loopback = urlparse(endpoint).hostname in _LOOPBACK
        wait = datetime.timedelta(seconds=timeout)
        self.timeout = timeout
        folder = "/".join(part for part in (prefix, NAMESPACE) if part)

        def client(**options: datetime.timedelta) -> Any:
            return S3Store(
                bucket,
                prefix=folder,
                config=config,  # type: ignore[arg-type]  # keys checked by obstore
                client_options={  # type: ignore[arg-type]  # keys checked by obstore
                    "allow_http": loopback,
                    "connect_timeout": wait,
                    "timeout": datetime.timedelta(seconds=REQUEST_SECONDS),
                    **options,
                },
                # A refused connection or a 5xx is retried at once; a request that
                # timed out is not (it already waited): the tier skips the store.
                retry_config={"max_retries": 2, "retry_timeout": wait},
            )

        # Every request but an entry's upload: no byte for ``timeout`` seconds fails it.
        self._store = client(read_timeout=wait)
        # An entry's upload: the server answers each part only once it has stored it,
        # which can take longer than ``timeout`` on a busy server; it is bounded by
        # REQUEST_SECONDS, and is only made once the store answered this miss's reads.
        self._uploads = client()
        self._no_conditional_put = False
        # Uploads a killed kernel left unfinished in the folder: aborted on a thread.
        self.sweep = sweep_in_background(bucket, folder, config, endpoint, timeout)
        self._direct_reads = True  # presigned plain GETs for big entries (see get)
        # Where a call's request runs while the call waits only what its deadline has
        # left; a request it stopped waiting for ends there by its own timeout.
        self._waiter = ThreadPoolExecutor(16, thread_name_prefix="ipycache-s3")
        self._bound = (
            None if max_bytes is None else LruBound(obstore, self._store, max_bytes, self._request)
        )
        self._seen: dict[str, tuple[str, float]] = {}
        self._mine: dict[str, tuple[str, float]] = {}

    def _request(self, work: Callable[[], T]) -> T:
        """``work()``, one request, waited for only what the current call has left."""
        try:
            return deadline.bounded(work, self._call_seconds(), self._waiter)
        except deadline.Spent as spent:
            raise S3Fault(messages.s3_out_of_time(spent.seconds)) from None

    def _call_seconds(self) -> float:
        return CALL_TIMEOUTS * self.timeout

    # ----- entries -----------------------------------------------------------------------

    def get(self, key: str) -> Any:
        """The entry's bytes, or None (absent or expired)."""
        found = self.read(key)
        return None if found is None else found.data

    def read(self, key: str, start: int = 0, leaf: Leaves | None = None) -> Read | None:
        """The entry's bytes with the leaves of its signed body from byte ``start``
        (None when not hashed here: a small entry, or no ``leaf``) and its expiry (for
        a tiered store that copies it into a local one), or None (absent or expired).
        A big entry is read as ranges in parallel straight from the sockets into one
        preallocated buffer (:mod:`.s3_read`): the entry is never held twice, nor
        copied once more; each range is hashed by the thread that read it as it lands,
        while it is still in the CPU's cache (ranges after the first start on a
        segment's boundary), so checking the signature costs no second pass."""

        def first_range() -> tuple[Any, Any]:
            found = self._obs.get(self._store, key, options={"range": (0, start + PART)})
            return found, found.bytes()

        try:
            first, head = self._request(first_range)
        except FileNotFoundError as exc:
            no_bucket(exc)
            return None
        except Exception as exc:
            raise fault(exc) from None
        expires = first.attributes.get(EXPIRES)
        if expires is not None and float(expires) <= time.time():
            with contextlib.suppress(Exception):
                self.delete(key)
            return None
        meta = first.meta
        size = meta["size"]
        until = None if expires is None else float(expires)
        if self._bound is not None and ENTRY_NAME.fullmatch(key):
            self._bound.used(key)
        if size <= len(head) or size < start:
            return Read(memoryview(head), None, until)
        data = read_buffer(size)
        offset = len(head)
        data[:offset] = head
        del head
        leaves: list[bytes] = []
        landed = None
        if leaf is not None:
            maker = leaf(data[:start])
            leaves = [b""] * -(-(size - start) // SEGMENT)

            def landed(low: int, high: int) -> None:
                for i in range((low - start) // SEGMENT, -(-(high - start) // SEGMENT)):
                    at = start + i * SEGMENT
                    hasher = maker(i)
                    hasher.update(data[at : min(size, at + SEGMENT)])
                    leaves[i] = hasher.digest()

            landed(start, offset)
        etag = meta["e_tag"]
        try:
            with deadline.span(self._call_seconds()) as by:
                if self._direct_reads:
                    try:
                        url = self._obs.sign(
                            self._store, "GET", key, datetime.timedelta(minutes=10)
                        )
                        how = (READ_PART, READERS, self.timeout, by, landed, SEGMENT)
                        read_ranges(url, data, offset, etag, *how)
                        return Read(data, leaves if leaf is not None else None, until)
                    except (Replaced, Gone, OutOfTime):
                        raise
                    except Exception:
                        # A presigned plain GET this setup refuses (a proxy, a CA bundle
                        # only the client knows, a server without presigned URLs): the
                        # client's own ranged reads from now on, which do not fail there.
                        self._direct_reads = False
                self._client_ranges(key, data, offset, etag, by, landed)
        except OutOfTime:
            raise S3Fault(messages.s3_out_of_time(self._call_seconds())) from None
        except Replaced:
            return self.read(key, start, leaf)  # replaced meanwhile: read the new one
        except Gone:
            return None  # deleted meanwhile
        except ReadFault as exc:
            raise S3Fault(messages.s3_request_error(*exc.args)) from None
        except Exception as exc:
            raise fault(exc) from None
        return Read(data, leaves if leaf is not None else None, until)

    def _client_ranges(
        self,
        key: str,
        data: memoryview,
        offset: int,
        etag: str | None,
        by: float | None,
        landed: Callable[[int, int], None] | None,
    ) -> None:
        """Fill ``data[offset:]`` with obstore's ranged reads, ``READERS`` at a time (each
        range arrives in a buffer of its own and is copied in), then ``landed``; none
        started after ``by`` (monotonic)."""
        errors = self._obs.exceptions
        size = len(data)

        def fetch(start: int) -> None:
            if by is not None and time.monotonic() > by:
                raise OutOfTime()
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
            if landed is not None:
                landed(start, end)

        with ThreadPoolExecutor(READERS) as pool:
            list(pool.map(fetch, range(offset, size, PART)))

    def set(self, key: str, data: Chunks, ttl: float | None) -> None:
        """Upload the tier's chunks as they are: an entry bigger than one part goes as a
        multipart upload, which the server shows only once completed, so a killed
        kernel leaves no object, only a partial upload (aborted later: :mod:`.s3_uploads`)."""
        chunks = as_chunks(data)
        attributes = {} if ttl is None else {EXPIRES: f"{time.time() + ttl:.3f}"}
        size = sum(memoryview(c).nbytes for c in chunks)
        entry = bool(ENTRY_NAME.fullmatch(key))
        if self._bound is not None and entry and size > self._bound.max_bytes:
            raise EntryTooLarge(size, self._bound.max_bytes)

        def upload() -> None:
            self._obs.put(
                self._uploads if entry else self._store,
                key,
                [memoryview(c).cast("B") for c in chunks],
                attributes=attributes,
                use_multipart=size > PART,
                chunk_size=PART,
                max_concurrency=READERS,
            )

        try:
            if size > PART:
                # Started only with time left, then as long as the parts keep going:
                # a big entry on a slow link may take longer than the call's deadline.
                with deadline.span(self._call_seconds()):
                    upload()
            else:
                self._request(upload)
        except Exception as exc:
            raise fault(exc) from None
        if self._bound is not None and entry:
            with contextlib.suppress(Exception):  # the entry is written; eviction is later
                self._bound.written(key, size)

    def delete(self, key: str) -> None:
        try:
            self._request(lambda: self._obs.delete(self._store, key))
        except FileNotFoundError:
            pass
        except Exception as exc:
            raise fault(exc) from None
        if self._bound is not None and ENTRY_NAME.fullmatch(key):
            self._bound.forget(key)

    def keys(self) -> list[str]:
        """The entries: objects of the namespace with an entry's name."""
        return [p for p in self._paths() if ENTRY_NAME.fullmatch(p)]

    def index_names(self) -> list[str]:
        """The owner index records (:mod:`..owners`), apart from the entries."""
        return [
            p
            for p in self._paths()
            if p.startswith(INDEX_PREFIX) and ENTRY_NAME.fullmatch(p[len(INDEX_PREFIX) :])
        ]

    def owned(self, names: list[str]) -> list[str]:
        """Those of the entries ``names`` whose first bytes are an entry's: what a clear
        may delete (an object that only has an entry's name is left alone)."""
        try:
            return owned_entries(self._obs, self._store, names)
        except Exception as exc:
            raise fault(exc) from None

    def _paths(self) -> list[str]:
        try:
            found = self._obs.list(self._store).collect()
        except Exception as exc:
            raise fault(exc) from None
        return sorted(m["path"] for m in found)

    def clear(self) -> None:
        """Every entry, index record, mark and lease of the namespace (named as this
        store names them; entries only with an entry's first bytes)."""
        paths = self._paths()
        named = [
            p
            for p in paths
            if any(
                p.startswith(kind) and ENTRY_NAME.fullmatch(p[len(kind) :])
                for kind in (INDEX_PREFIX, USED, LOCKS)
            )
        ]
        gone = self.owned([p for p in paths if ENTRY_NAME.fullmatch(p)]) + named
        try:
            if gone:
                self._obs.delete(self._store, gone)
        except Exception as exc:
            raise fault(exc) from None

    def settle(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the evictions after this kernel's writes
        (they run on a thread of their own)."""
        if self._bound is not None:
            self._bound.settle(timeout)

    def close(self) -> None:
        """Wait (a few timeouts at most) for an eviction under way; the client's
        connection pool goes with the object."""
        self.settle(3 * self.timeout)
        self._waiter.shutdown(wait=False)
