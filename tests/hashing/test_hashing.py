"""Value hashing: deterministic, type-tagged digests of every supported kind of value,
numpy and pandas by content, hash_funcs, and errors that say where and how to fix."""

from __future__ import annotations

import copy
import datetime as dt
import enum
import fractions
import functools
import json
import math
import os
import pathlib
import pickle
import re
import socket
import struct
import subprocess
import sys
import threading
import uuid
from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import Tally, define
from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import same, scalars, values

from ipycache_ext import UnhashableTypeError, UserHashError, memo
from ipycache_ext.hashing import hexdigest

# ----- values used below ------------------------------------------------------------------


class Color(enum.Enum):
    RED = 1
    BLUE = 2


@dataclass
class Point:
    x: int
    y: int


Pair = namedtuple("Pair", "left right")


class Plain:
    """An ordinary object: hashed by what ``__reduce_ex__`` says rebuilds it."""

    def __init__(self, a: Any, b: Any) -> None:
        self.a = a
        self.b = b


class Slotted:
    __slots__ = ("a",)

    def __init__(self, a: Any) -> None:
        self.a = a


class Counter:
    def __init__(self, start: int) -> None:
        self.start = start

    def get(self) -> int:
        return self.start

    def other(self) -> int:
        return -self.start


class Conn:
    """Stands for a database connection: it holds a lock, so it cannot be hashed."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.lock = threading.Lock()


def fresh(source: str, name: str) -> Any:
    """A new object named ``name`` defined by ``source`` in a module-like namespace."""
    return define({"__name__": __name__}, source)[name]


def fresh_lambda(body: str) -> Any:
    return eval(f"lambda x: {body}", {"__name__": __name__})


# ----- every supported type: equal values equal, changed values different -----------------


@dataclass
class Case:
    make: Callable[[], Any]
    changes: tuple[Callable[[], Any], ...] = ()


CASES: dict[str, Case] = {
    "none": Case(lambda: None),
    "bool": Case(lambda: True, (lambda: False,)),
    "int": Case(lambda: 42, (lambda: 43, lambda: -42)),
    "int_huge": Case(lambda: 2**200, (lambda: 2**200 + 1, lambda: -(2**200), lambda: 2**64)),
    "float": Case(lambda: 1.5, (lambda: 1.25, lambda: float("inf"))),
    "complex": Case(lambda: complex(1, 2), (lambda: complex(1, 3), lambda: complex(2, 2))),
    "str": Case(lambda: "héllo", (lambda: "hello", lambda: "héllo ")),
    "bytes": Case(lambda: b"abc", (lambda: b"abd",)),
    "bytearray": Case(lambda: bytearray(b"abc"), (lambda: bytearray(b"abd"),)),
    "memoryview": Case(lambda: memoryview(b"abc"), (lambda: memoryview(b"abd"),)),
    "tuple": Case(lambda: (1, "a"), (lambda: (1, "b"), lambda: (1, "a", None))),
    "list": Case(lambda: [1, [2, 3]], (lambda: [1, [2, 4]], lambda: [[2, 3], 1])),
    "dict": Case(lambda: {"a": 1, "b": [2]}, (lambda: {"a": 1, "b": [3]}, lambda: {"a": 1})),
    "set": Case(lambda: {"x", "y", "z"}, (lambda: {"x", "y"}, lambda: {"x", "y", "w"})),
    "frozenset": Case(lambda: frozenset({1, 2}), (lambda: frozenset({1, 3}),)),
    "range": Case(lambda: range(0, 10, 2), (lambda: range(0, 10, 3), lambda: range(1, 10, 2))),
    "slice": Case(lambda: slice(1, 5, 2), (lambda: slice(1, 5, 3), lambda: slice(1, 5))),
    "ellipsis": Case(lambda: ..., (lambda: None,)),
    "decimal": Case(lambda: Decimal("1.5"), (lambda: Decimal("1.6"),)),
    "fraction": Case(lambda: fractions.Fraction(1, 3), (lambda: fractions.Fraction(1, 4),)),
    "datetime": Case(
        lambda: dt.datetime(2024, 1, 2, 3, 4, 5),
        (
            lambda: dt.datetime(2024, 1, 2, 3, 4, 5, 1),
            lambda: dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        ),
    ),
    "date": Case(lambda: dt.date(2024, 1, 2), (lambda: dt.date(2024, 1, 3),)),
    "time": Case(lambda: dt.time(3, 4, 5), (lambda: dt.time(3, 4, 6),)),
    "timedelta": Case(lambda: dt.timedelta(days=1), (lambda: dt.timedelta(days=1, seconds=1),)),
    "uuid": Case(
        lambda: uuid.UUID("12345678-1234-5678-1234-567812345678"),
        (lambda: uuid.UUID("12345678-1234-5678-1234-567812345679"),),
    ),
    "path": Case(lambda: pathlib.Path("/data/a.csv"), (lambda: pathlib.Path("/data/b.csv"),)),
    "pure_path": Case(
        lambda: pathlib.PurePosixPath("a/b"), (lambda: pathlib.PurePosixPath("a/c"),)
    ),
    "enum": Case(lambda: Color.RED, (lambda: Color.BLUE,)),
    "regex": Case(
        lambda: re.compile("a+"), (lambda: re.compile("b+"), lambda: re.compile("a+", re.I))
    ),
    "partial": Case(
        lambda: functools.partial(int, base=2),
        (lambda: functools.partial(int, base=3), lambda: functools.partial(float)),
    ),
    "dataclass": Case(lambda: Point(1, 2), (lambda: Point(1, 3),)),
    "namedtuple": Case(lambda: Pair(1, 2), (lambda: Pair(1, 3),)),
    "function": Case(
        lambda: fresh("def f(x):\n    return x + 1\n", "f"),
        (lambda: fresh("def f(x):\n    return x + 2\n", "f"),),
    ),
    "lambda": Case(lambda: fresh_lambda("x * 2"), (lambda: fresh_lambda("x * 3"),)),
    "bound_method": Case(
        lambda: Counter(1).get, (lambda: Counter(2).get, lambda: Counter(1).other)
    ),
    "class": Case(
        lambda: fresh("class K:\n    def m(self):\n        return 1\n", "K"),
        (lambda: fresh("class K:\n    def m(self):\n        return 2\n", "K"),),
    ),
    "module": Case(lambda: json, (lambda: pickle,)),
    "object_state": Case(lambda: Plain(1, [2]), (lambda: Plain(1, [3]), lambda: Plain(2, [2]))),
    "object_slots": Case(lambda: Slotted([1]), (lambda: Slotted([2]),)),
}

CHANGES = [
    pytest.param(case.make, change, id=f"{name}-{i}")
    for name, case in CASES.items()
    for i, change in enumerate(case.changes)
]


@pytest.mark.parametrize("make", [pytest.param(c.make, id=n) for n, c in CASES.items()])
def test_equal_values_built_twice_give_equal_digests(make: Callable[[], Any]) -> None:
    assert hexdigest(make()) == hexdigest(make())


@pytest.mark.parametrize("make, change", CHANGES)
def test_changed_value_gives_different_digest(
    make: Callable[[], Any], change: Callable[[], Any]
) -> None:
    assert hexdigest(make()) != hexdigest(change())


def test_digest_is_128_bits() -> None:
    assert len(bytes.fromhex(hexdigest([1, 2, 3]))) == 16


# ----- type tags --------------------------------------------------------------------------


def test_values_equal_in_python_but_of_different_types_differ() -> None:
    values = [1, 1.0, True, "1", b"1", bytearray(b"1"), complex(1, 0), Decimal(1)]
    assert len({hexdigest(v) for v in values}) == len(values)


def test_tuple_and_list_with_same_items_differ() -> None:
    assert hexdigest((1, 2)) != hexdigest([1, 2])


def test_nested_tuple_and_list_with_same_items_differ() -> None:
    assert hexdigest({"k": (1, 2)}) != hexdigest({"k": [1, 2]})


def test_set_and_frozenset_with_same_items_differ() -> None:
    assert hexdigest({1, 2}) != hexdigest(frozenset({1, 2}))


def test_namedtuple_differs_from_plain_tuple() -> None:
    assert hexdigest(Pair(1, 2)) != hexdigest((1, 2))


def test_none_differs_from_empty_containers() -> None:
    values = [None, (), [], {}, "", b"", 0, False, frozenset()]
    assert len({hexdigest(v) for v in values}) == len(values)


# ----- order ------------------------------------------------------------------------------


def test_dict_insertion_order_counts() -> None:
    assert hexdigest({"a": 1, "b": 2}) != hexdigest({"b": 2, "a": 1})


def test_set_order_does_not_count() -> None:
    words = [f"word{i}" for i in range(200)]
    forward, backward = set(), set()
    for w in words:
        forward.add(w)
    for w in reversed(words):
        backward.add(w)
    assert hexdigest(forward) == hexdigest(backward)


def test_set_nested_in_a_list_is_order_independent() -> None:
    small = {"b", "a"}
    grown = {str(i) for i in range(100)} | {"a", "b"}
    shrunk = grown - {str(i) for i in range(100)}
    assert hexdigest([small, 1]) == hexdigest([shrunk, 1])


def test_frozenset_order_does_not_count() -> None:
    assert hexdigest(frozenset(range(100))) == hexdigest(frozenset(reversed(range(100))))


# ----- NaN --------------------------------------------------------------------------------

NANS = {
    "float_nan": float("nan"),
    "negative_nan": -float("nan"),
    "inf_minus_inf": float("inf") - float("inf"),
    "payload_nan": struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000123))[0],
}


@pytest.mark.parametrize("other", list(NANS.values()), ids=list(NANS))
def test_nan_equals_nan(other: float) -> None:
    assert hexdigest(float("nan")) == hexdigest(other)


@pytest.mark.parametrize("other", list(NANS.values()), ids=list(NANS))
def test_nan_inside_a_list_equals_nan(other: float) -> None:
    assert hexdigest([float("nan")]) == hexdigest([other])


@pytest.mark.parametrize("other", list(NANS.values()), ids=list(NANS))
def test_nan_inside_records_of_a_long_list_equals_nan(other: float) -> None:
    """The stream path looks for a NaN only in bytes that may hold one: a NaN after
    thousands of records with none must still be found."""
    records = [(i, f"r{i}") for i in range(5000)]
    assert hexdigest([*records, (1, float("nan"))]) == hexdigest([*records, (1, other)])


def test_complex_with_nan_part_equals_itself() -> None:
    assert hexdigest([complex(math.nan, 1)]) == hexdigest([complex(-math.nan, 1)])


def test_numpy_nan_equals_python_nan_in_an_object_array() -> None:
    a = np.array([np.nan, "x"], dtype=object)
    b = np.array([float("inf") - float("inf"), "x"], dtype=object)
    assert hexdigest(a) == hexdigest(b)


# ----- cycles and shared structure --------------------------------------------------------


def test_self_referencing_list_hashes() -> None:
    a: list[Any] = [1]
    a.append(a)
    b: list[Any] = [1]
    b.append(b)
    assert hexdigest(a) == hexdigest(b)


def test_self_referencing_dict_hashes() -> None:
    a: dict[str, Any] = {"x": 1}
    a["self"] = a
    assert hexdigest(a) == hexdigest(copy.deepcopy(a))


def test_self_referencing_object_hashes() -> None:
    obj = Plain(1, None)
    obj.b = obj
    assert hexdigest(obj) == hexdigest(copy.deepcopy(obj))


class Link:
    """A node of a doubly linked list: every neighbour pair is a cycle."""

    def __init__(self, value: int) -> None:
        self.value = value
        self.prev: Link | None = None
        self.next: Link | None = None


def linked_list(n: int) -> Link:
    head = cur = Link(0)
    for i in range(1, n):
        nxt = Link(i)
        nxt.prev, cur.next = cur, nxt
        cur = nxt
    return head


def test_long_doubly_linked_list_hashes_without_recursion_error() -> None:
    assert hexdigest(linked_list(1000)) == hexdigest(linked_list(1000))


def test_changed_value_inside_a_cycle_changes_digest() -> None:
    a: list[Any] = [1]
    a.append(a)
    b: list[Any] = [2]
    b.append(b)
    assert hexdigest(a) != hexdigest(b)


def test_mutual_cycle_through_a_set_member_hashes() -> None:
    holder = Plain({"a", "b"}, None)
    holder.b = [holder]
    assert hexdigest(holder) == hexdigest(copy.deepcopy(holder))


def test_shared_substructure_equals_unshared_copy() -> None:
    row = [1, 2, 3]
    shared = [row, row, {"r": row}]
    unshared = [[1, 2, 3], [1, 2, 3], {"r": [1, 2, 3]}]
    assert hexdigest(shared) == hexdigest(unshared)


def test_deeply_shared_structure_hashes() -> None:
    node: list[Any] = [1]
    for _ in range(12):
        node = [node, node]
    assert hexdigest(node) == hexdigest(copy.deepcopy(node))


# ----- determinism across processes -------------------------------------------------------

VALUES_SOURCE = """
import datetime, decimal, pathlib, re, uuid


def is_fruit(name, known=frozenset({"apple", "pear", "plum"})):
    return name in {"apple", "banana", "cherry"} or name in known


import dataclasses, enum


@dataclasses.dataclass
class Rec:
    tags: set
    name: str


class Mode(enum.Enum):
    FAST = "fast"
    SLOW = "slow"


import numpy as np
import pandas as pd
VALUES = [
    {"apple", "banana", "cherry", "date", "elderberry", "fig", "grape"},
    frozenset({"x", "y", "z", "w"}),
    {"b": 2, "a": [1, {"nested", "set"}], "c": ("t", None)},
    ({"k1", "k2"}, {"v": {"s1", "s2", "s3"}}),
    decimal.Decimal("3.14"),
    datetime.datetime(2024, 5, 6, 7, 8, 9),
    uuid.UUID(int=12345),
    pathlib.PurePosixPath("/tmp/x"),
    re.compile("a.b", re.I),
    np.array([[1.5, 2.5], [3.5, 4.5]]).T,
    np.array([{"a", "b"}, "s"], dtype=object),
    pd.DataFrame({"name": ["a", "b"], "n": [1, 2]}, index=["r1", "r2"]),
    is_fruit,
    [is_fruit, {"callables": (is_fruit,)}],
    Rec({"x", "y", "z", "w"}, "r"),
    [Rec({"x", "y", "z", "w"}, str(i)) for i in range(5)] + [Rec(frozenset({"p", "q"}), "f")],
    [Mode.FAST, Mode.SLOW],
]
"""


def in_process_digests() -> list[str]:
    namespace: dict[str, Any] = {"__name__": "__main__"}
    # dont_inherit: this module's ``from __future__`` flags would change the code objects.
    exec(compile(VALUES_SOURCE, "<string>", "exec", dont_inherit=True), namespace)
    return [hexdigest(v) for v in namespace["VALUES"]]


@pytest.mark.parametrize("seed", ["0", "1", "12345"])
def test_digest_is_the_same_in_a_process_with_another_hash_seed(seed: str) -> None:
    script = VALUES_SOURCE + (
        "from ipycache_ext.hashing import hexdigest\n"
        "print('\\n'.join(hexdigest(v) for v in VALUES))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": seed}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == in_process_digests()


# ----- numpy ------------------------------------------------------------------------------


def test_numpy_equal_arrays_give_equal_digests() -> None:
    assert hexdigest(np.arange(12.0)) == hexdigest(np.arange(12.0))


def test_numpy_dtype_changes_digest() -> None:
    assert hexdigest(np.arange(6, dtype=np.int32)) != hexdigest(np.arange(6, dtype=np.int64))


def test_numpy_shape_changes_digest() -> None:
    a = np.arange(6)
    assert hexdigest(a.reshape(2, 3)) != hexdigest(a.reshape(3, 2))


def test_numpy_one_changed_element_changes_digest() -> None:
    a = np.zeros(1_000_000)
    b = a.copy()
    b[-1] = 1e-300
    assert hexdigest(a) != hexdigest(b)


def test_numpy_strided_view_equals_contiguous_copy() -> None:
    a = np.arange(100.0)[::3]
    assert not a.flags.c_contiguous
    assert hexdigest(a) == hexdigest(np.ascontiguousarray(a))


def test_numpy_transposed_view_equals_contiguous_copy() -> None:
    a = np.arange(24).reshape(2, 3, 4).transpose(2, 0, 1)
    assert hexdigest(a) == hexdigest(a.copy(order="C"))


def test_numpy_column_view_equals_contiguous_copy() -> None:
    a = np.arange(12).reshape(4, 3)[:, 1]
    assert hexdigest(a) == hexdigest(a.copy())


def test_numpy_reversed_view_equals_contiguous_copy() -> None:
    a = np.arange(20.0).reshape(4, 5)[::-1, ::-2]
    assert hexdigest(a) == hexdigest(a.copy())


def test_numpy_fortran_order_equals_c_order() -> None:
    a = np.arange(12.0).reshape(3, 4)
    assert hexdigest(np.asfortranarray(a)) == hexdigest(np.ascontiguousarray(a))


def test_numpy_large_noncontiguous_view_equals_contiguous_copy() -> None:
    a = np.arange(1500 * 1500, dtype=np.float64).reshape(1500, 1500)[:, ::2]
    assert hexdigest(a) == hexdigest(np.ascontiguousarray(a))


def test_numpy_view_differs_from_its_base() -> None:
    a = np.arange(10)
    assert hexdigest(a[::2]) != hexdigest(a)


def test_numpy_object_arrays_are_hashed_by_elements() -> None:
    def make(last: int) -> np.ndarray:
        a = np.empty(3, dtype=object)
        a[:] = [{"k": [1, 2]}, "text", [last]]
        return a

    assert hexdigest(make(1)) == hexdigest(make(1))
    assert hexdigest(make(1)) != hexdigest(make(2))


def test_numpy_structured_array_field_change_changes_digest() -> None:
    dtype = [("a", "i4"), ("b", "f8")]
    a = np.array([(1, 2.0), (3, 4.0)], dtype=dtype)
    b = a.copy()
    b["b"][1] = 5.0
    assert hexdigest(a) != hexdigest(b)


# ----- pandas -----------------------------------------------------------------------------


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "n": [1, 2, 3],
            "x": [0.5, 1.5, 2.5],
            "name": ["a", "b", "c"],
            "when": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
            "kind": pd.Categorical(["p", "q", "p"]),
        },
        index=["r1", "r2", "r3"],
    )


def test_pandas_equal_frames_give_equal_digests() -> None:
    assert hexdigest(frame()) == hexdigest(frame().copy(deep=True))


@pytest.mark.parametrize(
    "column, value", [("n", 9), ("x", 9.5), ("name", "z"), ("when", pd.Timestamp("2030-01-01"))]
)
def test_pandas_changed_value_changes_frame_digest(column: str, value: Any) -> None:
    df = frame()
    df.loc["r3", column] = value
    assert hexdigest(df) != hexdigest(frame())


@pytest.mark.parametrize(
    "values, changed",
    [
        (pd.array([1, None, 3], dtype="Int64"), pd.array([1, None, 4], dtype="Int64")),
        (pd.array([True, None], dtype="boolean"), pd.array([False, None], dtype="boolean")),
        (pd.array(["a", None], dtype="string"), pd.array(["b", None], dtype="string")),
        (
            pd.to_datetime(["2024-01-01", "2024-01-02"]).tz_localize("UTC"),
            pd.to_datetime(["2024-01-01", "2024-01-03"]).tz_localize("UTC"),
        ),
        (pd.to_timedelta([1, 2], unit="s"), pd.to_timedelta([1, 3], unit="s")),
    ],
    ids=["Int64", "boolean", "string", "datetime_tz", "timedelta"],
)
def test_pandas_changed_value_in_extension_column_changes_frame_digest(
    values: Any, changed: Any
) -> None:
    same_again = pd.DataFrame({"c": values}).copy(deep=True)
    assert hexdigest(pd.DataFrame({"c": values})) == hexdigest(same_again)
    assert hexdigest(pd.DataFrame({"c": values})) != hexdigest(pd.DataFrame({"c": changed}))


def test_pandas_sliced_frame_equals_its_copy() -> None:
    df = frame().iloc[::2]
    assert hexdigest(df) == hexdigest(df.copy(deep=True))


def test_pandas_changed_categorical_value_changes_frame_digest() -> None:
    df = frame()
    df["kind"] = pd.Categorical(["p", "q", "q"])
    assert hexdigest(df) != hexdigest(frame())


def test_pandas_changed_dtype_changes_frame_digest() -> None:
    df = frame()
    df["n"] = df["n"].astype("int32")
    assert hexdigest(df) != hexdigest(frame())


def test_pandas_changed_column_name_changes_frame_digest() -> None:
    assert hexdigest(frame().rename(columns={"n": "m"})) != hexdigest(frame())


def test_pandas_changed_column_order_changes_frame_digest() -> None:
    df = frame()
    assert hexdigest(df[list(reversed(df.columns))]) != hexdigest(df)


def test_pandas_changed_index_changes_frame_digest() -> None:
    assert hexdigest(frame().rename(index={"r2": "rX"})) != hexdigest(frame())


def test_pandas_changed_index_name_changes_frame_digest() -> None:
    df = frame()
    df.index.name = "row"
    assert hexdigest(df) != hexdigest(frame())


def test_pandas_changed_value_changes_series_digest() -> None:
    s = pd.Series([1.0, 2.0, 3.0], name="s")
    t = s.copy()
    t.iloc[0] = 1.5
    assert hexdigest(s) == hexdigest(s.copy())
    assert hexdigest(s) != hexdigest(t)


def test_pandas_changed_dtype_changes_series_digest() -> None:
    s = pd.Series([1, 2, 3])
    assert hexdigest(s) != hexdigest(s.astype("float64"))


def test_pandas_changed_name_changes_series_digest() -> None:
    assert hexdigest(pd.Series([1, 2], name="a")) != hexdigest(pd.Series([1, 2], name="b"))


def test_pandas_changed_index_changes_series_digest() -> None:
    assert hexdigest(pd.Series([1, 2], index=[0, 1])) != hexdigest(pd.Series([1, 2], index=[0, 2]))


def test_pandas_changed_value_changes_index_digest() -> None:
    assert hexdigest(pd.Index(["a", "b"])) != hexdigest(pd.Index(["a", "c"]))


def test_pandas_changed_dtype_changes_index_digest() -> None:
    assert hexdigest(pd.Index([1, 2])) != hexdigest(pd.Index([1.0, 2.0]))


def test_pandas_changed_multiindex_level_changes_frame_digest() -> None:
    index = pd.MultiIndex.from_tuples([("a", 1), ("a", 2)])
    other = pd.MultiIndex.from_tuples([("a", 1), ("b", 2)])
    assert hexdigest(pd.DataFrame({"v": [1, 2]}, index=index)) != hexdigest(
        pd.DataFrame({"v": [1, 2]}, index=other)
    )


# ----- hash_funcs -------------------------------------------------------------------------


def test_hash_funcs_by_type_decides_the_key(tally: Tally) -> None:
    @memo(hash_funcs={Conn: lambda c: c.url})
    def rows(conn: Conn) -> int:
        return tally(conn.url)

    rows(Conn("db://a"))
    rows(Conn("db://a"))
    rows(Conn("db://b"))
    assert tally.runs == ["db://a", "db://b"]


def test_hash_funcs_by_qualified_name_decides_the_key(tally: Tally) -> None:
    @memo(hash_funcs={f"{Conn.__module__}.{Conn.__qualname__}": lambda c: c.url})
    def rows(conn: Conn) -> int:
        return tally(conn.url)

    rows(Conn("db://a"))
    rows(Conn("db://a"))
    rows(Conn("db://b"))
    assert tally.runs == ["db://a", "db://b"]


def test_hash_funcs_applies_to_values_inside_containers() -> None:
    funcs = {Conn: lambda c: c.url}
    assert hexdigest([Conn("a")], funcs) == hexdigest([Conn("a")], funcs)
    assert hexdigest({"c": Conn("a")}, funcs) != hexdigest({"c": Conn("b")}, funcs)


def test_hash_funcs_applies_to_globals(ns: dict[str, Any], tally: Tally) -> None:
    ns.update(Conn=Conn, db=Conn("db://a"), tally=tally)
    define(
        ns,
        """
        @memo(hash_funcs={Conn: lambda c: c.url})
        def rows():
            return tally(db.url)
        """,
    )
    ns["rows"]()
    ns["db"] = Conn("db://a")
    ns["rows"]()
    ns["db"] = Conn("db://b")
    ns["rows"]()
    assert tally.runs == ["db://a", "db://b"]


# ----- unhashable values and failing hash_funcs -------------------------------------------


def test_unhashable_argument_error_names_type_argument_and_both_fixes() -> None:
    @memo
    def query(conn: Any) -> int:
        return 1

    with pytest.raises(UnhashableTypeError) as info:
        query(threading.Lock())
    message = str(info.value)
    assert "lock" in message
    assert "argument conn" in message
    assert "hash_funcs" in message
    assert "_conn" in message


def test_generator_argument_is_unhashable() -> None:
    @memo
    def total(numbers: Any) -> int:
        return 1

    with pytest.raises(UnhashableTypeError, match="generator"):
        total(i for i in range(3))


def test_socket_argument_is_unhashable() -> None:
    @memo
    def send(sock: Any) -> int:
        return 1

    with socket.socket() as sock, pytest.raises(UnhashableTypeError) as info:
        send(sock)
    assert "socket" in str(info.value)
    assert "argument sock" in str(info.value)


def test_unhashable_value_inside_an_argument_names_the_argument() -> None:
    @memo
    def query(cfg: Any) -> int:
        return 1

    with pytest.raises(UnhashableTypeError, match="argument cfg"):
        query({"pool": [threading.Lock()]})


def test_unhashable_global_error_names_the_global_and_hash_funcs(ns: dict[str, Any]) -> None:
    ns["db"] = threading.Lock()
    define(
        ns,
        """
        @memo
        def query():
            return db.locked()
        """,
    )
    with pytest.raises(UnhashableTypeError) as info:
        ns["query"]()
    message = str(info.value)
    assert "lock" in message
    assert "global db" in message
    assert "hash_funcs" in message


def test_unhashable_global_of_a_called_function_names_the_chain(ns: dict[str, Any]) -> None:
    ns["pool"] = threading.Lock()
    define(
        ns,
        """
        def helper():
            return pool.locked()

        @memo
        def f():
            return helper()
        """,
    )
    with pytest.raises(UnhashableTypeError) as info:
        ns["f"]()
    assert "f -> helper -> global pool" in str(info.value)


def test_unhashable_argument_runs_nothing_and_caches_nothing(tally: Tally) -> None:
    @memo
    def query(conn: Any) -> int:
        return tally(conn)

    with pytest.raises(UnhashableTypeError):
        query(threading.Lock())
    assert tally.runs == []
    assert query.cache_info().currsize == 0


def test_unhashable_error_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        hexdigest(threading.Lock())


def test_raising_hash_funcs_entry_raises_user_hash_error_naming_the_entry() -> None:
    def broken(conn: Conn) -> str:
        raise ValueError("no url yet")

    @memo(hash_funcs={Conn: broken})
    def rows(conn: Conn) -> int:
        return 1

    with pytest.raises(UserHashError) as info:
        rows(Conn("db://a"))
    message = str(info.value)
    assert "hash_funcs entry" in message
    assert "Conn" in message
    assert "no url yet" in message
    assert "argument conn" in message


def test_raising_hash_funcs_entry_named_by_string_is_named_in_the_error() -> None:
    entry = f"{Conn.__module__}.{Conn.__qualname__}"

    @memo(hash_funcs={entry: lambda c: 1 / 0})
    def rows(conn: Conn) -> int:
        return 1

    with pytest.raises(UserHashError) as info:
        rows(Conn("db://a"))
    assert entry in str(info.value)


def test_raising_hash_funcs_entry_runs_nothing_and_caches_nothing(tally: Tally) -> None:
    @memo(hash_funcs={Conn: lambda c: 1 / 0})
    def rows(conn: Conn) -> int:
        return tally(conn)

    with pytest.raises(UserHashError):
        rows(Conn("db://a"))
    assert tally.runs == []
    assert rows.cache_info().currsize == 0


# ----- property-based: equal values hash equal, different values hash different -----------


@given(values)
def test_property_deep_copy_gives_equal_digest(value: Any) -> None:
    assert hexdigest(value) == hexdigest(copy.deepcopy(value))


@given(values)
def test_property_pickled_round_trip_gives_equal_digest(value: Any) -> None:
    assert hexdigest(value) == hexdigest(pickle.loads(pickle.dumps(value)))


@given(values, values)
def test_property_different_values_give_different_digests(a: Any, b: Any) -> None:
    assume(not same(a, b))
    assert hexdigest(a) != hexdigest(b)


@given(st.lists(scalars, min_size=1, max_size=6), st.data())
def test_property_one_changed_item_changes_digest(items: list[Any], data: Any) -> None:
    i = data.draw(st.integers(0, len(items) - 1))
    replacement = data.draw(scalars)
    assume(not same(items[i], replacement))
    changed = [*items[:i], replacement, *items[i + 1 :]]
    assert hexdigest(items) != hexdigest(changed)
