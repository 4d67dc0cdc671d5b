"""A ``%%memo`` cell run again is not transformed or parsed again: the static IPython
transforms and the analysis of what it reads are remembered per cell text, while the
shell's transformers are the same ones.  What it reads is still looked up each time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import run_cell

CELL = "%%memo\n_runs.append(1)\ntotal = a + b\ntotal\n"


class Counting:
    """A cleanup transform that counts the cells it sees (and changes nothing)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, lines: list[str]) -> list[str]:
        self.seen.append("".join(lines))
        return lines


@pytest.fixture
def counting(ip: Any) -> Iterator[Counting]:
    counter = Counting()
    transforms = ip.input_transformer_manager.cleanup_transforms
    transforms.append(counter)
    yield counter
    transforms.remove(counter)


def body_transforms(counter: Counting) -> int:
    """Transforms of the cell's body alone (IPython transforms the whole cell itself)."""
    return sum(1 for text in counter.seen if text.startswith("_runs.append(1)"))


def test_cell_run_again_is_not_transformed_again(ip: Any, counting: Counting) -> None:
    run_cell(ip, "from conftest import RunLog\n_runs = RunLog()\na, b = 1, 2")
    run_cell(ip, CELL)
    assert body_transforms(counting) == 1
    second = run_cell(ip, CELL)
    assert second.result.result == 3
    assert ip.user_ns["_runs"] == [1]
    assert body_transforms(counting) == 1


def test_cell_run_again_after_a_read_variable_changed_misses(ip: Any, counting: Counting) -> None:
    run_cell(ip, "from conftest import RunLog\n_runs = RunLog()\na, b = 1, 2")
    run_cell(ip, CELL)
    run_cell(ip, "b = 40")
    cell = run_cell(ip, CELL)
    assert cell.result.result == 41
    assert ip.user_ns["_runs"] == [1, 1]
    assert any("b changed (2 -> 40)" in note for note in cell.notes("cache miss"))


def test_new_input_transformer_transforms_the_cell_again(ip: Any) -> None:
    run_cell(ip, "from conftest import RunLog\n_runs = RunLog()\na, b = 1, 2")
    run_cell(ip, CELL)
    counter = Counting()
    ip.input_transformer_manager.cleanup_transforms.append(counter)
    try:
        cell = run_cell(ip, CELL)
    finally:
        ip.input_transformer_manager.cleanup_transforms.remove(counter)
    assert cell.result.result == 3
    assert body_transforms(counter) == 1


def test_one_line_cell_still_gets_the_dynamic_transforms(ip: Any) -> None:
    run_cell(ip, "a = 5")
    first = run_cell(ip, "%%memo\na")
    second = run_cell(ip, "%%memo\na")
    assert first.result.result == second.result.result == 5


def test_cell_of_one_500_term_expression_is_keyed_without_recursion_error(ip: Any) -> None:
    ip.user_ns.update({f"v{i}": i for i in range(500)})
    cell = "%%memo\ntotal = " + " + ".join(f"v{i}" for i in range(500)) + "\ntotal\n"
    first = run_cell(ip, cell)
    assert first.error is None, first.stderr
    assert first.result.result == sum(range(500))
    run_cell(ip, "v499 = 0")
    again = run_cell(ip, cell)
    assert again.result.result == sum(range(499))
    assert any("v499 changed (499 -> 0)" in note for note in again.notes("cache miss"))
