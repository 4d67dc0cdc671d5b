"""What a call's key depends on besides its arguments: the function's identity and code,
the globals and closure values it reads, and, transitively, the user code it uses.

Notebook edits are simulated by running two versions of a source into one namespace.
"""

from __future__ import annotations

import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import Tally, define

from ipycache_ext import memo
from ipycache_ext.deps import usercode as codedeps
from ipycache_ext.deps.code import short_atom
from ipycache_ext.hashing import hexdigest
from ipycache_ext.hashing.core import Hasher


@pytest.fixture
def nb(ns: dict[str, Any], tally: Tally) -> dict[str, Any]:
    """A notebook namespace holding ``tally``, which memoized bodies call when they run."""
    ns["tally"] = tally
    return ns


def runs(ns: dict[str, Any]) -> int:
    return len(ns["tally"])


# ----- identity and code ------------------------------------------------------------------


def test_functions_with_same_code_but_other_names_have_their_own_entries(nb: dict) -> None:
    define(
        nb,
        """
        @memo
        def f(x):
            return tally(x)

        @memo
        def g(x):
            return tally(x)
        """,
    )
    nb["f"](1)
    nb["g"](1)
    assert runs(nb) == 2


def test_same_name_in_another_module_has_its_own_entries(tally: Tally) -> None:
    first: dict[str, Any] = {"__name__": "nb_one", "memo": memo, "tally": tally}
    second: dict[str, Any] = {"__name__": "nb_two", "memo": memo, "tally": tally}
    source = "@memo\ndef f(x):\n    return tally(x)\n"
    define(first, source)["f"](1)
    define(second, source)["f"](1)
    assert len(tally) == 2


def test_changed_body_misses(nb: dict) -> None:
    define(nb, "@memo\ndef f(x):\n    tally(x)\n    return x + 1\n")
    nb["f"](1)
    define(nb, "@memo\ndef f(x):\n    tally(x)\n    return x - 1\n")
    assert nb["f"](1) == 0
    assert runs(nb) == 2


def test_changed_body_changed_back_hits_again(nb: dict) -> None:
    v1 = "@memo\ndef f(x):\n    tally(x)\n    return x + 1\n"
    v2 = "@memo\ndef f(x):\n    tally(x)\n    return x - 1\n"
    define(nb, v1)["f"](1)
    define(nb, v2)["f"](1)
    define(nb, v1)["f"](1)
    assert runs(nb) == 2


def test_changed_constant_misses(nb: dict) -> None:
    define(nb, "@memo\ndef f():\n    tally(0)\n    return 'v1'\n")
    nb["f"]()
    define(nb, "@memo\ndef f():\n    tally(0)\n    return 'v2'\n")
    assert nb["f"]() == "v2"


def test_changed_constant_in_nested_function_misses(nb: dict) -> None:
    source = """
    @memo
    def f():
        tally(0)
        def inner():
            return {value}
        return inner()
    """
    define(nb, source.format(value=1))["f"]()
    assert define(nb, source.format(value=2))["f"]() == 2


def test_changed_lambda_inside_misses(nb: dict) -> None:
    source = "@memo\ndef f(xs):\n    tally(0)\n    return sorted(xs, key=lambda x: {key})\n"
    define(nb, source.format(key="x"))["f"]([3, 1, 2])
    assert define(nb, source.format(key="-x"))["f"]([3, 1, 2]) == [3, 2, 1]


def test_changed_attribute_name_misses(nb: dict) -> None:
    define(nb, "@memo\ndef f(z):\n    tally(z)\n    return z.real\n")
    nb["f"](complex(1, 2))
    define(nb, "@memo\ndef f(z):\n    tally(z)\n    return z.imag\n")
    assert nb["f"](complex(1, 2)) == 2.0


def test_changed_default_value_misses(nb: dict) -> None:
    define(nb, "@memo\ndef f(a, b=1):\n    return tally(a + b)\n")
    nb["f"](1)
    define(nb, "@memo\ndef f(a, b=2):\n    return tally(a + b)\n")
    nb["f"](1)
    assert nb["tally"].runs == [2, 3]


def test_changed_default_of_left_out_parameter_misses(nb: dict) -> None:
    define(nb, "@memo\ndef f(a, _scale=1):\n    return tally(a * _scale)\n")
    nb["f"](5)
    define(nb, "@memo\ndef f(a, _scale=2):\n    return tally(a * _scale)\n")
    nb["f"](5)
    assert nb["tally"].runs == [5, 10]


def test_changed_keyword_only_default_misses(nb: dict) -> None:
    define(nb, "@memo\ndef f(a, *, _scale=1):\n    return tally(a * _scale)\n")
    nb["f"](5)
    define(nb, "@memo\ndef f(a, *, _scale=2):\n    return tally(a * _scale)\n")
    nb["f"](5)
    assert nb["tally"].runs == [5, 10]


PLAIN = """
@memo
def f(x):
    y = x * 2
    return tally(y)
"""

COMMENTED_ABOVE = """
# a comment added above
# and another one


@memo
def f(x):
    y = x * 2
    return tally(y)
"""

COMMENTED_INSIDE = """
@memo
def f(x):
    # why we double
    y = x * 2  # doubled

    return tally(y)  # done
"""

MOVED_DOWN = "\n" * 40 + PLAIN


@pytest.mark.parametrize(
    "edited",
    [COMMENTED_ABOVE, COMMENTED_INSIDE, MOVED_DOWN],
    ids=["comment_above", "comment_inside", "moved_down"],
)
def test_editing_comments_blank_lines_or_line_numbers_keeps_entries(nb: dict, edited: str) -> None:
    define(nb, PLAIN)["f"](3)
    define(nb, edited)["f"](3)
    assert runs(nb) == 1


# ----- globals, closures and attribute chains ---------------------------------------------


def test_changed_global_misses(nb: dict) -> None:
    nb["factor"] = 2
    define(nb, "@memo\ndef f(x):\n    return tally(x * factor)\n")
    nb["f"](5)
    nb["factor"] = 3
    nb["f"](5)
    assert nb["tally"].runs == [10, 15]


def test_unchanged_global_hits(nb: dict) -> None:
    nb["factor"] = [1, 2]
    define(nb, "@memo\ndef f():\n    return tally(sum(factor))\n")
    nb["f"]()
    nb["factor"] = [1, 2]
    nb["f"]()
    assert runs(nb) == 1


def test_mutated_global_misses(nb: dict) -> None:
    nb["items"] = [1, 2]
    define(nb, "@memo\ndef f():\n    return tally(sum(items))\n")
    nb["f"]()
    nb["items"].append(3)
    nb["f"]()
    assert nb["tally"].runs == [3, 6]


def test_global_read_only_by_a_nested_function_counts(nb: dict) -> None:
    nb["offset"] = 1
    define(
        nb,
        """
        @memo
        def f(xs):
            return tally([(lambda v: v + offset)(x) for x in xs])
        """,
    )
    nb["f"]([1, 2])
    nb["offset"] = 10
    nb["f"]([1, 2])
    assert nb["tally"].runs == [[2, 3], [11, 12]]


def test_changed_closure_variable_misses(tally: Tally) -> None:
    def make(step: int) -> Any:
        @memo
        def add(x: int) -> int:
            return tally(x + step)

        return add

    make(1)(10)
    make(2)(10)
    make(2)(10)
    assert tally.runs == [11, 12]


def test_changed_attribute_in_chain_misses(nb: dict) -> None:
    nb["cfg"] = types.SimpleNamespace(threshold=0.5, label="run 1")
    define(nb, "@memo\ndef f(xs):\n    return tally([x for x in xs if x > cfg.threshold])\n")
    nb["f"]([0.1, 0.7])
    nb["cfg"].threshold = 0.05
    nb["f"]([0.1, 0.7])
    assert nb["tally"].runs == [[0.7], [0.1, 0.7]]


def test_changed_unrelated_attribute_keeps_entry(nb: dict) -> None:
    nb["cfg"] = types.SimpleNamespace(threshold=0.5, label="run 1")
    define(nb, "@memo\ndef f(xs):\n    return tally([x for x in xs if x > cfg.threshold])\n")
    nb["f"]([0.1, 0.7])
    nb["cfg"].label = "run 2"
    nb["f"]([0.1, 0.7])
    assert runs(nb) == 1


def test_changed_attribute_of_user_class_instance_in_chain_misses(nb: dict) -> None:
    define(
        nb,
        """
        class Config:
            def __init__(self):
                self.model = type("Model", (), {})()
                self.model.depth = 3
                self.model.name = "a"

        cfg = Config()

        @memo
        def f():
            return tally(cfg.model.depth)
        """,
    )
    nb["f"]()
    nb["cfg"].model.name = "b"
    nb["f"]()
    nb["cfg"].model.depth = 4
    nb["f"]()
    assert nb["tally"].runs == [3, 4]


def test_rebound_global_used_through_a_chain_misses(nb: dict) -> None:
    nb["cfg"] = types.SimpleNamespace(threshold=1)
    define(nb, "@memo\ndef f():\n    return tally(cfg.threshold)\n")
    nb["f"]()
    nb["cfg"] = types.SimpleNamespace(threshold=2)
    nb["f"]()
    assert nb["tally"].runs == [1, 2]


# ----- user code used by the function, transitively ---------------------------------------

HELPER_V1 = "def helper(x):\n    return x + 1\n"
HELPER_V2 = "def helper(x):\n    return x + 100\n"
OUTER = "@memo\ndef outer(x):\n    return tally(helper(x))\n"


def test_changed_inner_function_misses_outer(nb: dict) -> None:
    define(nb, HELPER_V1 + OUTER)["outer"](1)
    define(nb, HELPER_V2)
    nb["outer"](1)
    assert nb["tally"].runs == [2, 101]


def test_redefined_inner_function_with_same_code_keeps_outer_entry(nb: dict) -> None:
    define(nb, HELPER_V1 + OUTER)["outer"](1)
    define(nb, HELPER_V1)
    nb["outer"](1)
    assert runs(nb) == 1


def test_changed_global_read_by_inner_function_misses_outer(nb: dict) -> None:
    nb["step"] = 1
    define(nb, "def helper(x):\n    return x + step\n" + OUTER)["outer"](1)
    nb["step"] = 5
    nb["outer"](1)
    assert nb["tally"].runs == [2, 6]


def test_changed_function_two_calls_deep_misses_outer(nb: dict) -> None:
    define(nb, "def deep(x):\n    return x\ndef helper(x):\n    return deep(x)\n" + OUTER)
    nb["outer"](1)
    define(nb, "def deep(x):\n    return -x\n")
    nb["outer"](1)
    assert nb["tally"].runs == [1, -1]


def test_changed_memoized_inner_function_misses_outer(nb: dict) -> None:
    define(nb, "@memo\n" + HELPER_V1 + OUTER)["outer"](1)
    define(nb, "@memo\n" + HELPER_V2)
    nb["outer"](1)
    assert nb["tally"].runs == [2, 101]


def test_changed_function_passed_but_not_called_misses(nb: dict) -> None:
    define(nb, HELPER_V1 + "@memo\ndef outer(xs):\n    return tally(list(map(helper, xs)))\n")
    nb["outer"]([1])
    define(nb, HELPER_V2)
    nb["outer"]([1])
    assert nb["tally"].runs == [[2], [101]]


def test_function_argument_is_keyed_by_its_code(nb: dict) -> None:
    define(nb, "@memo\ndef apply(fn, x):\n    return tally(fn(x))\n")
    nb["apply"](eval("lambda v: v + 1"), 1)
    nb["apply"](eval("lambda v: v + 1"), 1)
    nb["apply"](eval("lambda v: v * 10"), 1)
    assert nb["tally"].runs == [2, 10]


def test_closure_value_of_a_function_argument_is_part_of_its_digest(nb: dict) -> None:
    define(
        nb,
        """
        def make_adder(k):
            return lambda v: v + k

        @memo
        def apply(fn, x):
            return tally(fn(x))
        """,
    )
    nb["apply"](nb["make_adder"](1), 1)
    nb["apply"](nb["make_adder"](1), 1)
    nb["apply"](nb["make_adder"](5), 1)
    assert nb["tally"].runs == [2, 6]


def test_library_functions_as_arguments_are_keyed_by_name(nb: dict) -> None:
    define(nb, "@memo\ndef apply(fn, xs):\n    return tally(fn(xs))\n")
    nb["apply"](max, [1, 2])
    nb["apply"](max, [1, 2])
    nb["apply"](min, [1, 2])
    assert nb["tally"].runs == [2, 1]


CLASS_V1 = """
class Model:
    scale = 2

    def predict(self, x):
        return x * self.scale
"""


def test_changed_method_of_used_class_misses(nb: dict) -> None:
    define(nb, CLASS_V1 + "@memo\ndef f(x):\n    return tally(Model().predict(x))\n")
    nb["f"](3)
    define(nb, CLASS_V1.replace("x * self.scale", "x * self.scale + 1"))
    nb["f"](3)
    assert nb["tally"].runs == [6, 7]


def test_changed_class_attribute_misses(nb: dict) -> None:
    define(nb, CLASS_V1 + "@memo\ndef f(x):\n    return tally(Model().predict(x))\n")
    nb["f"](3)
    nb["Model"].scale = 3
    nb["f"](3)
    assert nb["tally"].runs == [6, 9]


def test_changed_global_read_by_a_method_misses(nb: dict) -> None:
    nb["bias"] = 1
    define(
        nb,
        "class Model:\n    def predict(self, x):\n        return x + bias\n"
        "@memo\ndef f(x):\n    return tally(Model().predict(x))\n",
    )
    nb["f"](1)
    nb["bias"] = 2
    nb["f"](1)
    assert nb["tally"].runs == [2, 3]


def test_class_that_refers_to_itself_is_tracked(nb: dict) -> None:
    source = """
    class Tree:
        def __init__(self, depth):
            self.children = [Tree(depth - 1) for _ in range(2)] if depth else []

        def size(self):
            return {base} + sum(c.size() for c in self.children)

    @memo
    def count(depth):
        return tally(Tree(depth).size())
    """
    define(nb, source.format(base=1))["count"](2)
    nb["count"](2)
    define(nb, source.format(base=10))
    nb["count"](2)
    assert nb["tally"].runs == [7, 70]


def test_changed_base_class_method_misses(nb: dict) -> None:
    base = "class Base:\n    def offset(self):\n        return {value}\n"
    define(
        nb,
        base.format(value=1)
        + "class Child(Base):\n    pass\n"
        + "@memo\ndef f():\n    return tally(Child().offset())\n",
    )
    nb["f"]()
    define(nb, base.format(value=2))
    define(nb, "class Child(Base):\n    pass\n")
    nb["f"]()
    assert nb["tally"].runs == [1, 2]


def test_changed_property_of_used_class_misses(nb: dict) -> None:
    source = "class Box:\n    @property\n    def size(self):\n        return {value}\n"
    define(nb, source.format(value=1) + "@memo\ndef f():\n    return tally(Box().size)\n")
    nb["f"]()
    define(nb, source.format(value=2))
    nb["f"]()
    assert nb["tally"].runs == [1, 2]


def test_recursive_memoized_function_is_keyed_and_cached(nb: dict) -> None:
    define(
        nb,
        """
        @memo
        def fact(n):
            tally(n)
            return 1 if n <= 1 else n * fact(n - 1)
        """,
    )
    assert nb["fact"](5) == 120
    assert nb["fact"](6) == 720
    assert nb["tally"].runs == [5, 4, 3, 2, 1, 6]


def test_mutually_recursive_functions_are_tracked(nb: dict) -> None:
    define(
        nb,
        """
        def is_even(n):
            return True if n == 0 else is_odd(n - 1)

        def is_odd(n):
            return False if n == 0 else is_even(n - 1)

        @memo
        def check(n):
            return tally(is_even(n))
        """,
    )
    nb["check"](3)
    nb["check"](3)
    define(nb, "def is_odd(n):\n    return True if n == 0 else is_even(n - 1)\n")
    nb["check"](3)
    assert nb["tally"].runs == [False, True]


def test_recursive_helper_function_is_tracked(nb: dict) -> None:
    helper = "def walk(n):\n    return {base} if n == 0 else walk(n - 1)\n"
    define(nb, helper.format(base=0) + "@memo\ndef f(n):\n    return tally(walk(n))\n")
    nb["f"](3)
    define(nb, helper.format(base=1))
    nb["f"](3)
    assert nb["tally"].runs == [0, 1]


# ----- user code versus library code ------------------------------------------------------


def test_changed_global_of_user_module_function_misses(
    nb: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from userpkg import helpers

    nb["helpers"] = helpers
    define(nb, "@memo\ndef f(x):\n    return tally(helpers.scale(x))\n")
    nb["f"](5)
    monkeypatch.setattr(helpers, "FACTOR", 3)
    nb["f"](5)
    assert nb["tally"].runs == [10, 15]


def test_user_module_function_imported_by_name_is_tracked(
    nb: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from userpkg.helpers import scale

    nb["scale"] = scale
    define(nb, "@memo\ndef f(x):\n    return tally(scale(x))\n")
    nb["f"](5)
    monkeypatch.setattr(sys.modules["userpkg.helpers"], "FACTOR", 10)
    nb["f"](5)
    assert nb["tally"].runs == [10, 50]


def test_changed_class_attribute_of_user_module_class_misses(
    nb: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from userpkg.helpers import Model

    nb["Model"] = Model
    define(nb, "@memo\ndef f(x):\n    return tally(Model().predict(x))\n")
    nb["f"](1)
    monkeypatch.setattr(Model, "depth", 4)
    nb["f"](1)
    assert nb["tally"].runs == [5, 6]


LIBRARY_SOURCE = """
OFFSET = 0


def shift(x):
    return x + OFFSET
"""


def _import_from(folder: Path, name: str) -> Iterator[types.ModuleType]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(textwrap.dedent(LIBRARY_SOURCE))
    sys.path.insert(0, str(folder))
    try:
        __import__(name)
        yield sys.modules[name]
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop(name, None)


@pytest.fixture
def outside_module(tmp_path: Path) -> Iterator[types.ModuleType]:
    """A module in a folder outside the working directory: library code."""
    yield from _import_from(tmp_path / "elsewhere", "ipc_outside_lib")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder as the working directory, with a virtual environment inside."""
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    return root


def test_library_function_is_not_traversed(nb: dict, outside_module: types.ModuleType) -> None:
    nb["lib"] = outside_module
    define(nb, "@memo\ndef f(x):\n    return tally(lib.shift(x))\n")
    nb["f"](1)
    outside_module.OFFSET = 100
    nb["f"](1)
    assert nb["tally"].runs == [1]


def test_library_function_imported_by_name_is_keyed_by_name(
    nb: dict, outside_module: types.ModuleType
) -> None:
    nb["shift"] = outside_module.shift
    define(nb, "@memo\ndef f(x):\n    return tally(shift(x))\n")
    nb["f"](1)
    outside_module.OFFSET = 100
    nb["f"](1)
    assert nb["tally"].runs == [1]


def test_module_under_working_directory_is_user_code(nb: dict, project: Path) -> None:
    for module in _import_from(project, "ipc_project_mod"):
        nb["mod"] = module
        define(nb, "@memo\ndef f(x):\n    return tally(mod.shift(x))\n")
        nb["f"](1)
        module.OFFSET = 100
        nb["f"](1)
    assert nb["tally"].runs == [1, 101]


def test_module_inside_an_environment_under_working_directory_is_library(
    nb: dict, project: Path
) -> None:
    site = project / ".venv" / "lib" / "python3.11" / "site-packages"
    for module in _import_from(site, "ipc_venv_mod"):
        nb["mod"] = module
        define(nb, "@memo\ndef f(x):\n    return tally(mod.shift(x))\n")
        nb["f"](1)
        module.OFFSET = 100
        nb["f"](1)
    assert nb["tally"].runs == [1]


def test_installed_package_is_library_even_with_its_environment_under_cwd() -> None:
    assert not codedeps.is_user_module(pd.concat.__module__)
    assert hexdigest(pd.concat) == hexdigest(pd.concat)
    assert hexdigest(pd.concat) != hexdigest(pd.merge)


def test_test_files_under_cwd_are_user_code() -> None:
    assert codedeps.is_user_file(__file__)
    assert codedeps.is_user_module("__main__")


@pytest.mark.parametrize("value", [0, -1, 7, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 10**40])
def test_an_int_argument_gets_the_key_data_the_hasher_gives_it(value: int) -> None:
    """short_atom encodes 64-bit ints itself: the same bytes as ``Hasher.part``."""
    hasher = Hasher()
    assert short_atom(hasher, value) == hasher.part(value)
