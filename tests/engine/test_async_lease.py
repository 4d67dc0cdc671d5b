"""Async calls share a store with other kernels exactly as sync calls do: one miss
sequence drives both, and only how they wait differs.  Each test holds the store's
lease on a key as another kernel would, then checks that the call waits for it, takes
it for its own run, and gives it back."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ipycache_ext import memo
from ipycache_ext.store import persistent

# A lease as a kernel on another host holds it: never taken for a dead process here.
OTHER_KERNEL = "another-host|1|held-by-the-test"


def _lease_name(fn: Any, *args: Any) -> str:
    engine = fn.__memo__
    tier = persistent.tier(True)
    assert tier is not None
    return tier.entry_key(engine.owner, engine._key(args, {"_lease": ""}).digest)


def _holder(name: str) -> str | None:
    tier = persistent.tier(True)
    assert tier is not None
    return tier.backend.holder(name)


# Each maker gives a memoized ``double`` whose body appends the lease's holder to
# ``seen``, and how to call ``double(2)``; ``_lease`` (the lease's name) is an argument
# the key leaves out, as every argument whose name starts with "_".
Make = Callable[[list[str | None]], tuple[Any, Callable[[str], Any]]]


def _sync_double(seen: list[str | None]) -> tuple[Any, Callable[[str], Any]]:
    @memo(persist=True)
    def double(x: int, _lease: str) -> int:
        seen.append(_holder(_lease))
        return 2 * x

    return double, lambda lease: double(2, _lease=lease)


def _async_double(seen: list[str | None]) -> tuple[Any, Callable[[str], Any]]:
    @memo(persist=True)
    async def double(x: int, _lease: str) -> int:
        seen.append(_holder(_lease))
        await asyncio.sleep(0)
        return 2 * x

    return double, lambda lease: asyncio.run(double(2, _lease=lease))


@pytest.mark.parametrize("make", [_sync_double, _async_double], ids=["sync", "async"])
def test_a_call_waits_for_the_lease_another_kernel_holds_then_holds_it_while_it_runs(
    store: Path, make: Make
) -> None:
    seen: list[str | None] = []  # the lease's holder, read by each run of the body
    fn, call = make(seen)
    name = _lease_name(fn, 2)
    tier = persistent.tier(True)
    assert tier is not None
    assert tier.backend.try_lock(name, OTHER_KERNEL, 60)
    results: list[Any] = []
    caller = threading.Thread(target=lambda: results.append(call(name)))
    caller.start()
    time.sleep(0.5)
    assert seen == [] and caller.is_alive()  # waiting on the other kernel's lease
    tier.backend.unlock(name, OTHER_KERNEL)
    caller.join(30)
    assert results == [4]
    assert len(seen) == 1 and seen[0] not in (None, OTHER_KERNEL)  # its own lease
    assert _holder(name) is None  # given back after the run


@pytest.mark.parametrize("make", [_sync_double, _async_double], ids=["sync", "async"])
def test_a_call_whose_key_another_kernel_stored_loads_it_without_waiting_on_the_lease(
    store: Path, make: Make
) -> None:
    seen: list[str | None] = []
    fn, call = make(seen)
    name = _lease_name(fn, 2)
    call(name)  # stored by "the other kernel", then this kernel forgets it
    fn.cache_clear(store=False)
    seen.clear()
    tier = persistent.tier(True)
    assert tier is not None
    assert tier.backend.try_lock(name, OTHER_KERNEL, 60)
    try:
        assert call(name) == 4  # a stored entry is read, not computed: no lease wait
    finally:
        tier.backend.unlock(name, OTHER_KERNEL)
    assert seen == []
