"""Cases from the peers' own test suites (Streamlit's caching and hashing tests):
``hash_funcs`` entries run once per value and before any refusal, read-only mappings,
dict views and descriptors hash by content, ``_`` keys in ``**kwargs`` are left out,
and a refusal names its real reason."""

from __future__ import annotations

import threading
import types
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock, Mock

import pytest
from conftest import Tally

from ipycache_ext import UnhashableTypeError, memo
from ipycache_ext.hashing.core import digest

# ----- hash_funcs ---------------------------------------------------------------------------


@pytest.mark.parametrize("entry", [int, "builtins.int"])
def test_a_hash_function_returning_its_own_type_is_not_fed_its_result_again(
    tally: Tally, entry: Any
) -> None:
    @memo(hash_funcs={entry: lambda x: x})
    def same(x: int) -> int:
        tally(x)
        return x

    assert (same(1), same(1), same(2)) == (1, 1, 2)
    assert tally.runs == [1, 2]


class Point:
    def __init__(self, x: int) -> None:
        self.x = x


def test_a_hash_function_runs_once_per_value_even_when_hashing_starts_over() -> None:
    seen: list[int] = []

    def by_x(point: Point) -> int:
        seen.append(point.x)
        return point.x

    keyed = memo(hash_funcs={Point: by_x})(lambda value: 0)
    keyed([Point(1), {"a set", "makes the hasher start over"}])
    keyed([Point(2), float("nan")])
    assert seen == [1, 2]


@pytest.mark.parametrize(
    ("entry", "make"),
    [
        (types.GeneratorType, lambda: (i for i in range(3))),
        ("builtins.generator", lambda: (i for i in range(3))),
        (map, lambda: map(str, range(3))),
    ],
)
def test_hash_funcs_for_an_iterator_type_is_asked_before_the_iterator_is_refused(
    tally: Tally, entry: Any, make: Any
) -> None:
    @memo(hash_funcs={entry: lambda it: "any iterator"})
    def first(it: Any) -> int:
        tally(1)
        return 7

    assert (first(make()), first(make())) == (7, 7)
    assert len(tally) == 1
    without = memo(lambda it: 0)  # the same iterator, no hash_funcs: refused as consumed
    with pytest.raises(UnhashableTypeError, match="an iterator is consumed by the call"):
        without(make())


# ----- values hashed by content -------------------------------------------------------------


def test_a_mapping_proxy_is_hashed_by_its_contents(tally: Tally) -> None:
    @memo
    def size(m: Any) -> int:
        tally(dict(m))
        return len(m)

    size(types.MappingProxyType({"a": 1}))
    size(types.MappingProxyType({"a": 1}))
    size(types.MappingProxyType({"a": 2}))
    assert tally.runs == [{"a": 1}, {"a": 2}]


def test_a_class_dict_is_hashed_by_its_contents() -> None:
    """A class's ``__dict__`` is a mapping proxy holding getset descriptors
    (``__dict__``, ``__weakref__``): all hashed by content, the same every time."""

    def made(limit: int) -> type:
        class Plain:
            pass

        Plain.limit = limit  # type: ignore[attr-defined]
        return Plain

    assert digest(made(3).__dict__) == digest(made(3).__dict__)
    assert digest(made(3).__dict__) != digest(made(4).__dict__)


@pytest.mark.parametrize("view", ["keys", "values", "items"])
def test_a_dict_view_is_hashed_by_its_contents(tally: Tally, view: str) -> None:
    @memo
    def count(v: Any) -> int:
        tally(list(v))
        return len(v)

    count(getattr({"a": 1}, view)())
    count(getattr({"a": 1}, view)())
    count(getattr({"b": 2}, view)())
    assert len(tally) == 2


def test_the_keys_values_and_items_of_one_dict_hash_apart() -> None:
    d = {"a": "a"}
    assert len({digest(d.keys()), digest(d.values()), digest(d.items())}) == 3


def test_a_dict_view_follows_its_dict_in_taking_the_insertion_order() -> None:
    first, second = {"a": 1, "b": 2}, {"b": 2, "a": 1}
    same_dicts = digest(first) == digest(second)
    assert (digest(first.keys()) == digest(second.keys())) is same_dicts
    assert (digest(first.items()) == digest(second.items())) is same_dicts


@pytest.mark.parametrize(
    "descriptor",
    [type.__dict__["__name__"], types.FunctionType.__dict__["__name__"]],
)
def test_getset_descriptors_are_hashed_by_class_and_name(tally: Tally, descriptor: Any) -> None:
    @memo
    def named(d: Any) -> str:
        tally(d)
        return str(d.__name__)

    assert named(descriptor) == named(descriptor)
    assert len(tally) == 1
    assert digest(type.__dict__["__name__"]) != digest(type.__dict__["__doc__"])


# ----- what the key leaves out ---------------------------------------------------------------


def test_underscore_keys_in_var_keyword_arguments_are_left_out_like_parameters(
    tally: Tally,
) -> None:
    @memo
    def total(x: int, **options: Any) -> int:
        tally(x)
        return x + options.get("y", 0)

    assert total(1, _log=print, y=2) == total(1, _log=len, y=2) == 3
    assert total(1, _lock=threading.Lock()) == 1  # unhashable, and left out
    assert total(1, y=3) == 4
    assert tally.runs == [1, 1, 1]


# ----- refusals name their reason ------------------------------------------------------------


@pytest.mark.parametrize("mock", [MagicMock, Mock])
def test_a_mock_argument_is_not_refused_as_an_iterator(tally: Tally, mock: Any) -> None:
    @memo
    def call(m: Any) -> int:
        tally(1)
        return 5

    double = mock()
    assert (call(double), call(double)) == (5, 5)
    assert len(tally) == 1


class Rewinding:
    """Has ``__next__``, but ``__iter__`` gives a new iterator: iterating it consumes
    nothing of it."""

    def __init__(self) -> None:
        self.items = [1, 2]

    def __iter__(self) -> Any:
        return iter(self.items)

    def __next__(self) -> int:
        return self.items[0]


def test_an_object_whose_iter_is_not_itself_is_hashed_by_its_state(tally: Tally) -> None:
    @memo
    def first(r: Any) -> int:
        tally(1)
        return next(iter(r))

    assert (first(Rewinding()), first(Rewinding())) == (1, 1)
    assert len(tally) == 1


def test_an_open_file_argument_is_refused_naming_its_path_as_the_fix(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    keyed = memo(lambda source: 0)
    with open(tmp_path / "data.csv") as opened, pytest.raises(UnhashableTypeError) as err:
        keyed(opened)
    assert "the open file (_io.TextIOWrapper) in argument source" in str(err.value)
    assert "Fix: pass its path instead" in str(err.value)
