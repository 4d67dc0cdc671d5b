"""Hashing has a bound: a ``__reduce__`` that makes a new object every time it is called
is refused with the usual one-line error (where, and the fix) instead of growing until
memory runs out; long structures below the bound still hash, and the kernel keeps
working after the refusal."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Tally, run_cell

from ipycache_ext import memo
from ipycache_ext.errors import UnhashableTypeError
from ipycache_ext.hashing.core import WALK_BOUND


class Forever:
    """Each reduction holds a brand-new ``Forever``: pickling it never ends."""

    def __init__(self, depth: int = 0) -> None:
        self.depth = depth

    def __reduce__(self) -> tuple[Any, ...]:
        return (Forever, (), {"next": Forever(self.depth + 1)})


class Node:
    def __init__(self, value: int, after: Node | None = None) -> None:
        self.value, self.after = value, after


def test_a_reduce_that_never_ends_is_refused_naming_the_argument(tally: Tally) -> None:
    @memo
    def use(x: Any) -> int:
        tally(x)
        return 1

    with pytest.raises(UnhashableTypeError) as refused:
        use(Forever())
    text = str(refused.value)
    assert f"went past {WALK_BOUND:,} objects" in text
    assert "argument x of" in text and "hash_funcs" in text and "Forever" in text
    assert len(text) < 600  # one readable line, not the path of every object walked
    assert use(3) == 1 and use(3) == 1 and len(tally) == 1  # the cache still works


def test_the_refused_value_hashes_with_the_hash_funcs_the_error_names(tally: Tally) -> None:
    @memo(hash_funcs={Forever: lambda obj: obj.depth})
    def use(x: Any) -> int:
        tally(x.depth)
        return x.depth

    assert use(Forever(2)) == 2 and use(Forever(2)) == 2 and len(tally) == 1


def test_a_long_linked_structure_below_the_bound_still_hashes(tally: Tally) -> None:
    @memo
    def length(node: Node) -> int:
        tally(1)
        n = 0
        while node is not None:
            n, node = n + 1, node.after
        return n

    chain = None
    for i in range(50_000):
        chain = Node(i, chain)
    assert length(chain) == 50_000 and length(chain) == 50_000 and len(tally) == 1
    assert chain is not None
    chain.value = -1
    assert length(chain) == 50_000 and len(tally) == 2


def test_a_cell_reading_a_never_ending_value_gets_the_one_line_error(ip: Any) -> None:
    ip.user_ns["Forever"] = Forever
    run_cell(ip, "endless = Forever()")
    found = run_cell(ip, "%%memo\nresult = endless")
    assert found.error is not None
    assert f"went past {WALK_BOUND:,} objects" in str(found.error)
    assert run_cell(ip, "%%memo\nother = 2").error is None
