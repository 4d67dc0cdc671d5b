"""Two real kernels sharing one directory store: what one computed the other loads,
for ``@memo(persist=True)`` and ``%%memo --persist``; a kernel killed while writing
leaves no entry a new kernel could trust, and the entries before it intact."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from persist_support import (
    KILL_ON_FIRST_WRITE,
    LOADED,
    SQUARE_CELL,
    TOTAL_CELL,
    WARNING,
    Kernels,
    lines,
    result,
    store_env,
    texts,
)


@pytest.fixture
def kernels(tmp_path: Path) -> Iterator[Kernels]:
    """Kernels whose store and key file live under ``tmp_path``, also their cwd."""
    env = store_env(tmp_path / "store", tmp_path / "secret.key")
    del env["IPYCACHE_STORE"]
    env["IPYCACHE_DIR"] = str(tmp_path / "store")
    started = Kernels(tmp_path, env)
    yield started
    started.stop_all()


def test_second_kernel_loads_a_memo_function_result_the_first_computed(
    kernels: Kernels, tmp_path: Path
) -> None:
    first, second = kernels.start(), kernels.start()
    computed = first.run(SQUARE_CELL)
    loaded = second.run(SQUARE_CELL)
    assert result(computed) == result(loaded) == "49"
    assert lines(tmp_path / "runs.log") == ["square 7"]
    assert f"{LOADED} square(7) from {tmp_path / 'store'}" in texts(loaded)


def test_second_kernel_replays_a_memo_persist_cell_the_first_ran(
    kernels: Kernels, tmp_path: Path
) -> None:
    first, second = kernels.start(), kernels.start()
    first.run("n = 5")
    ran = first.run(TOTAL_CELL)
    second.run("n = 5")
    replayed = second.run(TOTAL_CELL)
    assert lines(tmp_path / "runs.log") == ["cell"]
    assert "total is 10\n" in texts(ran) and "total is 10\n" in texts(replayed)
    assert result(ran) == result(replayed) == "10"
    assert any(t.startswith(LOADED) for t in texts(replayed))
    assert result(second.run("total")) == "10"


DEFINITIONS = """
def log(what):
    with open("runs.log", "a") as out:
        out.write(what + "\\n")

@memo(persist=True)
def small(x):
    log(f"small {x}")
    return x

@memo(persist=True)
def big(x):
    log(f"big {x}")
    return b"line of a big result\\n" * 100_000
"""


def test_kernel_killed_mid_write_leaves_no_entry_and_a_new_kernel_recomputes(
    kernels: Kernels, tmp_path: Path
) -> None:
    doomed = kernels.start()
    doomed.run(DEFINITIONS + "small(1)")
    doomed.run_until_dead(KILL_ON_FIRST_WRITE + "big(1)")
    assert lines(tmp_path / "runs.log") == ["small 1", "big 1"]

    fresh = kernels.start()
    fresh.run(DEFINITIONS)
    small = fresh.run("small(1)", timeout=15)
    big = fresh.run("len(big(1))", timeout=15)
    assert result(small) == "1" and any(t.startswith(LOADED) for t in texts(small))
    assert result(big) == "2100000"
    assert lines(tmp_path / "runs.log") == ["small 1", "big 1", "big 1"]
    assert not [t for t in texts(small) + texts(big) if t.startswith(WARNING)]


SLOW_ASYNC_SQUARE = """
import asyncio, os
from pathlib import Path

@memo(persist=True)
async def slow_square(x):
    with open("runs.log", "a") as log:
        log.write(f"{os.getpid()}\\n")
    # Both kernels are inside the call before the first one finishes.
    while len(list(Path(".").glob("calling-*"))) < 2:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)
    return x * x

Path(f"calling-{os.getpid()}").touch()
await slow_square(6)
"""


def test_two_kernels_awaiting_an_async_persisted_function_compute_it_once(
    kernels: Kernels, tmp_path: Path
) -> None:
    started = [kernels.start(), kernels.start()]
    with ThreadPoolExecutor(2) as pool:
        outputs = list(pool.map(lambda k: k.run(SLOW_ASYNC_SQUARE), started))
    assert [result(out) for out in outputs] == ["36", "36"]
    assert len(lines(tmp_path / "runs.log")) == 1
    assert sum(any(t.startswith(LOADED) for t in texts(out)) for out in outputs) == 1
    assert not [t for out in outputs for t in texts(out) if t.startswith(WARNING)]
