"""The handler table of the hashing package, its lazy numpy/pandas modules, and the
structured errors hashing raises."""

from __future__ import annotations

import ast
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ipycache_ext import UnhashableTypeError, UserHashError, memo
from ipycache_ext.errors import Subject
from ipycache_ext.hashing import Hasher, hexdigest, register, unregister

HASHING = Path(__file__).resolve().parents[2] / "ipycache_ext" / "hashing"


class Vector:
    """A third-party type whose ``cache`` attribute must not count in its digest."""

    def __init__(self, coords: list[float], cache: Any = None) -> None:
        self.coords = coords
        self.cache = cache


def digest_vector(value: Vector, hasher: Hasher) -> bytes:
    digest_vector.calls += 1  # type: ignore[attr-defined]
    return hasher.digest_nested(("Vector", value.coords))


@pytest.fixture
def vector_handler() -> Iterator[None]:
    digest_vector.calls = 0  # type: ignore[attr-defined]
    register(Vector, digest_vector)
    yield
    unregister(digest_vector)


ATOMS = [0, -5, 2**70, "weight", "", "é" * 9000, 1.5, float("nan"), True, None, b"ab", 1j]


@pytest.mark.parametrize("atom", ATOMS, ids=repr)
def test_an_atom_inside_a_value_hashes_as_the_handler_table_would_hash_it(atom: Any) -> None:
    # Atoms are looked up before the table; a Hasher with hash_funcs goes through it.
    through_table = Hasher(hash_funcs={Vector: lambda v: v.coords})
    assert through_table.has_hash_funcs
    assert Hasher().digest_nested(atom) == through_table.digest_nested(atom)
    assert hexdigest({"k": atom}) == hexdigest({"k": atom})


def test_a_handler_for_a_subclass_of_str_still_hashes_its_values() -> None:
    class Tag(str):
        pass

    def by_lower_case(value: Tag, hasher: Hasher) -> bytes:
        return hasher.digest_nested(("Tag", str(value).lower()))

    register(Tag, by_lower_case)
    try:
        assert hexdigest([Tag("A")]) == hexdigest([Tag("a")])
        assert hexdigest([Tag("a")]) != hexdigest(["a"])
    finally:
        unregister(by_lower_case)


def test_a_handler_registered_for_a_third_party_type_gives_its_digest(
    vector_handler: None,
) -> None:
    assert hexdigest(Vector([1.0, 2.0], cache=object())) == hexdigest(Vector([1.0, 2.0]))
    assert hexdigest(Vector([1.0, 2.0])) != hexdigest(Vector([1.0, 3.0]))
    assert digest_vector.calls == 4  # type: ignore[attr-defined]


def test_a_registered_handler_is_used_on_both_hashing_paths(vector_handler: None) -> None:
    # A list is pickled (reducer_override asks the table); a set is walked.
    assert hexdigest([Vector([1.0]), 2]) == hexdigest([Vector([1.0], cache=[3]), 2])
    assert hexdigest({"k": (Vector([1.0]),)}) != hexdigest({"k": (Vector([2.0]),)})
    assert hexdigest({Vector([1.0], cache=1)}) == hexdigest({Vector([1.0], cache=2)})
    assert hexdigest([{1}, Vector([1.0])]) == hexdigest([{1}, Vector([1.0], cache="x")])


def test_an_unregistered_handler_is_no_longer_used() -> None:
    digest_vector.calls = 0  # type: ignore[attr-defined]
    register(Vector, digest_vector)
    unregister(digest_vector)
    assert hexdigest(Vector([1.0], cache=1)) != hexdigest(Vector([1.0], cache=2))
    assert digest_vector.calls == 0  # type: ignore[attr-defined]


def test_hash_funcs_entries_take_precedence_over_a_registered_handler(
    vector_handler: None,
) -> None:
    hasher = Hasher({Vector: lambda v: v.cache})
    assert hasher.digest(Vector([1.0], cache=1)) == hasher.digest(Vector([2.0], cache=1))


def test_numpy_and_pandas_handler_modules_are_imported_only_when_such_a_value_is_hashed() -> None:
    script = (
        "import sys\n"
        "import ipycache_ext\n"
        "from ipycache_ext.hashing import hexdigest\n"
        "hexdigest([1, 'a', {'b': (2.5, None)}, {3}])\n"
        "print('ipycache_ext.hashing.arrays' in sys.modules, end=' ')\n"
        "print('ipycache_ext.hashing.frames' in sys.modules, end=' ')\n"
        "import numpy\n"
        "hexdigest([numpy.arange(3)])\n"
        "print('ipycache_ext.hashing.arrays' in sys.modules, end=' ')\n"
        "print('ipycache_ext.hashing.frames' in sys.modules, end=' ')\n"
        "import pandas\n"
        "hexdigest(pandas.Series([1]))\n"
        "print('ipycache_ext.hashing.frames' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False", "True", "False", "True"]


def test_the_hashing_package_imports_nothing_from_deps() -> None:
    imported = []
    for path in sorted(HASHING.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = "ipycache_ext" if node.level == 2 else "ipycache_ext.hashing"
                module = node.module or ""
                full = module if node.level == 0 else f"{base}.{module}".rstrip(".")
                imported += [full] + [f"{full}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                imported += [alias.name for alias in node.names]
    assert imported, "the walk found no imports at all"
    assert [name for name in imported if name.startswith("ipycache_ext.deps")] == []


def test_unhashable_error_carries_its_type_place_parameter_and_subject() -> None:
    @memo
    def query(cfg: Any) -> int:
        return 1

    with pytest.raises(UnhashableTypeError) as info:
        query({"pool": [threading.Lock()]})
    err = info.value
    assert err.type_name == "_thread.lock"
    assert err.where == "argument cfg['pool'][0]"
    assert err.param == "cfg"
    assert err.subject.kind == "function"
    assert err.subject.name.endswith("<locals>.query")


def test_unhashable_error_of_a_cell_is_worded_for_the_cell() -> None:
    hasher = Hasher(subject=Subject("cell", "the cell"))
    with pytest.raises(UnhashableTypeError) as info:
        hasher.digest([threading.Lock()], "variable lock", "lock")
    assert str(info.value).startswith("%%memo cannot hash a _thread.lock found in variable lock[0]")
    assert info.value.subject.kind == "cell"


def test_user_hash_error_carries_the_entry_and_what_it_raised() -> None:
    boom = ValueError("no url yet")

    def broken(v: Vector) -> Any:
        raise boom

    hasher = Hasher({Vector: broken}, subject=Subject("function", "rows"))
    with pytest.raises(UserHashError) as info:
        hasher.digest([Vector([1.0])], "argument v", "v")
    err = info.value
    assert (err.entry, err.cause, err.subject.name) == (f"{__name__}.Vector", boom, "rows")
    assert "raised ValueError: no url yet while hashing a " in str(err)
