"""A tiered store (``near|far``: a local directory in front of the team's store) judges
each copy on its own: a bad local copy is dropped locally and the team's copy is used
and copied back; a bad team copy is dropped from both and recomputed.  Two real
directory stores play near and far, as a directory and a bucket would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Notes, Tally
from persist_support import forget_memory, persisted_double

from ipycache_ext.config import SETTINGS
from ipycache_ext.store import persistent as persist
from ipycache_ext.store.backends.tiered import TieredBackend


@pytest.fixture
def stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TieredBackend]:
    for name in ("IPYCACHE_STORE", "IPYCACHE_DIR", "IPYCACHE_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IPYCACHE_KEY_FILE", str(tmp_path / "config" / "secret.key"))
    persist.close()
    SETTINGS.store = f"{tmp_path / 'near'}|{tmp_path / 'far'}"
    opened = persist.tier()
    assert opened is not None and isinstance(opened.backend, TieredBackend)
    yield opened.backend
    persist.close()


def spoiled(data: Any) -> bytes:
    raw = bytearray(bytes(data))
    raw[len(raw) // 2] ^= 0xFF
    return bytes(raw)


def entry_names(backend: Any) -> list[str]:
    names: list[str] = backend.keys()  # a store, not a dict
    return [name for name in names if name.startswith("v2-")]


def rejected(notes: Notes) -> list[str]:
    return [text for text in notes.texts("warning") if "entry" in text]


def test_a_bad_local_copy_is_dropped_there_and_the_team_copy_is_used_and_copied_back(
    stores: TieredBackend, tally: Tally, notes: Notes
) -> None:
    double = persisted_double(tally)

    assert double(21) == 42
    (name,) = entry_names(stores.far)
    good = bytes(stores.far.get(name))
    stores.near.set(name, spoiled(good), None)
    forget_memory()
    assert double(21) == 42 and len(tally) == 1  # loaded from the team's copy
    assert len(rejected(notes)) == 1
    assert bytes(stores.far.get(name)) == good
    assert bytes(stores.near.get(name)) == good  # the local copy repaired
    forget_memory()
    assert double(21) == 42 and len(tally) == 1 and len(rejected(notes)) == 1


def test_a_bad_team_copy_is_dropped_from_both_and_recomputed(
    stores: TieredBackend, tally: Tally, notes: Notes
) -> None:
    double = persisted_double(tally)

    assert double(21) == 42
    (name,) = entry_names(stores.far)
    stores.far.set(name, spoiled(stores.far.get(name)), None)
    stores.near.delete(name)
    forget_memory()
    assert double(21) == 42 and len(tally) == 2
    assert len(rejected(notes)) == 1
    forget_memory()
    assert double(21) == 42 and len(tally) == 2  # the recomputed entry is in both again
    assert stores.near.get(name) is not None and stores.far.get(name) is not None


def test_another_call_s_entry_under_the_local_name_is_refused_and_replaced(
    stores: TieredBackend, tally: Tally, notes: Notes
) -> None:
    double = persisted_double(tally)

    assert double(1) == 2
    (one,) = entry_names(stores.far)
    assert double(2) == 4
    (two,) = set(entry_names(stores.far)) - {one}
    stores.near.set(two, stores.near.get(one), None)  # f(1)'s signed entry under f(2)'s name
    forget_memory()
    assert double(2) == 4 and len(tally) == 2  # never f(1)'s value; the team copy serves
    assert len(rejected(notes)) == 1
    assert bytes(stores.near.get(two)) == bytes(stores.far.get(two))
