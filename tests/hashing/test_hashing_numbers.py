"""Long lists, tuples and dicts of numbers: the one-pass protocol 5 path and the values
next to it, which must take another path or still hash by the same rules.

Every test runs twice: with the compiled stream writer (where built) and with the pickler
alone, as on a machine without a C compiler."""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest

from ipycache_ext.hashing import digest, hexdigest, numbers
from ipycache_ext.hashing.numbers import MIN_LEN, numbers_digest

N = 5 * MIN_LEN


@pytest.fixture(autouse=True, params=["compiled", "pickler"])
def writer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.param == "pickler":
        monkeypatch.setattr(numbers, "_numbers", None)
    elif numbers._numbers is None:
        pytest.fail("hashing/_numbers is not built: `pip install -e .` did not compile it")


def ints() -> list[Any]:
    return [i % 300 - 20 for i in range(N)]


def floats() -> list[Any]:
    return [i * 0.25 for i in range(N)]


class SubInt(int):
    __slots__ = ()


class SubFloat(float):
    pass


def with_item(items: list[Any], at: int, item: Any) -> list[Any]:
    changed = list(items)
    changed[at] = item
    return changed


def test_a_long_int_list_takes_the_numbers_path_and_equals_its_copy() -> None:
    assert numbers_digest(ints()) is not None
    assert hexdigest(ints()) == hexdigest(list(ints()))


def test_a_bool_inside_an_int_list_differs_from_the_int() -> None:
    assert hexdigest(with_item(ints(), 7, True)) != hexdigest(with_item(ints(), 7, 1))


def test_an_int_subclass_inside_an_int_list_leaves_the_numbers_path() -> None:
    odd = with_item(ints(), 7, SubInt(5))
    assert numbers_digest(odd) is None
    assert hexdigest(odd) != hexdigest(with_item(ints(), 7, 5))


def test_a_float_subclass_inside_a_float_list_differs_from_the_float() -> None:
    odd = with_item(floats(), 3, SubFloat(2.5))
    assert numbers_digest(odd) is None
    assert hexdigest(odd) != hexdigest(with_item(floats(), 3, 2.5))


def test_a_nan_in_a_long_float_list_is_hashed_by_its_bits_so_its_sign_is_kept() -> None:
    payload = struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000123))[0]
    nans = [math.nan, -math.nan, payload]
    digests = {hexdigest(with_item(floats(), 100, nan)) for nan in nans}
    assert len(digests) == 3
    assert numbers_digest(with_item(floats(), 100, math.nan)) is not None


def test_the_same_nan_in_equal_long_lists_hashes_alike() -> None:
    one = with_item(floats(), 100, float("nan"))
    other = with_item(floats(), 100, float("nan"))  # another object, the same bits
    assert hexdigest(one) == hexdigest(other)


def test_a_nan_on_either_side_of_a_frame_boundary_keeps_its_sign() -> None:
    many = [i * 0.5 for i in range(20_000)]
    for at in range(7270, 7300):
        with_nan = with_item(many, at, math.nan)
        assert hexdigest(with_nan) == hexdigest(list(with_nan))
        assert hexdigest(with_nan) != hexdigest(with_item(many, at, -math.nan))


def test_a_memo_function_that_reads_a_nan_sign_is_not_handed_the_other_sign() -> None:
    from ipycache_ext import memo

    @memo
    def signs(values: list[float]) -> list[float]:
        return [math.copysign(1.0, v) for v in values]

    assert signs([math.nan] * N)[0] == 1.0
    assert signs([-math.nan] * N)[0] == -1.0


def test_infinities_in_a_long_float_list_are_kept_apart() -> None:
    assert hexdigest(with_item(floats(), 9, math.inf)) != hexdigest(
        with_item(floats(), 9, -math.inf)
    )


def test_negative_zero_in_a_long_float_list_differs_from_zero() -> None:
    assert hexdigest(with_item(floats(), 5, -0.0)) != hexdigest(with_item(floats(), 5, 0.0))


def test_a_huge_int_in_a_long_list_is_hashed_by_value() -> None:
    big = with_item(ints(), 2, 2**200)
    assert hexdigest(big) == hexdigest(list(big))
    assert hexdigest(big) != hexdigest(with_item(ints(), 2, 2**200 + 1))


def test_an_int_and_the_equal_float_in_a_long_list_differ() -> None:
    assert hexdigest(with_item(ints(), 4, 3)) != hexdigest(with_item(ints(), 4, 3.0))


def test_a_long_list_and_tuple_of_the_same_numbers_differ() -> None:
    assert hexdigest(ints()) != hexdigest(tuple(ints()))


def test_a_nested_list_in_a_long_int_list_leaves_the_numbers_path_and_still_matches() -> None:
    nested = with_item(ints(), 1, [1, 2])
    assert numbers_digest(nested) is None
    assert hexdigest(nested) == hexdigest(with_item(ints(), 1, [1, 2]))
    assert hexdigest(nested) != hexdigest(with_item(ints(), 1, [[1], 2]))


def test_mixed_atoms_in_a_long_list_leave_the_numbers_path_and_match_their_copy() -> None:
    mixed = [(i, i * 0.5, f"s{i}", None, True, b"b")[i % 6] for i in range(N)]
    assert numbers_digest(mixed) is None
    assert hexdigest(mixed) == hexdigest(list(mixed))


def test_a_str_and_the_bytes_of_it_in_a_long_list_differ() -> None:
    assert hexdigest(with_item(ints(), 0, "ab")) != hexdigest(with_item(ints(), 0, b"ab"))


def test_a_long_dict_of_numbers_keeps_its_key_order() -> None:
    forward = {i: i * 0.5 for i in range(N)}
    backward = {i: i * 0.5 for i in reversed(range(N))}
    assert numbers_digest(forward) is not None
    assert hexdigest(forward) == hexdigest(dict(forward))
    assert hexdigest(forward) != hexdigest(backward)


def test_a_long_int_list_that_holds_itself_hashes_like_an_equal_one() -> None:
    a: list[Any] = ints()
    a.append(a)
    b: list[Any] = ints()
    b.append(b)
    assert hexdigest(a) == hexdigest(b)


@pytest.mark.parametrize(
    ("value", "before"),
    [
        ([1, 2, 3], "30e808654acd24c3fd73b1d229f2b974"),
        (list(range(63)), "37ace55a1ea5f1e32628d4dc128d81d4"),
        ([2**40, -5, 0], "b800c1351b775bf98e358f1719ac1338"),
    ],
)
def test_a_short_list_of_ints_keeps_the_digest_it_had_so_stored_entries_still_hit(
    value: list[int], before: str
) -> None:
    """Digests computed by the release before lists of numbers were one pickle pass."""
    assert digest(value).hex() == before


def test_the_readme_fix_for_a_nan_sign_an_array_keeps_it_apart() -> None:
    """The README's limit: a single NaN float hashes alike whatever its sign, so code
    that reads the sign gets the first call's result; passed as an array, it does not."""
    import numpy as np

    from ipycache_ext import memo

    @memo
    def sign_of_float(x: float) -> bool:
        return bool(np.signbit(x))

    @memo
    def sign_of_array(a: np.ndarray) -> bool:
        return bool(np.signbit(a[0]))

    assert sign_of_float(math.nan) is False
    assert sign_of_float(-math.nan) is False  # the limit: the first NaN's result
    assert sign_of_array(np.array([math.nan])) is False
    assert sign_of_array(np.array([-math.nan])) is True
