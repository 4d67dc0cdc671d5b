"""A cell that misses one function many times shows the first few misses and then one
note that sums up the rest (how many, how long, why in short), when the cell ends."""

from __future__ import annotations

import collections
from typing import Any

from conftest import run_cell

from ipycache_ext.ipython.sink import SHOWN

MISS = "[ipycache] cache miss"

DEFINE = """
@memo
def square(i):
    return i * i

@memo
def cube(i):
    return i ** 3
"""


def test_a_loop_of_misses_shows_the_first_few_then_one_summary(ip: Any) -> None:
    run_cell(ip, DEFINE)
    cell = run_cell(ip, "total = sum(square(i) for i in range(50))")
    assert cell.error is None and ip.user_ns["total"] == sum(i * i for i in range(50))
    notes = cell.notes(MISS)
    assert len(notes) == SHOWN + 1
    assert "square(0)" in notes[0] and "(first call)" in notes[0]
    assert "argument i changed (0 -> 1)" in notes[1]
    summary = notes[-1]
    assert f"ran square {50 - SHOWN} more times in " in summary
    assert f"(argument i changed: {50 - SHOWN})" in summary


def test_each_function_of_a_loop_is_summed_up_on_its_own(ip: Any) -> None:
    run_cell(ip, DEFINE)
    cell = run_cell(ip, "for i in range(10):\n    square(i), cube(i)")
    notes = cell.notes(MISS)
    assert len([n for n in notes if "square(" in n]) == SHOWN
    assert len([n for n in notes if "cube(" in n]) == SHOWN
    assert any(f"ran square {10 - SHOWN} more times" in n for n in notes)
    assert any(f"ran cube {10 - SHOWN} more times" in n for n in notes)


def test_the_count_starts_again_in_the_next_cell(ip: Any) -> None:
    run_cell(ip, DEFINE)
    run_cell(ip, "for i in range(10):\n    square(i)")
    cell = run_cell(ip, "square(100)")
    notes = cell.notes(MISS)
    assert len(notes) == 1 and "square(100)" in notes[0] and "more times" not in notes[0]


def test_a_few_misses_need_no_summary(ip: Any) -> None:
    run_cell(ip, DEFINE)
    cell = run_cell(ip, f"for i in range({SHOWN}):\n    square(i)")
    notes = cell.notes(MISS)
    assert len(notes) == SHOWN and not any("more time" in n for n in notes)


def test_the_misses_only_summed_up_build_no_note_of_their_own(ip: Any) -> None:
    run_cell(
        ip,
        "import dataclasses\n"
        "shown = []\n"
        "@dataclasses.dataclass(frozen=True)\n"
        "class Point:\n"
        "    i: int\n"
        "    def __repr__(self):\n"
        "        shown.append(self.i)\n"
        "        return f'Point({self.i})'\n"
        "@memo\n"
        "def norm(p):\n"
        "    return abs(p.i)\n",
    )
    cell = run_cell(ip, "total = sum(norm(Point(i)) for i in range(20))")
    assert cell.error is None and ip.user_ns["total"] == sum(range(20))
    notes = cell.notes(MISS)
    assert len(notes) == SHOWN + 1 and f"ran norm {20 - SHOWN} more times" in notes[-1]
    # Each argument is shown once for the key's record of what it was (so the next
    # miss can say what changed); the notes of the misses summed up never show it.
    reprs = collections.Counter(ip.user_ns["shown"])
    assert all(reprs[i] == 1 for i in range(SHOWN, 20)), reprs
