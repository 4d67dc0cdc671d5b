"""The compiled writer of a number container's pickle stream (csrc/numbers.c) must write
exactly the bytes of ``pickle.dumps(value, protocol=5)``: that stream is the digest, on
machines with and without the compiled module alike.  Compared over the shapes where
pickle's output changes form: each int opcode's edges, batches of 1000, frames of 64 KiB
(closed before an item, after a batch's APPENDS and MARK), a dict's trailing empty batch,
and random mixes."""

from __future__ import annotations

import pickle
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipycache_ext.hashing import numbers

_numbers = numbers._numbers


@pytest.fixture(autouse=True)
def built() -> None:
    if _numbers is None:
        pytest.fail("hashing/_numbers is not built: `pip install -e .` did not compile it")


def written(value: Any) -> tuple[bool, bytes]:
    pieces: list[bytes] = []
    done = _numbers.stream(value, lambda piece: pieces.append(bytes(piece)))
    return done, b"".join(pieces)


def assert_written_as_pickle_writes(value: Any) -> None:
    done, stream = written(value)
    assert done
    assert stream == pickle.dumps(value, protocol=5)


INT_EDGES = [
    0, 1, 127, 128, 255, 256, 32767, 32768, 65535, 65536, -1, -128, -129, -255, -256,
    -32768, -32769, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**32, -(2**32), 2**39,
    -(2**39), 2**47 - 1, -(2**47), 2**55, -(2**55), 2**63 - 1, -(2**63),
]  # fmt: skip
NAN_WITH_PAYLOAD = struct.unpack("<d", struct.pack("<Q", 0xFFF8000000000123))[0]
FLOATS = [0.0, -0.0, float("nan"), -float("nan"), NAN_WITH_PAYLOAD, float("inf"), 5e-324]


@pytest.mark.parametrize("edge", INT_EDGES)
def test_each_int_opcode_edge_is_written_as_pickle_writes_it(edge: int) -> None:
    assert_written_as_pickle_writes([edge] * 70)
    assert_written_as_pickle_writes((edge, 3) * 40)


def test_floats_nan_payloads_and_signs_bools_and_none_are_written_as_pickle_writes_them() -> None:
    assert_written_as_pickle_writes([*FLOATS, None, True, False, 1] * 10)


@pytest.mark.parametrize("size", [64, 999, 1000, 1001, 1002, 2000, 2001, 32765, 40000])
@pytest.mark.parametrize("shape", [list, tuple, "dict"])
def test_batches_and_frames_of_every_size_are_written_as_pickle_writes_them(
    size: int, shape: Any
) -> None:
    items = list(range(size))
    value = {i: i * 0.5 for i in items} if shape == "dict" else shape(items)
    assert_written_as_pickle_writes(value)
    assert_written_as_pickle_writes(shape([None] * size) if shape != "dict" else value)


@pytest.mark.parametrize("wide", range(480, 500))
def test_a_frame_closing_at_a_batch_boundary_is_written_as_pickle_writes_it(wide: int) -> None:
    """The first frame fills up between an item, APPENDS and MARK for some of these."""
    assert_written_as_pickle_writes([100000] * wide + [7] * (40000 - wide))


ATOMS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-300, 70000),
    st.floats(allow_nan=True),
    st.sampled_from([None, True, False]),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(ATOMS, min_size=numbers.MIN_LEN, max_size=3000))
def test_any_list_or_tuple_of_numbers_is_written_as_pickle_writes_it(items: list[Any]) -> None:
    assert_written_as_pickle_writes(items)
    assert_written_as_pickle_writes(tuple(items))


@settings(max_examples=80, deadline=None)
@given(st.dictionaries(ATOMS, ATOMS, min_size=numbers.MIN_LEN, max_size=2500))
def test_any_dict_of_numbers_is_written_as_pickle_writes_it(items: dict[Any, Any]) -> None:
    assert_written_as_pickle_writes(items)


class SubInt(int):
    pass


class SubFloat(float):
    pass


@pytest.mark.parametrize(
    "value",
    [
        [1, "a"] * 40,
        [1, 2**63] * 40,
        [1, -(2**63) - 1] * 40,
        [1, [2]] * 40,
        [1, SubInt(2)] * 40,
        [1.0, SubFloat(2.0)] * 40,
        {"a": 1, "b": 2},
        (1, 2, 3),
        "not a container",
        frozenset({1, 2}),
    ],
    ids=lambda v: type(v).__name__ + str(len(v)),
)
def test_what_it_does_not_write_itself_is_declined_for_the_pickler(value: Any) -> None:
    assert written(value)[0] is False


def test_a_declined_value_hashes_as_the_pickler_alone_hashes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    value = [1, 2**64, 3.5] * 40
    compiled = numbers.numbers_digest(value)
    monkeypatch.setattr(numbers, "_numbers", None)
    assert compiled is not None and compiled == numbers.numbers_digest(value)


def test_an_error_in_update_is_raised_not_swallowed() -> None:
    def update(piece: Any) -> None:
        raise OSError("update failed")

    with pytest.raises(OSError, match="update failed"):
        _numbers.stream(list(range(100)), update)


@pytest.mark.parametrize("shape", ["list", "float keys", "int keys"])
def test_a_container_emptied_by_another_hand_midway_is_declined_and_nothing_breaks(
    shape: str,
) -> None:
    """update() may release the GIL, and another thread change the container meanwhile:
    what was saved must stay alive, and the changed container is declined.  (With int
    keys the first frame ends between a key and its value: a value not held before the
    key was saved was read after it was freed, which valgrind showed.)"""
    value: Any = [float(i) for i in range(100_000)]
    if shape == "float keys":
        value = {float(i): float(-i) for i in range(100_000)}
    elif shape == "int keys":
        value = {i + 70_000: float(-i) for i in range(100_000)}
    calls = []

    def update(piece: Any) -> None:
        calls.append(len(piece))
        if len(calls) == 2:  # the first full frame: items and pairs are in flight
            value.clear()

    assert _numbers.stream(value, update) is False
    assert len(calls) >= 2
