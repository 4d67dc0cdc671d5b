"""A value whose hash changes though nothing changed it (a counter or an id in its
pickled state) would make every call miss, blaming the value: the miss says once,
naming it and the fix; a value really changed in place gets no such warning."""

from __future__ import annotations

import itertools
from typing import Any

from conftest import Notes, Tally, define, run_cell

from ipycache_ext import memo

_ticks = itertools.count()


class Ticking:
    """Its pickled state holds a fresh number each time it is pickled."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __getstate__(self) -> dict[str, Any]:
        return {"size": self.size, "tick": next(_ticks)}


def _warnings(notes: Notes) -> list[str]:
    return [t for t in notes.texts("warning") if "hashes differently" in t]


def test_an_unstable_global_is_named_once_with_the_fix(
    ns: dict[str, Any], tally: Tally, notes: Notes
) -> None:
    ns.update(memo=memo, tally=tally, CLOCK=Ticking(3))
    define(ns, "@memo\ndef area(n):\n    tally(n)\n    clock = CLOCK\n    return n * clock.size\n")
    for _ in range(4):
        assert ns["area"](2) == 6
    assert len(tally) == 4  # it misses every time: the warning says why
    (warned,) = _warnings(notes)
    assert "global CLOCK" in warned and "Ticking" in warned and "hash_funcs" in warned


def test_a_global_changed_in_place_is_not_called_unstable(
    ns: dict[str, Any], tally: Tally, notes: Notes
) -> None:
    ns.update(memo=memo, tally=tally, ITEMS=[1, 2])
    define(ns, "@memo\ndef total():\n    tally(1)\n    return sum(ITEMS)\n")
    assert ns["total"]() == 3
    ns["ITEMS"].append(3)
    assert ns["total"]() == 6 and len(tally) == 2
    assert _warnings(notes) == []


def test_the_hash_funcs_the_warning_names_makes_it_hit(
    ns: dict[str, Any], tally: Tally, notes: Notes
) -> None:
    ns.update(memo=memo, tally=tally, CLOCK=Ticking(3), Ticking=Ticking)
    define(
        ns,
        "@memo(hash_funcs={Ticking: lambda obj: obj.size})\n"
        "def area(n):\n    tally(n)\n    clock = CLOCK\n    return n * clock.size\n",
    )
    assert ns["area"](2) == 6 and ns["area"](2) == 6 and len(tally) == 1
    assert _warnings(notes) == []


def test_a_cell_reading_an_unstable_value_is_told_once(ip: Any) -> None:
    ip.user_ns["Ticking"] = Ticking
    run_cell(ip, "clock = Ticking(2)")
    cell = "%%memo --name ticks\nnow = clock\ndoubled = now.size * 2"
    texts = []
    for _ in range(3):
        texts += [t for t in run_cell(ip, cell).texts() if "hashes differently" in t]
    assert len(texts) == 1 and "clock" in texts[0]
