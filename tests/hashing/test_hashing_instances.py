"""Long lists of instances (dataclasses, attrs classes, pydantic models, namedtuples):
what a handler may claim is decided once per type and each class is written once per
hash, without losing what makes two lists differ.  Counted, not timed."""

from __future__ import annotations

import collections
import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import attrs
import pydantic
import pytest

from ipycache_ext.hashing import Hasher, core, hexdigest, register, unregister


@dataclasses.dataclass
class Point:
    x: int
    y: float
    name: str


@dataclasses.dataclass
class Other:
    x: int
    y: float
    name: str


@attrs.define
class AttrsPoint:
    x: int
    y: float
    name: str


class ModelPoint(pydantic.BaseModel):
    x: int
    y: float
    name: str


TuplePoint = collections.namedtuple("TuplePoint", "x y name")

KINDS = [Point, AttrsPoint, ModelPoint, TuplePoint]


def points(kind: Any, n: int = 1000) -> list[Any]:
    return [kind(x=i, y=i * 0.5, name=f"p{i}") for i in range(n)]


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_equal_lists_of_instances_hash_equal(kind: Any) -> None:
    assert hexdigest(points(kind)) == hexdigest(points(kind))


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_one_changed_field_in_a_long_list_of_instances_changes_the_digest(kind: Any) -> None:
    changed = points(kind)
    changed[777] = kind(x=777, y=777 * 0.5, name="other")
    assert hexdigest(points(kind)) != hexdigest(changed)


def test_a_list_of_instances_asks_the_handler_table_once_per_type_not_per_instance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[type] = []
    real = core.dispatch

    def counting(value: Any, hasher: Any) -> Any:
        asked.append(type(value))
        return real(value, hasher)

    monkeypatch.setattr(core, "dispatch", counting)
    hexdigest(points(Point, 50))
    for_a_few = len(asked)
    hexdigest(points(Point, 5000))
    assert asked.count(Point) == 0
    # The class, once per hash: what it reaches is asked for once too, whatever it is (on
    # Python 3.13 a dataclass's generated methods close over a few of dataclasses' objects).
    assert len(asked) == 2 * for_a_few <= 20


def test_instances_of_two_classes_keep_their_order_in_a_list() -> None:
    a, b = Point(1, 1.0, "p"), Other(1, 1.0, "p")
    assert hexdigest([a, b, a]) != hexdigest([a, b, b])
    assert hexdigest([a, b, a]) != hexdigest([b, a, b])
    assert hexdigest([a, b, b]) == hexdigest([Point(1, 1.0, "p"), b, Other(1, 1.0, "p")])


def test_instances_of_a_class_with_other_code_hash_differently() -> None:
    ns: dict[str, Any] = {"__name__": "__main__"}
    first = "import dataclasses\n@dataclasses.dataclass\nclass P:\n    x: int\n"
    exec(compile(first, "<cell-1>", "exec"), ns)
    before = hexdigest([ns["P"](i) for i in range(100)])
    second = first + "    def twice(self):\n        return 2 * self.x\n"
    exec(compile(second, "<cell-2>", "exec"), ns)
    assert hexdigest([ns["P"](i) for i in range(100)]) != before


class Tagged:
    """Claimed by a predicate rule only when ``tag`` is set: the rule is asked per instance."""

    def __init__(self, tag: bool, noise: int) -> None:
        self.tag = tag
        self.noise = noise


def digest_tagged(value: Tagged, hasher: Hasher) -> bytes:
    return hasher.digest_nested("tagged")


@pytest.fixture
def tagged_rule() -> Iterator[None]:
    register(lambda v: getattr(v, "tag", False) is True, digest_tagged)
    yield
    unregister(digest_tagged)


def test_a_predicate_rule_is_still_asked_for_every_instance_of_a_type(tagged_rule: None) -> None:
    plain = [Tagged(False, i) for i in range(100)]
    # The claimed instance's noise does not count; an unclaimed one's does.
    assert hexdigest([*plain, Tagged(True, 1)]) == hexdigest([*plain, Tagged(True, 2)])
    assert hexdigest([*plain, Tagged(False, 1)]) != hexdigest([*plain, Tagged(False, 2)])


def test_hash_funcs_for_a_type_applies_to_every_instance_in_a_long_list() -> None:
    hasher = Hasher({Point: lambda p: p.x})
    renamed = [Point(i, 0.0, "other") for i in range(1000)]
    assert hasher.digest(points(Point)) == hasher.digest(renamed)
    assert hasher.digest(points(Point)) != hasher.digest(renamed[:-1] + [Point(0, 0.0, "")])


def test_a_set_subclass_inside_a_list_of_instances_is_still_order_independent() -> None:
    class Tags(frozenset[str]):
        pass

    one, two = Tags(["a", "b", "c"]), Tags(["c", "b", "a"])
    assert hexdigest([*points(Point, 10), one]) == hexdigest([*points(Point, 10), two])


@dataclasses.dataclass
class Holder:
    """An object with a set in its state, as pydantic models carry their fields set."""

    items: Any
    name: str


def test_a_set_in_instances_states_keeps_its_members_in_the_digest() -> None:
    base = [Holder({"a", "b"}, str(i)) for i in range(100)]
    changed = [*base[:-1], Holder({"a", "c"}, "99")]
    assert hexdigest(base) != hexdigest(changed)
    assert hexdigest(base) == hexdigest([Holder({"b", "a"}, str(i)) for i in range(100)])


def test_a_set_and_a_frozenset_in_instances_states_differ() -> None:
    sets = [Holder({"a", "b"}, "x"), Holder({"a", "b"}, "y")]
    frozen = [Holder(frozenset({"a", "b"}), "x"), Holder(frozenset({"a", "b"}), "y")]
    mixed = [Holder({"a", "b"}, "x"), Holder(frozenset({"a", "b"}), "y")]
    assert len({hexdigest(sets), hexdigest(frozen), hexdigest(mixed)}) == 3


def test_sets_equal_in_python_but_of_other_member_types_differ_in_states() -> None:
    assert hexdigest([Holder({1}, "x"), Holder({1}, "y")]) != hexdigest(
        [Holder({1}, "x"), Holder({True}, "y")]
    )


def test_pydantic_models_differing_only_in_the_fields_set_explicitly_differ() -> None:
    explicit = [ModelPoint(x=1, y=0.5, name="p") for _ in range(10)]
    partial = [
        ModelPoint.model_construct(_fields_set={"x", "y"}, x=1, y=0.5, name="p") for _ in range(10)
    ]
    assert hexdigest(explicit) == hexdigest([ModelPoint(x=1, y=0.5, name="p") for _ in range(10)])
    assert explicit[0].model_fields_set != partial[0].model_fields_set
    assert hexdigest(explicit) != hexdigest(partial)


@pytest.mark.parametrize("kind", [ModelPoint, Holder], ids=["pydantic", "set-in-state"])
def test_a_list_of_objects_with_sets_in_their_state_is_pickled_not_walked(
    kind: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    walked: list[type] = []
    real = core.Hasher._walk_container

    def counting(self: core.Hasher, value: Any) -> Any:
        walked.append(type(value))
        return real(self, value)

    monkeypatch.setattr(core.Hasher, "_walk_container", counting)
    make = (lambda i: ModelPoint(x=i, y=0.5, name="p")) if kind is ModelPoint else None
    hexdigest([make(i) if make else Holder({"a"}, str(i)) for i in range(1000)])
    assert kind not in walked
    assert len(walked) <= 5  # the set and the class's own bookkeeping, once each


def test_a_list_of_many_distinct_functions_hashes_each_by_its_code() -> None:
    ns: dict[str, Any] = {"__name__": "__main__"}
    source = "".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(400))
    exec(compile(source, "<cell>", "exec"), ns)
    functions = [ns[f"f{i}"] for i in range(400)]
    digest = hexdigest(functions * 2)
    assert digest == hexdigest(functions * 2)
    ns["f399"] = ns["f0"]
    assert hexdigest([ns[f"f{i}"] for i in range(400)] * 2) != digest


MODELS_SOURCE = """
import pydantic


class Model(pydantic.BaseModel):
    x: int
    tags: set[str]


VALUES = [
    [Model(x=i, tags={"alpha", "beta", "gamma", str(i)}) for i in range(50)],
    [Model.model_construct(_fields_set={"x"}, x=i, tags=set()) for i in range(50)],
]
"""


@pytest.mark.parametrize("seed", ["0", "7"])
def test_lists_of_models_with_sets_hash_alike_under_another_hash_seed(seed: str) -> None:
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(MODELS_SOURCE, "<string>", "exec", dont_inherit=True), namespace)
    here = [hexdigest(v) for v in namespace["VALUES"]]
    script = MODELS_SOURCE + (
        "from ipycache_ext.hashing import hexdigest\n"
        "print('\\n'.join(hexdigest(v) for v in VALUES))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": seed}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == here
