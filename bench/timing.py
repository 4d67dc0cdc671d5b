"""Timing helpers shared by the benchmark sections: medians, contenders timed in turns.

Every number is a median of repeated timed runs after a warm-up, with the garbage
collector off while timing.  The contenders of one row are timed in turns (round
robin), so a burst of load from other processes on the machine hits all of them alike
instead of skewing one.  A call's result is kept until its clock has stopped, so
freeing a big result is not charged to the call that returned it.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

QUICK = "--quick" in sys.argv
BENCH_KEY = "the benchmark's team key, 32 bytes or more"


def quietly(step: Callable[[], Any]) -> Any:
    """Run ``step`` without its notes (a clear between sections says what it removed)."""
    from ipycache_ext import notify

    notify.set_sink(lambda note: None)
    try:
        return step()
    finally:
        notify.set_sink(None)


def race(
    contenders: dict[str, Callable[[], Any]],
    budget: float = 6.0,
    max_rounds: int = 15,
    before: dict[str, Callable[[], Any]] | None = None,
) -> dict[str, float]:
    """Median seconds per call of each contender, timed in turns.

    After a warm-up call each, rounds are run until ``budget`` seconds would be spent
    (at least 3, at most ``max_rounds``).  Within a round a fast contender is called
    several times, each call timed on its own, so it gets more samples than a slow one.
    ``before[name]``, if given, runs untimed before each call of that contender (to put
    a cache in the state the call should find it in).
    """
    if QUICK:
        budget, max_rounds = budget / 4, 5
    before = before or {}

    def timed(name: str) -> float:
        if name in before:
            before[name]()
        fn = contenders[name]
        start = time.perf_counter()
        kept = fn()
        seconds = time.perf_counter() - start
        del kept
        return seconds

    first = {}
    for name in contenders:
        timed(name)
        first[name] = timed(name)
    rounds = max(3, min(max_rounds, int(budget / max(sum(first.values()), 1e-9))))
    inner = {name: max(1, min(5, int(0.02 / max(t, 1e-9)))) for name, t in first.items()}
    samples: dict[str, list[float]] = {name: [first[name]] for name in contenders}
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            for name in contenders:
                for _ in range(inner[name]):
                    samples[name].append(timed(name))
    finally:
        gc.enable()
    return {name: statistics.median(times) for name, times in samples.items()}


def race_per_call(
    contenders: dict[str, tuple[Callable[[], Any], int]], rounds: int = 25
) -> dict[str, float]:
    """Median over rounds of the time per call, each round a batch of calls per contender."""
    if QUICK:
        rounds = 7
    for fn, calls in contenders.values():
        for _ in range(calls // 10):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            for name, (fn, calls) in contenders.items():
                start = time.perf_counter()
                for _ in range(calls):
                    fn()
                samples[name].append((time.perf_counter() - start) / calls)
    finally:
        gc.enable()
    return {name: statistics.median(times) for name, times in samples.items()}
