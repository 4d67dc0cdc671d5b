"""What a stored entry costs in memory (a tiny ``f(2, 21)`` entry: at most 300 bytes,
was ~1 kB) and that packing its parts keeps everything a later note or ``%memo_info``
reads from them.  Measured with tracemalloc (allocations, not time)."""

from __future__ import annotations

import gc
import pickle
import time
import tracemalloc
from typing import Any

from conftest import Notes, define

from ipycache_ext import config
from ipycache_ext.keys.why import why_missed
from ipycache_ext.parts import PartId, Seen, SplitSnapshot
from ipycache_ext.store.memory import STORE, Entry

TINY = """
SCALE = 3
OFFSET = 7

@memo
def f(a, b):
    return (a * SCALE + b + OFFSET) % 200  # a small int: the result allocates nothing
"""


def bytes_per_entry(fn: Any, n: int = 5000) -> float:
    fn(-1, 21)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(10**6, 10**6 + n):
            fn(i, 21)
        gc.collect()
        return (tracemalloc.get_traced_memory()[0] - before) / n
    finally:
        tracemalloc.stop()


def entries_of(fn: Any) -> list[Entry]:
    return STORE.entries(fn.owner)


def test_a_tiny_entry_takes_at_most_300_bytes(ns: dict[str, Any]) -> None:
    config.SETTINGS.notes = False  # the store is measured, not the printing of notes
    f = define(ns, TINY)["f"]
    assert bytes_per_entry(f) <= 300


def test_entries_of_one_function_share_one_layout_of_their_parts(ns: dict[str, Any]) -> None:
    f = define(ns, TINY)["f"]
    f(1, 2)
    f(3, 4)
    first, second = entries_of(f)
    assert first._layout is second._layout


def test_a_stored_entry_reads_back_every_part_it_was_made_of(ns: dict[str, Any]) -> None:
    f = define(ns, TINY)["f"]
    f(1, 2)
    f(1000, 2)
    ns["SCALE"] = 4
    f(1, 2)
    shown = [{ident.name: seen.shown for ident, seen in e.parts.items()} for e in entries_of(f)]
    assert [(s["a"], s["b"], s["SCALE"]) for s in shown] == [
        ("1", "2", "3"),
        ("1000", "2", "3"),
        ("1", "2", "4"),
    ]
    data = [dict(e.parts) for e in entries_of(f)]
    assert data[0][PartId("global", "SCALE", "")] != data[2][PartId("global", "SCALE", "")]


def test_a_miss_after_a_hit_names_the_argument_that_changed(
    ns: dict[str, Any], notes: Notes
) -> None:
    f = define(ns, TINY)["f"]
    f(1, 2)
    f(1, 2)  # a hit: its entry's parts are what the next call is compared with
    f(5, 2)
    assert "a" in notes.texts("miss")[-1] and "5" in notes.texts("miss")[-1]


def test_an_entry_pickles_as_the_dict_of_fields_entries_always_had() -> None:
    parts = {PartId("argument", "x", ""): Seen(b"i\x01", "1")}
    entry = Entry([1, 2], b"fp", parts, 0.25, stored_at=1000.0, files=())
    state = entry.__getstate__()
    assert set(state) == {
        "value",
        "fingerprint",
        "parts",
        "seconds",
        "expires",
        "stored_at",
        "hits",
        "files",
    }
    back = pickle.loads(pickle.dumps(entry))
    assert (back.value, back.fingerprint, dict(back.parts), back.seconds, back.stored_at) == (
        [1, 2],
        b"fp",
        parts,
        0.25,
        1000.0,
    )


def test_an_entry_persisted_before_stored_at_existed_loads_with_a_time() -> None:
    old = Entry.__new__(Entry)
    parts = {PartId("argument", "x", ""): Seen(b"i\x01", "1")}
    old.__setstate__(
        {"value": 1, "fingerprint": None, "parts": parts, "seconds": 0.5, "expires": None}
    )
    assert old.stored_at is not None and abs(old.stored_at - time.time()) < 3600
    assert dict(old.parts) == parts and old.seconds == 0.5 and old.hits == 0


def test_long_and_unusual_parts_read_back_unchanged() -> None:
    parts = {
        PartId("argument", "blob", ""): Seen(bytes(range(256)) * 3, "x" * 300),
        PartId("argument", "odd", ""): Seen(b"", "\ud800 surrogate \u00e9"),
        PartId("global", "g", "helper"): Seen(b"\0", ""),
    }
    first = Entry(None, None, {k: Seen(b"other", "o") for k in parts}, 1.0)
    entry = Entry(None, None, parts, 2.0)
    assert first._layout is entry._layout
    assert dict(entry.parts) == parts
    assert entry.parts[PartId("global", "g", "helper")] == Seen(b"\0", "")
    assert PartId("global", "missing", "") not in entry.parts


def test_setting_stored_at_keeps_the_run_time_and_the_parts() -> None:
    parts = {PartId("argument", "x", ""): Seen(b"i\x01", "1")}
    entry = Entry(1, None, parts, 0.125, stored_at=5.0)
    entry.stored_at = 7.0
    assert (entry.seconds, entry.stored_at, dict(entry.parts)) == (0.125, 7.0, parts)


def test_entries_made_on_guards_read_back_exactly_the_parts_their_key_had(
    ns: dict[str, Any],
) -> None:
    f = define(ns, TINY)["f"]
    expected = []
    for a, scale in [(1, 3), (2, 3), (3, 3), (3, 5), (4, 5), (5, 3)]:
        ns["SCALE"] = scale
        expected.append(
            {
                ident.name: seen
                for ident, seen in f.__memo__._keys.key((a, 2), {}).snapshot().items()
            }
        )
        f(a, 2)
    stored = [{ident.name: seen for ident, seen in e.parts.items()} for e in entries_of(f)]
    assert stored == expected
    assert len({id(e._layout) for e in entries_of(f)}) == 1


def test_a_global_changed_between_two_misses_on_new_arguments_is_named(
    ns: dict[str, Any], notes: Notes
) -> None:
    f = define(ns, TINY)["f"]
    f(1, 2)
    f(2, 2)
    ns["OFFSET"] = 8
    f(3, 2)
    last = notes.texts("miss")[-1]
    assert "OFFSET" in last and "7" in last and "8" in last
    f(4, 2)
    assert "OFFSET" not in notes.texts("miss")[-1]


def test_two_split_snapshots_with_different_code_parts_are_compared_whole() -> None:
    arg, scale = PartId("argument", "a", ""), PartId("global", "SCALE", "")
    before = SplitSnapshot({arg: Seen(b"i1", "1")}, {scale: Seen(b"i3", "3")}, (scale,))
    now = SplitSnapshot({arg: Seen(b"i1", "1")}, {scale: Seen(b"i4", "4")}, (scale,))
    assert [(r.part, r.old, r.new) for r in why_missed(before, now)] == [(scale, "3", "4")]
    same = SplitSnapshot({arg: Seen(b"i2", "2")}, now.shared, (scale,))
    assert [(r.part, r.old, r.new) for r in why_missed(now, same)] == [(arg, "1", "2")]
