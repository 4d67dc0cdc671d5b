"""The wrapper looks like the function it wraps (defaults, signature), @memo in the wrong
place says where it goes, and gathered misses each get their own note.  Real
InteractiveShell."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Tally, run_cell


def test_wrapper_forwards_defaults_kwdefaults_and_signature(ip: Any) -> None:
    run_cell(
        ip,
        "import inspect\n@memo\ndef f(a, b=2, *, c=3):\n    return a + b + c\n"
        "def plain(a, b=2, *, c=3):\n    return a + b + c\n",
    )
    assert run_cell(ip, "f.__defaults__").result.result == (2,)
    assert run_cell(ip, "f.__kwdefaults__").result.result == {"c": 3}
    same = run_cell(ip, "inspect.signature(f) == inspect.signature(plain)")
    assert same.result.result is True


def test_wrapper_signature_of_a_method_drops_self(ip: Any) -> None:
    run_cell(ip, "import inspect\nclass A:\n    @memo\n    def m(self, x=1):\n        return x\n")
    assert str(run_cell(ip, "inspect.signature(A().m)").result.result) == "(x=1)"


@pytest.mark.parametrize("kind", ["classmethod", "staticmethod"])
def test_memo_above_classmethod_or_staticmethod_says_to_put_it_underneath(
    ip: Any, kind: str
) -> None:
    cell = run_cell(ip, f"class K:\n    @memo\n    @{kind}\n    def make(x):\n        return x\n")
    assert cell.error is not None
    assert "put @memo underneath it" in str(cell.error) and f"@{kind}\n    @memo" in str(cell.error)


@pytest.mark.parametrize("kind,param", [("classmethod", "cls"), ("staticmethod", "")])
def test_memo_underneath_classmethod_or_staticmethod_caches(ip: Any, kind: str, param: str) -> None:
    tally = Tally()
    ip.push({"tally": tally})
    run_cell(
        ip,
        f"class K:\n    @{kind}\n    @memo\n    def make({param}):\n        return tally(5)\n",
    )
    assert run_cell(ip, "K.make()\nK.make()").result.result == 1
    assert tally.runs == [5]


def test_memo_on_a_partial_says_to_memoize_the_function(ip: Any) -> None:
    run_cell(ip, "import functools\ndef add(a, b):\n    return a + b\n")
    cell = run_cell(ip, "memo(functools.partial(add, 1))")
    assert "functools.partial(memo(add), ...)" in str(cell.error)


def test_gathered_misses_each_get_their_own_note(ip: Any) -> None:
    run_cell(
        ip,
        "import asyncio\n@memo\nasync def fetch(x):\n    await asyncio.sleep(0.01)\n    return x\n",
    )
    cell = run_cell(ip, "await asyncio.gather(fetch(1), fetch(2), fetch(3))")
    assert cell.result.result == [1, 2, 3]
    notes = cell.notes("cache miss")
    assert len(notes) == 3, notes
    assert all(any(f"fetch({x})" in n for n in notes) for x in (1, 2, 3))


def test_global_rebound_to_another_function_says_what_it_now_refers_to(ip: Any) -> None:
    run_cell(
        ip,
        "def double(x):\n    return 2 * x\ndef triple(x):\n    return 3 * x\n"
        "helper = double\n@memo\ndef f(x):\n    return helper(x)\n",
    )
    assert run_cell(ip, "f(2)").result.result == 4
    run_cell(ip, "helper = triple")
    changed = run_cell(ip, "f(2)")
    assert changed.result.result == 6
    [note] = changed.notes("cache miss")
    assert "global helper now refers to triple" in note
    assert "no stored entry" not in note


def test_cell_variable_rebound_to_another_function_says_so(ip: Any) -> None:
    run_cell(ip, "def one():\n    return 1\ndef two():\n    return 2\npick = one")
    cell = "%%memo\nv = pick()"
    run_cell(ip, cell)
    run_cell(ip, "pick = two")
    [note] = run_cell(ip, cell).notes("cache miss")
    assert "variable pick now refers to two" in note
