"""Multipart uploads a killed kernel left unfinished in an S3 store's folder are aborted
(SeaweedFS on 127.0.0.1): its own, once old enough; never another prefix's, never one
a live kernel may still be sending."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator

import pytest
from s3_support import BUCKET, S3Server

from ipycache_ext.config import SETTINGS
from ipycache_ext.store.backends import s3_uploads
from ipycache_ext.store.backends.s3 import NAMESPACE, S3Backend
from ipycache_ext.store.backends.s3_uploads import Bucket, abort_stale, bucket_of, signed_request

ENTRY = "v2-" + "0" * 32


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    running = S3Server(tmp_path_factory.mktemp("seaweedfs"))
    running.start()
    running.create_bucket()
    yield running
    running.stop()


@pytest.fixture
def bucket(server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Bucket:
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    found = bucket_of(BUCKET, {}, server.endpoint)
    assert found is not None
    return found


def start_upload(bucket: Bucket, key: str) -> str:
    """A multipart upload of ``key`` started and left unfinished, as by a killed kernel."""
    body, _ = signed_request(bucket, "POST", key, {"uploads": ""}, 10)
    return next(n.text or "" for n in ElementTree.fromstring(body) if n.tag.endswith("UploadId"))


def uploads(bucket: Bucket) -> set[str]:
    """The keys of the bucket's unfinished multipart uploads."""
    body, _ = signed_request(bucket, "GET", "", {"uploads": ""}, 10)
    return {
        key.text or ""
        for node in ElementTree.fromstring(body)
        if node.tag.endswith("Upload")
        for key in node
        if key.tag.endswith("Key")
    }


def test_an_old_unfinished_upload_in_the_folder_is_aborted_and_another_prefixs_stays(
    bucket: Bucket,
) -> None:
    ours, theirs = f"old/{NAMESPACE}/{ENTRY}", f"elsewhere/{NAMESPACE}/{ENTRY}"
    start_upload(bucket, ours)
    start_upload(bucket, theirs)
    assert {ours, theirs} <= uploads(bucket)

    assert abort_stale(bucket, f"old/{NAMESPACE}", older_than=0, timeout=10) == 1

    found = uploads(bucket)
    assert ours not in found
    assert theirs in found


def test_a_recent_upload_a_live_kernel_may_still_be_sending_is_left_alone(
    bucket: Bucket,
) -> None:
    ours = f"recent/{NAMESPACE}/{ENTRY}"
    start_upload(bucket, ours)

    assert abort_stale(bucket, f"recent/{NAMESPACE}", s3_uploads.ABANDONED_AFTER, 10) == 0
    assert ours in uploads(bucket)


def test_opening_the_store_aborts_its_folders_abandoned_uploads_in_the_background(
    server: S3Server, bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, theirs = f"opened/{NAMESPACE}/{ENTRY}", f"opened-not/{NAMESPACE}/{ENTRY}"
    start_upload(bucket, ours)
    start_upload(bucket, theirs)
    monkeypatch.setattr(s3_uploads, "ABANDONED_AFTER", 0.0)
    SETTINGS.lease_seconds = 0.0

    store = S3Backend(server.url("opened"), timeout=5)
    assert store.sweep is not None
    store.sweep.join(30)

    found = uploads(bucket)
    assert ours not in found
    assert theirs in found
    assert S3Backend(server.url("opened"), timeout=5).sweep is None  # once per process
    store.close()


def test_a_server_that_cannot_be_reached_costs_the_sweep_one_debug_line_and_no_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=s3_uploads.__name__)
    thread = s3_uploads.sweep_in_background(
        BUCKET, f"unreachable/{NAMESPACE}", {"access_key_id": "x", "secret_access_key": "y"},
        "http://127.0.0.1:9", 1.0,
    )  # fmt: skip
    assert thread is not None
    thread.join(30)

    assert not thread.is_alive()
    ours = [r for r in caplog.records if r.name == s3_uploads.__name__]
    assert [r.levelno for r in ours] == [logging.DEBUG]
    assert "unreachable" in ours[0].getMessage()
