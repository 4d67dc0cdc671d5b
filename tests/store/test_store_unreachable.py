"""A persistent store that stops answering (a real Redis server, stopped): its fault is
said once until it answers again, whatever cells and settings come in between; a clear
says that the persisted entries were not removed; ``%memo_info --store`` is one line.
Real InteractiveShell, real Redis (valkey) server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Cell, Notes, Tally, run_cell
from persist_support import persisted_double, warnings
from redis_support import RedisServer

from ipycache_ext.config import SETTINGS

WARNING = "[ipycache] warning"


def warned(cells: list[Cell]) -> list[str]:
    return [text for cell in cells for text in cell.notes(WARNING)]


@pytest.fixture
def shell_on_redis(ip: Any, server: RedisServer) -> Iterator[Any]:
    """The shell persisting to ``server``, with ``double`` computed once for 1."""
    for line in (
        f"%config MemoMagics.store = {server.url!r}",
        "%config MemoMagics.secret_key = 'team key ' * 4",
        "%config MemoMagics.persist = True",
        "%config MemoMagics.store_retry_seconds = 0",  # every call tries the store again
    ):
        assert run_cell(ip, line).error is None
    run_cell(ip, "@memo\ndef double(x):\n    return 2 * x\n")
    assert run_cell(ip, "double(1)").result.result == 2
    yield ip


def test_a_dead_redis_warns_in_the_first_cell_only_though_a_setting_changes(
    shell_on_redis: Any, server: RedisServer
) -> None:
    server.stop()
    cells = [
        run_cell(shell_on_redis, "double(2)"),
        run_cell(shell_on_redis, "%config MemoMagics.store_timeout = 1.0"),
        run_cell(shell_on_redis, "double(3)"),
        run_cell(shell_on_redis, "double(4)"),
    ]
    assert [c.result.result for c in cells] == [4, None, 6, 8]
    [warning] = warned(cells)
    assert server.url in warning and "Fix" in warning


def test_a_redis_that_answered_again_and_dies_again_warns_again(
    redis_store: RedisServer, notes: Notes, tally: Tally
) -> None:
    SETTINGS.store_retry_seconds = 0
    double = persisted_double(tally)

    double(1)
    redis_store.stop()
    double(2)
    redis_store.start()
    double(3)
    redis_store.stop()
    double(4)
    assert tally.runs == [1, 2, 3, 4]
    assert len(warnings(notes)) == 2


@pytest.mark.parametrize(
    "clear",
    [
        "%memo_clear",
        "%memo_clear double",
        "%memo_clear double(1)",
        "%memo_clear --store",
        "memo.clear()",
        "double.cache_clear()",
    ],
)
def test_a_clear_on_a_dead_redis_says_the_persisted_entries_were_not_removed(
    shell_on_redis: Any, server: RedisServer, clear: str
) -> None:
    server.stop()
    cleared = run_cell(shell_on_redis, clear)
    assert cleared.error is None
    [warning] = warned([cleared])
    assert "could not reach the persistent cache at" in warning
    assert "were not removed" in warning and "Fix:" in warning


def test_after_a_clear_said_the_store_is_dead_the_next_call_does_not_say_it_again(
    shell_on_redis: Any, server: RedisServer
) -> None:
    server.stop()
    cells = [run_cell(shell_on_redis, "%memo_clear"), run_cell(shell_on_redis, "double(5)")]
    assert len(warned(cells)) == 1


@pytest.mark.parametrize(
    ("line", "magic"),
    [
        ("%memo_info --store", "memo_info"),
        ("%memo_clear --store double", "memo_clear"),
        ("%memo_clear only_stored", "memo_clear"),  # not in memory: the store is asked
    ],
)
def test_listing_a_dead_redis_is_one_line_naming_the_store(
    shell_on_redis: Any, server: RedisServer, line: str, magic: str
) -> None:
    server.stop()
    cell = run_cell(shell_on_redis, line)
    assert type(cell.error).__name__ == "UsageError"
    message = str(cell.error)
    assert message.startswith(f"%{magic}: could not reach the persistent cache at {server.url}")
    assert "\n" not in message and "Fix:" in message
    assert "Traceback" not in cell.stdout + cell.stderr
