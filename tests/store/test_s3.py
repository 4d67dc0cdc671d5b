"""The persistent tier on a real S3 server (SeaweedFS on 127.0.0.1): entries, leases and
ttl as objects, two kernels sharing a bucket, a server that goes away and comes back,
and a local directory in front of the bucket."""

from __future__ import annotations

import http.server
import json
import pickle
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import obstore
import pytest
from conftest import Notes, Tally
from obstore.store import S3Store
from persist_support import (
    LOADED,
    SQUARE_CELL,
    TOTAL_CELL,
    Kernels,
    WritesMarker,
    forget_memory,
    lines,
    persisted_double,
    result,
    store_env,
    tampered,
    texts,
    warnings,
)
from s3_support import ACCESS_KEY, BUCKET, SECRET_KEY, S3Server

from ipycache_ext import memo
from ipycache_ext.config import SETTINGS
from ipycache_ext.store import persistent as persist
from ipycache_ext.store.backends import s3
from ipycache_ext.store.backends.base import INDEX_PREFIX
from ipycache_ext.store.backends.s3 import LOCKS, NAMESPACE
from ipycache_ext.store.backends.s3_bound import USED
from ipycache_ext.store.backends.s3_errors import refuses_conditional_puts


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One server for the module (it takes seconds to start); each test uses its own
    prefix.  A test that stops it starts it again; this makes sure it runs."""
    running = S3Server(tmp_path_factory.mktemp("seaweedfs"))
    running.start()
    running.create_bucket()
    yield running
    running.stop()


@pytest.fixture
def up(server: S3Server) -> S3Server:
    if server.process is None:
        server.start()
    return server


@pytest.fixture
def prefix(request: pytest.FixtureRequest) -> str:
    return request.node.name[:60]


@pytest.fixture
def s3_store(up: S3Server, prefix: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """This process persists to ``s3://team-bucket/<test name>`` with a team key."""
    for name, value in up.env().items():
        monkeypatch.setenv(name, value)
    persist.close()
    SETTINGS.store = up.url(prefix)
    SETTINGS.secret_key = "the team key of the S3 tests, long enough"
    yield SETTINGS.store
    persist.close()


def bucket(server: S3Server, prefix: str) -> S3Store:
    """A plain client on the store's folder in the test's prefix, to look at the
    objects directly."""
    return S3Store(
        BUCKET,
        prefix=f"{prefix}/{NAMESPACE}",
        config={"endpoint": server.endpoint, "access_key_id": ACCESS_KEY,
                "secret_access_key": SECRET_KEY, "region": "us-east-1"},
        client_options={"allow_http": True},
    )  # fmt: skip


def evicted() -> None:
    """Wait for the eviction that follows this kernel's writes (it runs on a thread)."""
    persist.tier().backend.settle(30)  # type: ignore[union-attr]


def objects(server: S3Server, prefix: str) -> list[str]:
    found = obstore.list(bucket(server, prefix)).collect()
    return sorted(m["path"] for m in found if not m["path"].startswith((INDEX_PREFIX, USED)))


# ----- one process ----------------------------------------------------------------------------


def test_a_result_is_loaded_from_the_bucket_after_memory_is_cleared(
    s3_store: str, notes: Notes, tally: Tally, up: S3Server, prefix: str
) -> None:
    double = persisted_double(tally)

    assert double(21) == 42
    forget_memory()
    assert double(21) == 42
    assert tally.runs == [21]
    assert any(t.endswith(f"double(21) from {s3_store}") for t in notes.texts("hit"))
    assert len(objects(up, prefix)) == 1  # the entry; the lease is gone
    assert warnings(notes) == []


def test_a_big_array_goes_up_in_parts_and_comes_back_whole(
    s3_store: str, notes: Notes, up: S3Server, prefix: str
) -> None:
    @memo(persist=True)
    def ramp(n: int) -> np.ndarray:
        return np.arange(n, dtype=np.float64)

    n = 5_000_000  # 40 MB: five parts up; down, its first 8 MB, then the rest in ranges
    ramp(n)
    [name] = objects(up, prefix)
    assert obstore.head(bucket(up, prefix), name)["e_tag"].rstrip('"').endswith("-5")
    forget_memory()
    loaded = ramp(n)
    assert np.array_equal(loaded, np.arange(n, dtype=np.float64))
    assert loaded.flags.writeable
    assert any(t.startswith(LOADED) for t in notes.texts("hit"))


def _before_the_ranges(monkeypatch: pytest.MonkeyPatch, step: Any) -> None:
    """Run ``step`` once, after a big entry's first range is read and before the rest."""
    real = s3.read_ranges
    pending = [step]

    def read_ranges(*args: Any, **kwargs: Any) -> None:
        if pending:
            pending.pop()()
        real(*args, **kwargs)

    monkeypatch.setattr(s3, "read_ranges", read_ranges)


def test_an_entry_replaced_while_its_ranges_are_read_is_read_whole_from_the_new_one(
    s3_store: str, notes: Notes, up: S3Server, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    @memo(persist=True)
    def ramp(n: int) -> np.ndarray:
        return np.arange(n, dtype=np.float64)

    n = 3_000_000  # 24 MB: its first 8 MB, then ranges
    ramp(n)
    [name] = objects(up, prefix)
    store = bucket(up, prefix)
    stored = bytes(obstore.get(store, name).bytes())
    # The same entry written again in one piece: another object (another ETag).
    _before_the_ranges(monkeypatch, lambda: obstore.put(store, name, stored))
    forget_memory()
    assert np.array_equal(ramp(n), np.arange(n, dtype=np.float64))
    assert any(t.startswith(LOADED) for t in notes.texts("hit"))
    assert warnings(notes) == []


def test_a_big_entry_read_in_many_ranges_each_hashed_as_it_lands_loads_whole(
    s3_store: str, notes: Notes, tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3, "READ_PART", 3 << 20)  # after the first 8 MB, ranges of 3 MB

    @memo(persist=True)
    def ramp(n: int) -> np.ndarray:
        tally(n)
        return np.arange(n, dtype=np.float64)

    n = 3_000_000 + 12_345  # 24 MB: six ranges after the first, the last one ragged
    ramp(n)
    forget_memory()
    assert np.array_equal(ramp(n), np.arange(n, dtype=np.float64))
    assert tally.runs == [n]
    assert any(t.startswith(LOADED) for t in notes.texts("hit"))
    assert warnings(notes) == []


def test_a_byte_changed_in_a_late_range_is_refused_and_recomputed(
    s3_store: str, notes: Notes, tally: Tally, up: S3Server, prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(s3, "READ_PART", 3 << 20)

    @memo(persist=True)
    def ramp(n: int) -> np.ndarray:
        tally(n)
        return np.arange(n, dtype=np.float64)

    n = 3_000_000 + 12_345
    ramp(n)
    [name] = objects(up, prefix)
    store = bucket(up, prefix)
    stored = bytearray(obstore.get(store, name).bytes())
    stored[-1000] ^= 0x01  # inside the last range, past every segment boundary but one
    obstore.put(store, name, bytes(stored))
    forget_memory()
    assert np.array_equal(ramp(n), np.arange(n, dtype=np.float64))
    assert tally.runs == [n, n]
    assert len(warnings(notes)) == 1 and "not unpickled" in warnings(notes)[0]


def test_an_entry_deleted_while_its_ranges_are_read_is_a_miss_not_a_fault(
    s3_store: str, notes: Notes, tally: Tally, up: S3Server, prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    @memo(persist=True)
    def ramp(n: int) -> np.ndarray:
        tally(n)
        return np.arange(n, dtype=np.float64)

    n = 3_000_000
    ramp(n)
    [name] = objects(up, prefix)
    _before_the_ranges(monkeypatch, lambda: obstore.delete(bucket(up, prefix), name))
    forget_memory()
    assert np.array_equal(ramp(n), np.arange(n, dtype=np.float64))
    assert tally.runs == [n, n]
    assert warnings(notes) == []


class _RefusingProxy(http.server.BaseHTTPRequestHandler):
    """A proxy that refuses every request it is asked to forward (as one that blocks
    presigned URLs would), counting them."""

    refused: list[str] = []

    def do_GET(self) -> None:
        self.refused.append(self.path)
        self.send_response(403, "Forbidden by proxy")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_big_entries_are_read_by_the_client_itself_when_presigned_reads_are_refused(
    s3_store: str, notes: Notes, tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    @memo(persist=True)
    def ramp(n: int) -> np.ndarray:
        tally(n)
        return np.arange(n, dtype=np.float64)

    n = 3_000_000  # 24 MB: ranges beyond the first
    ramp(n)
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RefusingProxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    _RefusingProxy.refused = []
    try:
        # Read when each request is made: the presigned reads go through it; the
        # client, made before, does not.
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
        forget_memory()
        assert np.array_equal(ramp(n), np.arange(n, dtype=np.float64))
        tried = len(_RefusingProxy.refused)
        forget_memory()
        assert np.array_equal(ramp(n), np.arange(n, dtype=np.float64))
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert tally.runs == [n] and warnings(notes) == []
    assert tried > 0 and len(_RefusingProxy.refused) == tried  # not tried again


def test_a_tampered_object_is_never_unpickled_and_is_recomputed(
    s3_store: str, notes: Notes, tally: Tally, up: S3Server, prefix: str, tmp_path: Path
) -> None:
    double = persisted_double(tally)

    double(2)
    [name] = objects(up, prefix)
    marker = tmp_path / "marker"
    store = bucket(up, prefix)
    stored = bytes(obstore.get(store, name).bytes())
    obstore.put(store, name, tampered(stored, pickle.dumps(WritesMarker(marker))))
    forget_memory()

    assert double(2) == 4
    assert not marker.exists()
    assert tally.runs == [2, 2]
    assert len(warnings(notes)) == 1 and "not unpickled" in warnings(notes)[0]


def test_an_expired_entry_is_a_miss_and_is_deleted(
    s3_store: str, tally: Tally, up: S3Server, prefix: str
) -> None:
    @memo(persist=True, ttl=0.5)
    def double(x: int) -> int:
        tally(x)
        return 2 * x

    double(3)
    [name] = objects(up, prefix)
    expires = float(obstore.get(bucket(up, prefix), name).attributes["ipycache-expires"])
    assert expires <= time.time() + 0.5
    forget_memory()
    time.sleep(max(0.0, expires - time.time()) + 0.2)
    assert persist.tier().backend.get(name) is None  # type: ignore[union-attr]
    assert objects(up, prefix) == []
    assert double(3) == 6 and tally.runs == [3, 3]


def test_the_prefix_stays_within_its_bound_least_recently_used_out(
    s3_store: str, tally: Tally, up: S3Server, prefix: str
) -> None:
    SETTINGS.max_disk_bytes = 3_500_000

    @memo(persist=True)
    def block(i: int) -> np.ndarray:
        tally(i)
        return np.full(125_000, i, dtype=np.float64)  # 1 MB

    for i in (0, 1, 2):
        block(i)
        time.sleep(1.1)  # the server's LastModified has a resolution of one second
    forget_memory()
    assert block(0)[0] == 0 and len(tally) == 3  # read from the bucket: marked as used
    time.sleep(1.1)
    block(3)  # 4 MB > 3.5 MB: the least recently used entry, block(1), goes
    evicted()
    assert len(objects(up, prefix)) == 3
    forget_memory()
    for i in (0, 2, 3):
        assert block(i)[0] == i
    assert tally.runs == [0, 1, 2, 3]
    block(1)
    assert tally.runs == [0, 1, 2, 3, 1]


def test_an_entry_bigger_than_the_bound_stays_in_memory_with_a_warning(
    s3_store: str, tally: Tally, notes: Notes, up: S3Server, prefix: str
) -> None:
    SETTINGS.max_disk_bytes = 1_000_000

    @memo(persist=True)
    def big() -> np.ndarray:
        tally(1)
        return np.zeros(250_000)  # 2 MB

    big()
    assert objects(up, prefix) == []
    assert any("max_disk_bytes" in text for text in warnings(notes))
    assert big() is big() and len(tally) == 1


def test_a_live_lease_is_refused_and_an_expired_one_is_taken_over(
    s3_store: str, up: S3Server, prefix: str
) -> None:
    backend = persist.tier().backend  # type: ignore[union-attr]
    assert backend.try_lock("k", "first", 60)
    assert not backend.try_lock("k", "second", 60)
    assert backend.holder("k") == "first"
    stale = json.dumps({"token": "first", "expires": time.time() - 1}).encode()
    obstore.put(bucket(up, prefix), LOCKS + "k", stale)
    assert backend.try_lock("k", "second", 60)
    assert backend.holder("k") == "second"
    backend.unlock("k", "first")  # not the holder: nothing happens
    assert backend.holder("k") == "second"
    backend.unlock("k", "second")
    assert objects(up, prefix) == []


# ----- faults ---------------------------------------------------------------------------------


def test_server_stopped_mid_session_warns_once_then_persists_again_when_back(
    s3_store: str, notes: Notes, tally: Tally, up: S3Server, prefix: str
) -> None:
    SETTINGS.store_retry_seconds = 0  # no back-off: the next call tries the server again
    double = persisted_double(tally)

    assert double(1) == 2
    up.stop()
    assert (double(2), double(3)) == (4, 6)
    assert len(warnings(notes)) == 1 and s3_store in warnings(notes)[0]
    assert (double(1), double(2), double(3)) == (2, 4, 6)
    assert tally.runs == [1, 2, 3]
    up.start()
    double(4)
    forget_memory()
    assert double(4) == 8 and double(1) == 2
    assert tally.runs == [1, 2, 3, 4]
    assert len(warnings(notes)) == 1


@pytest.mark.parametrize(
    ("setting", "value", "code"),
    [("AWS_SECRET_ACCESS_KEY", "wrong", "SignatureDoesNotMatch"), ("bucket", "no-such", "")],
)
def test_wrong_credentials_or_a_missing_bucket_warn_once_naming_the_store(
    s3_store: str,
    notes: Notes,
    tally: Tally,
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    value: str,
    code: str,
) -> None:
    if setting == "bucket":
        SETTINGS.store = s3_store.replace(BUCKET, value)
    else:
        monkeypatch.setenv(setting, value)
    persist.close()
    double = persisted_double(tally)

    assert (double(1), double(1), double(2)) == (2, 2, 4)
    assert tally.runs == [1, 2]
    assert len(warnings(notes)) == 1, warnings(notes)
    [warning] = warnings(notes)
    assert SETTINGS.store in warning and code in warning
    assert len(warning) < 1000  # the client's error, worded short


def test_a_lease_refused_for_a_missing_bucket_is_not_taken_for_a_server_without_leases(
    up: S3Server,
) -> None:
    missing = S3Store(
        "no-such-bucket",
        config={"endpoint": up.endpoint, "access_key_id": ACCESS_KEY,
                "secret_access_key": SECRET_KEY, "region": "us-east-1"},
        client_options={"allow_http": True},
    )  # fmt: skip
    with pytest.raises(Exception) as refused:
        obstore.put(missing, LOCKS + "k", b"{}", mode="create")
    assert not refuses_conditional_puts(refused.value)
    # Its text holds the request's timing: a "501" there is not the status.
    assert not refuses_conditional_puts(OSError(f"{refused.value} after 0 retries in 501.3ms"))
    assert refuses_conditional_puts(
        OSError("Server returned non-2xx status code: 501 Not Implemented")
    )


def test_a_server_without_conditional_puts_says_once_that_misses_may_compute_twice(
    s3_store: str, notes: Notes, tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CONDITIONAL_PUT", "disabled")
    persist.close()
    double = persisted_double(tally)

    assert (double(1), double(2)) == (2, 4)
    [warning] = warnings(notes)
    assert "compute it" in warning and s3_store in warning


def test_endpoint_setting_points_at_a_non_aws_server(
    s3_store: str, notes: Notes, tally: Tally, monkeypatch: pytest.MonkeyPatch, up: S3Server
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    SETTINGS.s3_endpoint = up.endpoint
    double = persisted_double(tally)

    double(5)
    forget_memory()
    assert double(5) == 10 and tally.runs == [5]
    assert warnings(notes) == []


# ----- a local directory in front of the bucket ----------------------------------------------


def test_tiered_store_hits_the_local_directory_with_the_server_down(
    s3_store: str, notes: Notes, tally: Tally, up: S3Server, prefix: str, tmp_path: Path
) -> None:
    local = tmp_path / "local"
    SETTINGS.store = f"{local}|{s3_store}"
    double = persisted_double(tally)

    double(6)
    assert len(objects(up, prefix)) == 1  # written through to the bucket
    up.stop()
    forget_memory()
    assert double(6) == 12
    assert tally.runs == [6]
    assert warnings(notes) == []


def test_tiered_store_copies_a_bucket_hit_into_the_local_directory(
    s3_store: str, notes: Notes, tally: Tally, up: S3Server, tmp_path: Path
) -> None:
    double = persisted_double(tally)
    double(7)  # in the bucket only
    forget_memory()
    SETTINGS.store = f"{tmp_path / 'local'}|{s3_store}"

    assert double(7) == 14  # from the bucket, copied into the directory
    up.stop()
    forget_memory()
    assert double(7) == 14
    assert tally.runs == [7]
    assert warnings(notes) == []


# ----- two kernels ----------------------------------------------------------------------------


@pytest.fixture
def kernels(up: S3Server, prefix: str, tmp_path: Path) -> Iterator[Kernels]:
    env = store_env(up.url(prefix), tmp_path / "secret.key") | up.env()
    started = Kernels(tmp_path, env)
    yield started
    started.stop_all()


def test_second_kernel_loads_a_memo_function_result_from_the_bucket(
    kernels: Kernels, up: S3Server, prefix: str, tmp_path: Path
) -> None:
    first, second = kernels.start(), kernels.start()
    computed = first.run(SQUARE_CELL)
    loaded = second.run(SQUARE_CELL)
    assert result(computed) == result(loaded) == "49"
    assert lines(tmp_path / "runs.log") == ["square 7"]
    assert f"{LOADED} square(7) from {up.url(prefix)}" in texts(loaded)


def test_second_kernel_replays_a_memo_persist_cell_from_the_bucket(
    kernels: Kernels, up: S3Server, prefix: str, tmp_path: Path
) -> None:
    first, second = kernels.start(), kernels.start()
    first.run("n = 5")
    first.run(TOTAL_CELL)
    second.run("n = 5")
    replayed = second.run(TOTAL_CELL)
    assert lines(tmp_path / "runs.log") == ["cell"]
    assert "total is 10\n" in texts(replayed) and result(replayed) == "10"
    assert any(t.startswith(LOADED) and up.url(prefix) in t for t in texts(replayed))


# The entry upload of a kernel, held after its first parts went up (the server has a
# multipart upload in progress) until the test kills the kernel: a real kill mid-upload.
HOLD_UPLOAD = """
import pathlib, time
import obstore
from ipycache_ext.store.backends import s3

_real_put = obstore.put

def _held_put(store, key, chunks, **options):
    if not key.startswith("v2-"):
        return _real_put(store, key, chunks, **options)

    def feed():
        sent = 0
        for chunk in chunks:
            yield chunk
            sent += memoryview(chunk).nbytes
            if sent >= 2 * s3.PART:
                pathlib.Path("uploading").write_text("parts sent")
                time.sleep(600)

    return _real_put(store, key, feed(), **options)

obstore.put = _held_put
"""

BIG_CELL = """
import numpy as np

@memo(persist=True)
def big(n):
    with open("runs.log", "a") as log:
        log.write(f"big {n}\\n")
    return np.full(n, 7.0)

float(big(5_000_000).sum())
"""


def test_a_kernel_killed_mid_upload_leaves_nothing_that_reads_as_an_entry(
    kernels: Kernels, up: S3Server, prefix: str, tmp_path: Path
) -> None:
    first = kernels.start()
    first.run(HOLD_UPLOAD)
    first.client.execute(BIG_CELL)
    deadline = time.monotonic() + 120
    while not (tmp_path / "uploading").exists():
        assert time.monotonic() < deadline, "the upload never started"
        time.sleep(0.1)
    time.sleep(1.0)  # let the parts handed over reach the server
    first.manager.signal_kernel(signal.SIGKILL)
    while first.manager.is_alive():
        time.sleep(0.05)
    assert lines(tmp_path / "runs.log") == ["big 5000000"]
    assert [name for name in objects(up, prefix) if name.startswith("v2-")] == []

    second = kernels.start()
    computed = second.run(BIG_CELL)
    assert result(computed) == "35000000.0"
    assert lines(tmp_path / "runs.log") == ["big 5000000"] * 2  # computed again, not loaded
    assert not any("warning" in text for text in texts(computed))
    third = kernels.start()
    loaded = third.run(BIG_CELL)
    assert result(loaded) == "35000000.0" and len(lines(tmp_path / "runs.log")) == 2
    assert any(text.startswith(LOADED) for text in texts(loaded))


# ----- no client library ---------------------------------------------------------------------


def test_s3_store_without_the_client_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, notes: Notes, tally: Tally
) -> None:
    """``None`` in ``sys.modules`` makes ``import obstore`` fail, as on an install
    without the ``[s3]`` extra; the store never opens, so no server is needed."""
    monkeypatch.setitem(sys.modules, "obstore", None)
    monkeypatch.setattr(SETTINGS, "store", "s3://team-bucket/cache")
    persist.close()
    try:
        double = persisted_double(tally)
        assert (double(1), double(1)) == (2, 2)
    finally:
        persist.close()
    [warning] = warnings(notes)
    assert "s3://team-bucket/cache" in warning and "pip install obstore" in warning
    assert 'pip install ".[s3]"' in warning
