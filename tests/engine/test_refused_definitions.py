"""What ``@memo`` refuses when a function is decorated, each in one error naming the
fix: options that contradict each other, and generator functions (whose result is
used up when read, like the iterators a function may return: those are not cached,
with one warning)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from conftest import run_cell

from ipycache_ext import MemoOptionError, memo


def test_copy_with_allow_output_mutation_is_an_error_naming_both() -> None:
    with pytest.raises(MemoOptionError, match="copy=True and allow_output_mutation=True") as err:
        memo(copy=True, allow_output_mutation=True)(lambda: [])
    assert "Fix:" in str(err.value)
    assert memo(copy=True)(lambda: [1])() == memo(allow_output_mutation=True)(lambda: [1])()


def test_copy_with_allow_output_mutation_is_refused_before_any_function_is_given() -> None:
    with pytest.raises(MemoOptionError, match="contradict each other"):
        memo(allow_output_mutation=True, copy=True)


def test_memo_clear_with_both_store_and_memory_is_a_one_line_usage_error(ip: Any) -> None:
    cell = run_cell(ip, "%memo_clear --store --memory")
    assert type(cell.error).__name__ == "UsageError"
    assert "--store and --memory contradict each other" in str(cell.error)


def test_a_generator_function_is_refused_naming_the_fix() -> None:
    def numbers(n: int) -> Iterator[int]:
        yield from range(n)

    with pytest.raises(MemoOptionError, match="generator function") as err:
        memo(numbers)
    assert "Fix: make " in str(err.value)
    assert "numbers return a list (return list(...))" in str(err.value)


def test_an_async_generator_function_is_refused_naming_the_fix() -> None:
    async def numbers(n: int) -> AsyncIterator[int]:
        for i in range(n):
            yield i

    with pytest.raises(MemoOptionError, match="returns an async generator") as err:
        memo(numbers)
    assert "Fix:" in str(err.value)
