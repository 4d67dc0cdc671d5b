"""What ``@memo`` refuses when a function is decorated, each in one error naming the
fix: options that contradict each other, and generator functions (whose result is
used up when read, like the iterators a function may return: those are not cached,
with one warning)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from conftest import Notes, Tally, run_cell

from ipycache_ext import MemoOptionError, memo


def test_copy_with_allow_output_mutation_is_an_error_naming_both() -> None:
    with pytest.raises(MemoOptionError, match="copy=True and allow_output_mutation=True") as err:
        memo(copy=True, allow_output_mutation=True)(lambda: [])
    assert "Fix:" in str(err.value)


def test_copy_with_allow_output_mutation_is_refused_before_any_function_is_given() -> None:
    with pytest.raises(MemoOptionError, match="contradict each other"):
        memo(allow_output_mutation=True, copy=True)


@pytest.mark.parametrize(
    "options", [{"copy": True}, {"allow_output_mutation": True}, {"copy": False}]
)
def test_copy_or_allow_output_mutation_alone_is_accepted(options: dict[str, Any]) -> None:
    assert memo(**options)(lambda: [1])() == [1]


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


def test_a_function_returning_a_generator_runs_each_time_with_one_warning_naming_the_fix(
    tally: Tally, notes: Notes
) -> None:
    @memo
    def numbers(n: int) -> Iterator[int]:
        tally(n)
        return (i for i in range(n))

    assert (list(numbers(3)), list(numbers(3))) == ([0, 1, 2], [0, 1, 2])
    assert tally.runs == [3, 3]
    [warning] = notes.texts("warning")
    assert "is not cached" in warning and "Fix: return a list (return list(...))" in warning
