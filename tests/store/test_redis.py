"""The persistent tier on a real Redis server: two kernels share it, ``ttl`` becomes
a key expiry, and a server that goes away (and comes back) costs one warning, never a
value."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
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
    warnings,
)
from redis_support import RedisServer

from ipycache_ext import memo
from ipycache_ext.config import SETTINGS
from ipycache_ext.store import persistent as persist


def entry_keys(server: RedisServer) -> list[bytes]:
    with server.client() as client:
        found = client.keys("ipycache:*")
        return [k for k in found if b":lock:" not in k and b":idx-" not in k]


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
    assert url in warning and "pip install redis" in warning
    assert 'pip install ".[redis]"' in warning


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
