"""A recursive memoized function costs three frames a level (the function @memo hands
back, the lookup, the body), so it recurses a third as deep as plain code; and what
@memo hands back is a plain function carrying the cache's methods."""

from __future__ import annotations

import inspect
import sys
import traceback

from conftest import Tally

from ipycache_ext import memo
from ipycache_ext.memo import MemoizedFunction, engine_of


def test_a_recursive_memoized_function_reaches_a_third_of_the_recursion_limit(
    tally: Tally,
) -> None:
    @memo
    def down(n: int) -> int:
        tally(n)
        return 0 if n == 0 else 1 + down(n - 1)

    # What is left of the limit below this test's own frames (pytest's), less room for
    # the key's own work at the deepest level, at three frames a level.
    used = len(traceback.extract_stack())
    depth = (sys.getrecursionlimit() - used - 60) // 3
    assert down(depth) == depth
    assert len(tally) == depth + 1
    assert down(depth) == depth and len(tally) == depth + 1  # now a hit all the way


def test_what_memo_hands_back_is_a_function_with_the_cache_s_methods() -> None:
    @memo
    def scaled(a: int, b: int = 2, *, c: int = 3) -> int:
        """Scale a."""
        return a * b * c

    assert inspect.isfunction(scaled)
    assert scaled.__name__ == "scaled" and scaled.__doc__ == "Scale a."
    assert scaled.__defaults__ == (2,) and scaled.__kwdefaults__ == {"c": 3}
    assert inspect.signature(scaled) == inspect.signature(scaled.__memo_wrapped__)
    assert list(inspect.signature(scaled).parameters) == ["a", "b", "c"]
    assert scaled(1) == 6 and scaled(1) == 6
    assert scaled.cache_info().hits == 1
    assert scaled.explain(1).would_hit
    assert scaled.clear(1) is True and scaled.cache_info().currsize == 0
    assert isinstance(engine_of(scaled), MemoizedFunction)
    assert memo(scaled).__memo_wrapped__ is scaled.__memo_wrapped__  # not wrapped twice


def test_a_memoized_method_binds_its_instance() -> None:
    class Counter:
        def __init__(self, step: int) -> None:
            self.step = step

        @memo
        def times(self, n: int) -> int:
            return self.step * n

    assert Counter(2).times(5) == 10 and Counter(3).times(5) == 15
