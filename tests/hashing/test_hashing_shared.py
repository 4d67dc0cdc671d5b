"""Values whose parts are shared: hashed by their contents (a shared part and an equal
copy give one key) in time linear in their distinct objects.  Counted, not timed: the
parts' reductions are counted, and an exponential stream would reduce the leaf once per
path to it."""

from __future__ import annotations

from typing import Any

import pytest

from ipycache_ext.hashing import hexdigest
from ipycache_ext.hashing.sharing import FLOOR, fits_one_stream


class Counted:
    """A leaf that counts how often it is reduced (pickled or walked)."""

    reductions = 0

    def __init__(self, label: str) -> None:
        self.label = label

    def __reduce_ex__(self, protocol: Any) -> Any:
        Counted.reductions += 1
        if Counted.reductions > 1000:
            raise RuntimeError("reduced once per path: the hash is exponential")
        return (Counted, (self.label,))


def shared_tower(depth: int, leaf: Any, kind: type = list) -> Any:
    node = kind([leaf])
    for _ in range(depth):
        node = kind([node, node])
    return node


def unshared_tower(depth: int, leaf: Any) -> Any:
    if depth == 0:
        return [leaf]
    return [unshared_tower(depth - 1, leaf), unshared_tower(depth - 1, leaf)]


@pytest.fixture(autouse=True)
def _reset_count() -> None:
    Counted.reductions = 0


@pytest.mark.parametrize("kind", [list, tuple])
def test_a_tower_of_shared_parts_40_deep_hashes_each_distinct_part_once(kind: type) -> None:
    hexdigest(shared_tower(40, Counted("leaf"), kind))
    assert Counted.reductions <= 2


def test_a_dict_of_shared_parts_40_deep_hashes_each_distinct_part_once() -> None:
    node: Any = {"leaf": Counted("leaf")}
    for _ in range(40):
        node = {"left": node, "right": node}
    hexdigest(node)
    assert Counted.reductions <= 2


def test_a_wide_list_of_one_shared_tower_hashes_it_once() -> None:
    hexdigest([shared_tower(30, Counted("leaf"))] * 500)
    assert Counted.reductions <= 2


@pytest.mark.parametrize("depth", [3, 14])
def test_shared_parts_hash_like_an_equal_value_without_sharing(depth: int) -> None:
    assert hexdigest(shared_tower(depth, 7)) == hexdigest(unshared_tower(depth, 7))


def test_a_tower_too_big_to_stream_and_an_unshared_copy_take_the_same_path() -> None:
    assert not fits_one_stream(shared_tower(14, 7))
    assert not fits_one_stream(unshared_tower(14, 7))
    assert fits_one_stream(shared_tower(3, 7)) and fits_one_stream(unshared_tower(3, 7))


def test_a_changed_leaf_of_a_shared_tower_changes_its_digest() -> None:
    assert hexdigest(shared_tower(30, 1)) != hexdigest(shared_tower(30, 2))


def test_shared_towers_of_other_depths_differ() -> None:
    assert hexdigest(shared_tower(30, 1)) != hexdigest(shared_tower(31, 1))


def test_a_list_and_a_tuple_tower_differ() -> None:
    assert hexdigest(shared_tower(30, 1, list)) != hexdigest(shared_tower(30, 1, tuple))


def test_a_cycle_inside_a_shared_tower_still_hashes() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    other: list[Any] = [1]
    other.append(other)
    assert hexdigest(shared_tower(30, loop)) == hexdigest(shared_tower(30, other))


def test_wide_records_with_small_sub_lists_stay_one_stream() -> None:
    records = [{"id": i, "tags": ["a", "b", "c"]} for i in range(FLOOR)]
    assert fits_one_stream(records)
