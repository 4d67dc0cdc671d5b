"""Every hit is counted once, whatever path it takes in the store (plain entries, ttl,
max_entries, entries big enough for the memory budget, entries that read files,
functions with validate)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ipycache_ext import memo


def _hits_after_three_calls(fn: Any, *args: Any) -> tuple[int, int]:
    for _ in range(3):
        fn(*args)
    info = fn.cache_info()
    return info.hits, info.misses


@pytest.mark.parametrize(
    "options",
    [{}, {"ttl": 60}, {"max_entries": 4}, {"validate": lambda value: True}],
    ids=["plain", "ttl", "max_entries", "validate"],
)
def test_small_results_count_two_hits_after_one_miss(options: dict[str, Any]) -> None:
    @memo(**options)
    def double(x: int) -> int:
        return 2 * x

    assert _hits_after_three_calls(double, 4) == (2, 1)


def test_a_result_counted_against_the_memory_budget_counts_its_hits() -> None:
    @memo
    def big(n: int) -> np.ndarray:
        return np.zeros(n)

    assert _hits_after_three_calls(big, 100_000) == (2, 1)


def test_a_result_that_read_a_file_counts_its_hits_once(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_text("x")

    @memo
    def read(p: str) -> str:
        with open(p) as fh:
            return fh.read()

    assert _hits_after_three_calls(read, str(path)) == (2, 1)
