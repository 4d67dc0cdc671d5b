"""Aborting the multipart uploads a killed kernel left unfinished in the store's folder.

Why here and not through obstore: a big entry goes up as a multipart upload, and one a
kernel never completed (killed mid-upload) keeps its parts, billed, but is no object:
obstore cannot list such uploads nor abort them.  So when the store opens, a thread of
its own lists the uploads under the store's folder (``GET /bucket?uploads&prefix=``)
and aborts those started more than :data:`ABANDONED_AFTER` ago (``DELETE
/bucket/key?uploadId=``), with requests signed here (AWS Signature V4, stdlib only) from
the credentials, region and endpoint the store's client was given.  An upload's age is
measured on the server's clock (its ``Date`` header), and the bound is far longer than
any live kernel's upload, so one under way is never aborted.  This is housekeeping:
any failure (no credentials here, a server without these calls) is logged at debug
level and nothing else; the lifecycle rule ``AbortIncompleteMultipartUpload`` remains
the server's own way.
"""

from __future__ import annotations

import datetime
import email.utils
import hashlib
import hmac
import logging
import os
import threading
import time
import urllib.request
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from ...config import SETTINGS

log = logging.getLogger(__name__)
# An upload started longer ago than this is abandoned: an hour, or two lease lifetimes
# if longer (a live kernel's upload of one entry never takes that long).
ABANDONED_AFTER = 3600.0
_PAGES = 100  # listing pages read at most in one sweep (1000 uploads a page)
_EMPTY = hashlib.sha256(b"").hexdigest()
_swept: set[tuple[str, str]] = set()  # (bucket URL, folder) swept by this process
_lock = threading.Lock()


@dataclass(frozen=True)
class Bucket:
    """Where a bucket answers (path-style, or virtual-hosted if so configured) and the
    credentials its requests are signed with."""

    url: str
    region: str
    key_id: str
    secret: str
    token: str | None = None


def bucket_of(name: str, config: Mapping[str, str], endpoint: str) -> Bucket | None:
    """The bucket as the store's client sees it: its ``config`` first, then the standard
    AWS variables it also reads; None without static credentials (a role the client
    finds by itself is not known here)."""
    env = os.environ.get
    key_id = config.get("access_key_id") or env("AWS_ACCESS_KEY_ID")
    secret = config.get("secret_access_key") or env("AWS_SECRET_ACCESS_KEY")
    if not key_id or not secret:
        return None
    token = config.get("token") if config.get("access_key_id") else env("AWS_SESSION_TOKEN")
    region = config.get("region") or env("AWS_REGION") or env("AWS_DEFAULT_REGION") or "us-east-1"
    virtual = str(
        config.get("virtual_hosted_style_request") or env("AWS_VIRTUAL_HOSTED_STYLE_REQUEST")
    )
    if virtual.lower() == "true":
        url = endpoint.rstrip("/") or f"https://{name}.s3.{region}.amazonaws.com"
    else:
        url = f"{endpoint.rstrip('/') or f'https://s3.{region}.amazonaws.com'}/{name}"
    return Bucket(url, region, key_id, secret, token)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signed_request(
    bucket: Bucket, method: str, key: str, query: Mapping[str, str], timeout: float
) -> tuple[bytes, str | None]:
    """One request on ``bucket`` (``key`` empty: the bucket itself), signed with AWS
    Signature V4; its body and ``Date`` header.  Raises on any failure."""
    parts = urlsplit(bucket.url)
    path = quote(f"{parts.path}/{key}" if key else parts.path or "/", safe="/~")
    canonical_query = "&".join(
        f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in sorted(query.items())
    )
    now = datetime.datetime.now(datetime.UTC)
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    headers = {"host": parts.netloc, "x-amz-content-sha256": _EMPTY, "x-amz-date": stamp}
    if bucket.token:
        headers["x-amz-security-token"] = bucket.token
    names = ";".join(sorted(headers))
    canonical = "\n".join(
        [method, path, canonical_query, *(f"{h}:{headers[h]}" for h in sorted(headers)), "",
         names, _EMPTY]
    )  # fmt: skip
    scope = f"{day}/{bucket.region}/s3/aws4_request"
    to_sign = (
        f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    )
    signing = _hmac(("AWS4" + bucket.secret).encode(), day)
    for part in (bucket.region, "s3", "aws4_request"):
        signing = _hmac(signing, part)
    signature = hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={bucket.key_id}/{scope}, "
        f"SignedHeaders={names}, Signature={signature}"
    )
    url = f"{parts.scheme}://{parts.netloc}{path}" + (f"?{canonical_query}" if query else "")
    request = urllib.request.Request(url, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return answer.read(), answer.headers.get("Date")


def _children(node: ElementTree.Element) -> dict[str, str]:
    """A node's child elements' texts by tag, without the XML namespace."""
    return {child.tag.rpartition("}")[2]: child.text or "" for child in node}


def stale_uploads(
    bucket: Bucket, folder: str, older_than: float, timeout: float
) -> list[tuple[str, str]]:
    """(key, upload id) of the uploads under ``folder/`` started over ``older_than``
    seconds ago by the server's clock."""
    prefix = folder.strip("/") + "/"
    found: list[tuple[str, str]] = []
    marker: dict[str, str] = {}
    for _ in range(_PAGES):
        body, date = signed_request(
            bucket, "GET", "", {"uploads": "", "prefix": prefix, **marker}, timeout
        )
        now = email.utils.parsedate_to_datetime(date).timestamp() if date else time.time()
        page = ElementTree.fromstring(body)
        for node in page:
            if node.tag.rpartition("}")[2] != "Upload":
                continue
            upload = _children(node)
            started = datetime.datetime.fromisoformat(upload["Initiated"].replace("Z", "+00:00"))
            if upload["Key"].startswith(prefix) and now - started.timestamp() >= older_than:
                found.append((upload["Key"], upload["UploadId"]))
        listing = _children(page)
        if listing.get("IsTruncated", "").lower() != "true":
            break
        marker = {
            "key-marker": listing.get("NextKeyMarker", ""),
            "upload-id-marker": listing.get("NextUploadIdMarker", ""),
        }
    return found


def abort_stale(bucket: Bucket, folder: str, older_than: float, timeout: float) -> int:
    """Abort the uploads under ``folder/`` started over ``older_than`` seconds ago; how
    many were aborted."""
    stale = stale_uploads(bucket, folder, older_than, timeout)
    for key, upload_id in stale:
        signed_request(bucket, "DELETE", key, {"uploadId": upload_id}, timeout)
    return len(stale)


def sweep_in_background(
    name: str, folder: str, config: Mapping[str, str], endpoint: str, timeout: float
) -> threading.Thread | None:
    """Abort the abandoned uploads of bucket ``name`` under ``folder`` on a thread of its
    own, once per process and folder; the thread, or None when there is nothing to do."""
    bucket = bucket_of(name, config, endpoint)
    with _lock:
        if bucket is None or (bucket.url, folder) in _swept:
            return None
        _swept.add((bucket.url, folder))
    older_than = max(ABANDONED_AFTER, 2 * SETTINGS.lease_seconds)

    def sweep() -> None:
        try:
            aborted = abort_stale(bucket, folder, older_than, timeout)
            log.debug("aborted %d abandoned uploads under %s/%s", aborted, bucket.url, folder)
        except Exception as exc:  # housekeeping: never the user's problem
            log.debug("no sweep of abandoned uploads under %s: %r", folder, exc)

    thread = threading.Thread(target=sweep, name="ipycache-s3-uploads", daemon=True)
    thread.start()
    return thread
