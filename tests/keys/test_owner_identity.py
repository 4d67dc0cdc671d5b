"""Whose entries an entry is (its owner) and what its key digests are made of are
persisted: entries written before the keys moved into structured owners must still be
found.  The values below are what the code at 2f4f490 (``"cell:" + cell_label(...)``
and ``owner.encode()``) gave for the same function and cell."""

from __future__ import annotations

from typing import Any

import pytest

from ipycache_ext import messages
from ipycache_ext.deps.cell import CellName, analyze, cell_name
from ipycache_ext.errors import Subject
from ipycache_ext.hashing.core import Hasher
from ipycache_ext.keys.call import CallKeys, CallShape, function_owner
from ipycache_ext.keys.cell import cell_owner, key_of_cell
from ipycache_ext.parts import Owner, OwnerKind
from ipycache_ext.store.persistent import Tier

CELL_SOURCE = "total = sum(values) * RATE\nlabel = 'done'"


def _scale() -> Any:
    namespace: dict[str, Any] = {"__name__": "__main__"}
    source = "RATE = 3\ndef scale(x, y=2.5):\n    return x * y * RATE\n"
    # Compiled without this module's ``annotations`` future: its flags are in the code.
    exec(compile(source, "<string>", "exec", dont_inherit=True), namespace)
    return namespace["scale"]


@pytest.mark.pinned
def test_a_functions_owner_and_key_are_the_bytes_persisted_before() -> None:
    fn = _scale()
    owner = function_owner(fn)
    digest = CallKeys(fn, owner, CallShape(fn), Hasher()).key((4,), {"y": 1.5}).digest
    assert owner == Owner(OwnerKind.FUNCTION, "__main__.scale")
    assert owner.stored == "__main__.scale"
    assert digest.hex() == "dbb320247eeb8ba80cf0c3b005e69ae3"
    assert Tier.entry_key(owner.stored, digest) == "v2-a4ab1578a583a55cfa0efb4aa2cf09e5"


@pytest.mark.pinned
def test_a_cells_owner_and_key_are_the_bytes_persisted_before() -> None:
    facts = analyze(CELL_SOURCE)
    hasher = Hasher(subject=Subject("cell", "the cell"))
    digest = key_of_cell(facts, {"values": [1, 2, 3], "RATE": 3}, "--ttl 60", hasher).digest
    owner = cell_owner(cell_name(None, facts, CELL_SOURCE))
    assert owner == Owner(OwnerKind.CELL, "cell [total, label]")
    assert owner.stored == "cell:cell [total, label]"
    assert digest.hex() == "b69950bfc616845cf7f4e9c808484922"
    assert Tier.entry_key(owner.stored, digest) == "v2-5600affd7f2bc4363f0f7895a6fa3733"


def test_a_named_cell_and_a_cell_named_by_its_first_line_keep_their_owners() -> None:
    named = cell_owner(cell_name("prices", analyze(CELL_SOURCE), CELL_SOURCE))
    long_line = "print(f'a very long first line that goes on and on {1+1}')"
    first = cell_owner(cell_name(None, analyze(long_line), long_line))
    odd_line = "print('at 0x1 ' * 30)"
    odd = cell_owner(cell_name(None, analyze(odd_line), odd_line))
    assert named.stored == "cell:prices"
    assert first.stored == "cell:cell [print(f'a very lo... on and on {1+1}')]"
    assert odd.stored == "cell:cell [print('at 0x1 ' * 30)]"


def test_a_cells_owner_is_named_as_its_label_reads_today() -> None:
    names = [
        CellName("prices", ("df",), False, "df = load()"),
        CellName(None, ("a", "b", "c"), True, "a = b = c = d = 1"),
        CellName(None, (), False, "print('" + "x" * 80 + "')"),
        CellName(None, (), False, "f = lambda: 0  # at 0x7f"),
        CellName(None, (), False, ""),
    ]
    for name in names:
        assert cell_owner(name).name == messages.cell_label(name)


def test_an_owner_read_back_from_its_stored_text_is_the_same_owner() -> None:
    owners = [
        Owner(OwnerKind.FUNCTION, "pkg.mod.Model.fit"),
        Owner(OwnerKind.CELL, "cell [df]"),
        Owner(OwnerKind.CELL, "cell: a name with a colon"),
    ]
    assert [Owner.read(owner.stored) for owner in owners] == owners
