"""The memory store on its own, and the two things that watch it: the history that
explains a vanished key once, and the engine's counters that let go of an entry that
left memory.  Real stores, no shell."""

from __future__ import annotations

from ipycache_ext.engine.stats import Stats
from ipycache_ext.store.entry import Entry
from ipycache_ext.store.memory import MemoryStore


def _entry(value: object) -> Entry:
    return Entry(value, None, {}, 0.0)


def test_a_store_no_one_watches_keeps_and_evicts_entries_by_itself() -> None:
    store = MemoryStore()
    store.put("f", b"a", _entry(1), max_entries=1)
    store.put("f", b"b", _entry(2), max_entries=1)
    assert store.get("f", b"a") is None
    assert store.get("f", b"b").value == 2
    assert store.history.how_gone("f", b"a") == "evicted"


def test_how_a_key_went_is_told_once_and_forgotten_when_it_is_stored_again() -> None:
    store = MemoryStore()
    store.put("f", b"a", _entry(1), max_entries=None)
    store.drop("f", b"a", "invalid")
    assert store.peek("f", b"a") == (None, "invalid")  # a dry run leaves it to tell
    assert store.history.how_gone("f", b"a") == "invalid"
    assert store.history.how_gone("f", b"a") is None
    store.drop("f", b"a")
    store.put("f", b"a", _entry(1), max_entries=None)
    assert store.history.how_gone("f", b"a") is None


def test_counters_keep_the_parts_of_an_entry_that_left_memory_not_the_entry() -> None:
    store, stats = MemoryStore(), Stats()
    store.watch(stats)
    entry = _entry([1, 2, 3])
    store.put("f", b"a", entry, max_entries=None)
    owner = stats.stats("f", "f")
    stats.record_hit(owner, entry, latest=True)
    assert owner.last is entry and owner.hits == 1 and entry.hits == 1
    store.drop("f", b"a")
    assert not isinstance(owner.last, Entry) and owner.last == entry.parts


def test_clearing_the_store_forgets_the_counters_of_that_owner_only() -> None:
    store, stats = MemoryStore(), Stats()
    store.watch(stats)
    stats.stats("f", "f").misses = 3
    stats.stats("g", "g").misses = 1
    store.clear("f")
    assert [owner for owner, _ in stats.owners()] == ["g"]
    assert stats.stats("f", "f").misses == 0
