"""An S3 store that never blocks, never lies and owns only what it wrote: a black-holed
or slow endpoint, planted and dead leases, an old entry put back, a bucket shared with
other data, several kernels writing to one bound, and a password in the URL
(SeaweedFS on 127.0.0.1, with a black-holing listener and a delaying proxy)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import obstore
import pytest
from conftest import Notes, Tally
from obstore.store import S3Store
from persist_support import forget_memory, persisted_double, store_env, warnings
from s3_support import ACCESS_KEY, BUCKET, SECRET_KEY, BlackHole, DelayingProxy, S3Server

from ipycache_ext import memo
from ipycache_ext.config import SETTINGS
from ipycache_ext.store import persistent as persist
from ipycache_ext.store.backends.holders import new_token
from ipycache_ext.store.backends.s3 import LOCKS, NAMESPACE, S3Backend

TIMEOUT = 0.5  # store_timeout of these tests: every wait is a few of these


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    running = S3Server(tmp_path_factory.mktemp("seaweedfs"))
    running.start()
    running.create_bucket()
    yield running
    running.stop()


@pytest.fixture
def prefix(request: pytest.FixtureRequest) -> str:
    name = request.node.name
    return f"{name[:50]}-{zlib.crc32(name.encode()):08x}"  # parametrized ones apart


@pytest.fixture
def s3_store(server: S3Server, prefix: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """This process persists to ``s3://team-bucket/<test name>`` with a team key, and
    gives up on a request after ``TIMEOUT`` seconds without an answer."""
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    persist.close()
    SETTINGS.store = server.url(prefix)
    SETTINGS.secret_key = "the team key of the S3 tests, long enough"
    SETTINGS.store_timeout = TIMEOUT
    yield SETTINGS.store
    persist.close()


def client(server: S3Server, prefix: str = "") -> S3Store:
    """A plain client on ``prefix`` of the bucket, to look at the objects directly."""
    return S3Store(
        BUCKET,
        prefix=prefix or None,
        config={"endpoint": server.endpoint, "access_key_id": ACCESS_KEY,
                "secret_access_key": SECRET_KEY, "region": "us-east-1"},
        client_options={"allow_http": True},
    )  # fmt: skip


def paths(store: S3Store) -> list[str]:
    return sorted(m["path"] for m in obstore.list(store).collect())


def backend() -> Any:
    opened = persist.tier()
    assert opened is not None
    return opened.backend


def within(seconds: float, call: Callable[[], Any]) -> Any:
    """``call()``'s result, asserting it returned within ``seconds`` (run on a thread,
    so a call that hangs fails the test instead of stalling it)."""
    done: list[Any] = []
    worker = threading.Thread(target=lambda: done.append(call()), daemon=True)
    start = time.monotonic()
    worker.start()
    worker.join(seconds)
    assert done, f"still waiting after {seconds} s"
    return done[0], time.monotonic() - start


# ----- bounded waits --------------------------------------------------------------------------


def test_a_miss_against_a_black_holed_endpoint_returns_within_three_timeouts(
    s3_store: str, notes: Notes, tally: Tally
) -> None:
    hole = BlackHole()
    SETTINGS.s3_endpoint = hole.endpoint
    double = persisted_double(tally)
    try:
        value, took = within(10, lambda: double(1))
        assert value == 2 and took < 3 * TIMEOUT + 0.5
        # The failed store is left alone: the next miss does not wait at all.
        value, took = within(10, lambda: double(2))
        assert value == 4 and took < TIMEOUT
    finally:
        hole.close()
    assert tally.runs == [1, 2]
    assert len(warnings(notes)) == 1 and s3_store in warnings(notes)[0]


def test_a_hit_against_a_slow_endpoint_computes_locally_within_three_timeouts(
    s3_store: str, notes: Notes, tally: Tally, server: S3Server
) -> None:
    double = persisted_double(tally)
    double(3)  # stored in the bucket
    forget_memory()
    proxy = DelayingProxy(server.endpoint, delay=4 * TIMEOUT)
    SETTINGS.s3_endpoint = proxy.endpoint  # a new setting: the store is opened again
    try:
        value, took = within(10, lambda: double(3))
    finally:
        proxy.close()
    assert value == 6 and took < 3 * TIMEOUT + 0.5
    assert tally.runs == [3, 3]
    assert len(warnings(notes)) == 1


def test_tiered_store_keeps_new_results_locally_while_the_bucket_is_down(
    s3_store: str, notes: Notes, tally: Tally, tmp_path: Path
) -> None:
    hole = BlackHole()
    SETTINGS.s3_endpoint = hole.endpoint
    SETTINGS.store = f"{tmp_path / 'local'}|{s3_store}"
    double = persisted_double(tally)
    try:
        assert within(10, lambda: double(6))[0] == 12
        forget_memory()
        value, took = within(10, lambda: double(6))
    finally:
        hole.close()
    assert value == 12 and took < TIMEOUT
    assert tally.runs == [6]  # the second call hit the local directory
    [warning] = warnings(notes)
    assert s3_store in warning and str(tmp_path / "local") in warning


SLOW = 1.0  # store_timeout of the slow-server tests: the server answers just under it


@pytest.fixture
def slow_server(s3_store: str, server: S3Server) -> Iterator[DelayingProxy]:
    """The bucket behind a proxy that holds each answer 0.9 x ``store_timeout``: no
    single request times out, so only a bound on the whole call stops the waits."""
    SETTINGS.store_timeout = SLOW
    proxy = DelayingProxy(server.endpoint, delay=0.9 * SLOW)
    SETTINGS.s3_endpoint = proxy.endpoint
    yield proxy
    proxy.close()


def untouched_after(proxy: DelayingProxy, call: Callable[[], Any]) -> Any:
    """``call()``'s result, asserting it sent the server nothing at all."""
    before = proxy.requests
    value, took = within(10, call)
    assert proxy.requests == before, "the call touched the server"
    return value, took


BOUND = 3.5 * SLOW + 1  # about three timeouts per call, with a margin for two loaded cores


def test_a_miss_against_a_server_answering_just_under_the_timeout_returns_within_three_timeouts(
    slow_server: DelayingProxy, notes: Notes, tally: Tally
) -> None:
    double = persisted_double(tally)
    value, took = within(30, lambda: double(7))
    assert value == 14 and took <= BOUND
    # The store that ran out of time is left alone: the next miss sends it nothing.
    value, took = untouched_after(slow_server, lambda: double(8))
    assert value == 16 and took < SLOW
    assert tally.runs == [7, 8]
    assert len(warnings(notes)) == 1


def test_an_async_miss_against_a_server_answering_just_under_the_timeout_returns_in_three(
    slow_server: DelayingProxy, notes: Notes, tally: Tally
) -> None:
    @memo(persist=True)
    async def halve(x: int) -> float:
        tally(x)
        return x / 2

    value, took = within(30, lambda: asyncio.run(halve(7)))
    assert value == 3.5 and took <= BOUND
    value, took = untouched_after(slow_server, lambda: asyncio.run(halve(8)))
    assert value == 4 and took < SLOW
    assert tally.runs == [7, 8]
    assert len(warnings(notes)) == 1


def test_a_big_hit_from_a_server_answering_just_under_the_timeout_computes_locally_in_three(
    s3_store: str, server: S3Server, notes: Notes, tally: Tally
) -> None:
    @memo(persist=True)
    def block(n: int) -> np.ndarray:
        tally(n)
        return np.full(n, 7, dtype=np.uint8)

    block(20 << 20)  # stored in the bucket: read as its first 8 MB, then ranges
    forget_memory()
    SETTINGS.store_timeout = SLOW
    proxy = DelayingProxy(server.endpoint, delay=0.9 * SLOW)
    SETTINGS.s3_endpoint = proxy.endpoint  # a new setting: the store is opened again
    try:
        found, took = within(60, lambda: block(20 << 20))
    finally:
        proxy.close()
    assert found.nbytes == 20 << 20 and took <= BOUND
    assert tally.runs == [20 << 20, 20 << 20]
    assert len(warnings(notes)) == 1


def test_a_tiered_miss_against_a_slow_bucket_returns_within_three_timeouts_and_stays_local(
    slow_server: DelayingProxy, notes: Notes, tally: Tally, tmp_path: Path
) -> None:
    SETTINGS.store = f"{tmp_path / 'local'}|{SETTINGS.store}"
    double = persisted_double(tally)
    value, took = within(30, lambda: double(9))
    assert value == 18 and took <= BOUND
    forget_memory()
    # The local directory kept it, and serves it without asking the bucket.
    value, _ = untouched_after(slow_server, lambda: double(9))
    assert value == 18 and tally.runs == [9]
    value, took = untouched_after(slow_server, lambda: double(10))  # a miss: bucket left alone
    assert value == 20 and took < SLOW
    [warning] = warnings(notes)
    assert str(tmp_path / "local") in warning


# ----- leases ---------------------------------------------------------------------------------


def plant_lease(server: S3Server, prefix: str, token: str, expires: float) -> None:
    body = json.dumps({"token": token, "expires": expires}).encode()
    obstore.put(client(server, f"{prefix}/{NAMESPACE}"), LOCKS + "k", body)


def test_a_planted_lease_with_a_far_future_expiry_holds_one_lifetime_at_most(
    s3_store: str, server: S3Server, prefix: str
) -> None:
    SETTINGS.lease_seconds = 1.0
    plant_lease(server, prefix, "another-host|123|abc", time.time() + 1e6)
    assert not backend().try_lock("k", "mine", 60)  # first seen now: honoured for now
    time.sleep(1.1)
    assert backend().holder("k") is None
    assert backend().try_lock("k", "mine", 60)


def test_a_lease_from_a_clock_running_ahead_holds_one_lifetime_at_most(
    s3_store: str, server: S3Server, prefix: str
) -> None:
    SETTINGS.lease_seconds = 1.0
    plant_lease(server, prefix, new_token(), time.time() + 3600)  # a live holder, clock ahead
    assert not backend().try_lock("k", "mine", 60)
    time.sleep(1.1)
    assert backend().try_lock("k", "mine", 60)


def test_a_renewed_lease_is_honoured_past_one_lifetime(s3_store: str) -> None:
    SETTINGS.lease_seconds = 1.0
    holder = S3Backend(s3_store, timeout=TIMEOUT)  # another kernel's client
    assert holder.try_lock("k", "theirs", 1.0)
    assert not backend().try_lock("k", "mine", 60)
    time.sleep(0.7)
    holder.renew("k", "theirs", 1.0)  # a new version of the lease: seen anew
    time.sleep(0.5)
    assert not backend().try_lock("k", "mine", 60)
    assert backend().holder("k") == "theirs"


def dead_pid() -> int:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
    return int(finished.stdout)


def test_a_lease_whose_holder_died_on_this_host_is_taken_over_at_once(
    s3_store: str, server: S3Server, prefix: str
) -> None:
    space = new_token().split("|")[0]
    plant_lease(server, prefix, f"{space}|{dead_pid()}|abc", time.time() + 600)
    assert backend().holder("k") is None
    assert backend().try_lock("k", "mine", 60)


# ----- signed freshness -----------------------------------------------------------------------


@pytest.mark.parametrize("metadata", [{}, {"ipycache-expires": f"{time.time() + 1e6:.3f}"}])
def test_an_expired_entry_put_back_is_not_returned_whatever_its_metadata(
    s3_store: str, tally: Tally, metadata: dict[str, str]
) -> None:
    @memo(persist=True, ttl=1)
    def double(x: int) -> int:
        tally(x)
        return 2 * x

    double(4)
    store = backend()._store
    [name] = backend().keys()
    stored = bytes(obstore.get(store, name).bytes())
    time.sleep(1.2)
    obstore.put(store, name, stored, attributes=metadata)  # the old entry, put back
    forget_memory()
    assert double(4) == 8
    assert tally.runs == [4, 4]


# ----- what the store owns --------------------------------------------------------------------


@pytest.fixture
def root_store(server: S3Server, s3_store: str) -> Iterator[S3Store]:
    """The store at the root of a bucket holding other data: ``data/report.csv``, and
    an object in the store's own folder named as an entry but holding no entry."""
    if "root-bucket" not in server.buckets:
        server.create_bucket("root-bucket")
    SETTINGS.store = "s3://root-bucket"
    root = S3Store(
        "root-bucket",
        config={"endpoint": server.endpoint, "access_key_id": ACCESS_KEY,
                "secret_access_key": SECRET_KEY, "region": "us-east-1"},
        client_options={"allow_http": True},
    )  # fmt: skip
    obstore.put(root, "data/report.csv", b"a,b\n1,2\n")
    obstore.put(root, f"{NAMESPACE}/v2-{'0' * 32}", b"a colleague's file")
    yield root
    obstore.delete(root, paths(root))


OTHER_DATA = ["data/report.csv", f"{NAMESPACE}/v2-{'0' * 32}"]


def test_eviction_at_a_bucket_root_leaves_other_data(root_store: S3Store, tally: Tally) -> None:
    SETTINGS.max_disk_bytes = 1_500_000

    @memo(persist=True)
    def block(i: int) -> np.ndarray:
        tally(i)
        return np.full(125_000, i, dtype=np.float64)  # 1 MB

    for i in range(3):
        block(i)
        backend().settle(30)
    assert set(OTHER_DATA) <= set(paths(root_store))
    assert len(backend().keys()) == 2  # one entry, and the colleague's file


def test_memo_clear_store_at_a_bucket_root_leaves_other_data(
    root_store: S3Store, tally: Tally, ip: Any
) -> None:
    ip.run_line_magic("config", 'MemoMagics.store = "s3://root-bucket"')
    double = persisted_double(tally)
    double(1)
    assert len(backend().keys()) == 2  # the entry, and the colleague's file
    ip.run_line_magic("memo_clear", "--store")
    assert paths(root_store) == OTHER_DATA


BOUND_WRITER = """
import os
import sys
import time
import numpy as np
from ipycache_ext import memo
from ipycache_ext.config import SETTINGS

SETTINGS.max_disk_bytes = 6_500_000

@memo(persist=True)
def block(i):
    return np.full(125_000, i, dtype=np.float64)  # 1 MB

open(f"{sys.argv[2]}-ready-{sys.argv[1]}", "w").close()
while not os.path.exists(sys.argv[2]):  # the writers start together
    time.sleep(0.01)
for i in range(3):
    block(int(sys.argv[1]) * 10 + i)
"""


def test_several_kernels_writing_keep_the_bound_within_one_entry(
    s3_store: str, server: S3Server, prefix: str, tmp_path: Path
) -> None:
    env = store_env(s3_store, tmp_path / "unused.key") | server.env()
    env["IPYCACHE_SECRET"] = SETTINGS.secret_key or ""
    script, go = tmp_path / "writer.py", tmp_path / "go"
    script.write_text(BOUND_WRITER)
    writers = [
        subprocess.Popen([sys.executable, str(script), str(n), str(go)], env=env, cwd=tmp_path)
        for n in range(3)
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("go-ready-*"))) < 3:  # all imported, waiting
        assert time.monotonic() < deadline
        time.sleep(0.05)
    go.touch()
    assert all(w.wait(120) == 0 for w in writers)  # 9 MB written to a 6.5 MB bound
    store = client(server, f"{prefix}/{NAMESPACE}")
    total = sum(m["size"] for m in obstore.list(store).collect() if m["path"].startswith("v2-"))
    assert total <= 6_500_000 + 1_000_200


EXIT_WRITER = """
import numpy as np
from ipycache_ext import memo
from ipycache_ext.config import SETTINGS

SETTINGS.max_disk_bytes = 2_500_000
SETTINGS.store_timeout = 5.0  # the held listing (1 s) is slow, not failed

@memo(persist=True)
def block(i):
    return np.full(125_000, i, dtype=np.float64)  # 1 MB

for i in range(3):
    block(i)
# The process ends here, while the eviction after the last write still lists the prefix.
"""


def test_an_eviction_under_way_as_the_kernel_exits_still_keeps_the_bound(
    s3_store: str, server: S3Server, prefix: str, tmp_path: Path
) -> None:
    """At exit no thread may start and thread pools take no more work; the eviction
    after the last write must still finish (it used to fail there, leaving 3 MB)."""
    # The listing after the last write outlasts the process (its other requests do not).
    proxy = DelayingProxy(server.endpoint, delay=0.0, listing=1.0)
    env = store_env(s3_store, tmp_path / "unused.key") | server.env()
    env["IPYCACHE_SECRET"] = SETTINGS.secret_key or ""
    env["AWS_ENDPOINT_URL"] = proxy.endpoint
    script = tmp_path / "writer.py"
    script.write_text(EXIT_WRITER)
    try:
        done = subprocess.run([sys.executable, str(script)], env=env, cwd=tmp_path,
                              timeout=120, capture_output=True, text=True)  # fmt: skip
    finally:
        proxy.close()
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr
    store = client(server, f"{prefix}/{NAMESPACE}")
    sizes = [m["size"] for m in obstore.list(store).collect() if m["path"].startswith("v2-")]
    assert len(sizes) == 2 and sum(sizes) <= 2_500_000


# ----- messages -------------------------------------------------------------------------------


def test_a_password_in_the_store_url_is_used_and_never_shown(
    s3_store: str, notes: Notes, tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    SETTINGS.store = s3_store.replace("s3://", f"s3://{ACCESS_KEY}:{SECRET_KEY}@")
    double = persisted_double(tally)
    double(5)
    forget_memory()
    assert double(5) == 10 and tally.runs == [5]
    shown = [str(note) for note in notes] + [repr(backend()), backend().where]
    assert not any(SECRET_KEY in text for text in shown)
    assert any(f"s3://{ACCESS_KEY}:***@" in text for text in notes.texts("hit"))


def test_a_password_in_the_store_url_is_not_in_the_settings_repr() -> None:
    SETTINGS.store = "s3://AKIDEXAMPLE:wJalrXUtnFEMI-secret@team-bucket/cache"
    shown = repr(SETTINGS)
    assert "wJalrXUtnFEMI-secret" not in shown
    assert "s3://AKIDEXAMPLE:***@team-bucket/cache" in shown
