"""Clear, info and entries: the one implementation behind ``memo.clear``,
``f.cache_clear``, ``f.clear``, ``f.explain``, ``%memo_clear`` and ``%memo_info``.

A dry run computes the key exactly as a call would, looks in memory and then in the
persistent tier (a plain load: no lease is taken, nothing is counted, the LRU order is
left alone) and, on a miss, asks :func:`~ipycache_ext.keys.why.why_missed` the same
question the miss note asks, so the two always agree.

A name (``%memo_clear NAME``, ``%memo_info NAME``) stands for a label, an owner or a
function's short name; a name nothing answers to is a :class:`CacheLookupError`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from . import messages, notify
from .engine.cached import Cached
from .engine.stats import STATS
from .errors import CacheLookupError
from .keys.call import forget_all
from .keys.key import CallKey
from .keys.why import why_missed
from .messages import Explanation
from .parts import PartKind, Snapshot
from .store import owners, persistent
from .store.memory import STORE, Entry
from .store.sizes import approx_size

# ----- one entry: a dry run, one call's clear -------------------------------------------


def explain(cached: Cached[Any], key: CallKey, call: Any, what: str) -> Explanation:
    """Would ``call`` (whose key is ``key``) hit?  Nothing runs and nothing is counted.

    A found entry is judged by :meth:`~ipycache_ext.engine.cached.Cached.judge`, the decision
    the real lookup takes (files read, ``depends_on``, globs, ``validate``), without
    acting on it: the entry is not dropped.  ``validate`` is called once, as the call
    would call it.
    """
    entry, gone = STORE.peek(cached.owner, key.digest)
    where = None
    if entry is None:
        tier = persistent.tier(cached.policy.persist)
        if tier is not None:
            entry = tier.load(cached.owner, key.digest, cached.label)
            where = tier.backend.where
    if entry is not None:
        verdict = cached.judge(call, entry)
        if verdict.reasons:
            return Explanation(what, False, reasons=verdict.reasons)
        if not verdict.usable:
            entry, gone = None, verdict.gone
    if entry is not None:
        age = None if entry.stored_at is None else max(0.0, time.time() - entry.stored_at)
        return Explanation(what, True, where, age, approx_size(entry.value), entry.hits)
    stats = dict(STATS.owners()).get(cached.owner)
    before = None if stats is None else stats.last_parts
    return Explanation(what, False, reasons=tuple(why_missed(before, key.snapshot(), gone)))


def clear_one(cached: Cached[Any], key: CallKey, store: bool = True) -> bool:
    """Remove the entry for ``key`` from memory and, when ``cached`` persists (and
    ``store``), from the store; True if memory held one (the store's copy is deleted
    unseen)."""
    removed = STORE.drop(cached.owner, key.digest, "cleared")
    tier = persistent.tier(cached.policy.persist) if store else None
    if tier is not None:
        try:
            tier.backend.delete(tier.entry_key(cached.owner, key.digest))
        except Exception as exc:
            owners.say_unreachable(tier, cached.label, exc)
    return removed


def clear_call(cached: Cached[Any], key: CallKey, what: str, store: bool) -> None:
    """``%memo_clear [--memory] f(2, 21)``: :func:`clear_one`, and a note saying so."""
    notify.emit(cleared(what, int(clear_one(cached, key, store)), store))


# ----- functions and cells: clear by owner, by name, or everything ---------------------


def cleared(what: str, count: int, store: bool) -> messages.Note:
    return (
        messages.cleared_note(what, count) if store else messages.cleared_memory_note(what, count)
    )


def clear_owners(
    names: set[str], what: str, *, store: bool, persist: bool | None = None, say: bool = False
) -> int:
    """Empty the entries of the owners ``names`` in memory and, with ``store``, in the
    persistent store: the one this function persists to (``persist`` True), none
    (False), or the store in use (None: following ``MemoMagics.persist``).  ``say``
    notes how many memory held; the store's clear always says what it removed."""
    count = sum(len(STORE.entries(owner)) for owner in names)
    for owner in names:
        STORE.clear(owner)
    if say:
        notify.emit(cleared(what, count, store))
    if store:
        tier = persistent.tier(True) if persist else None
        if persist is None:
            tier = persistent.in_use()  # following MemoMagics.persist, or opened already
        owners.clear_and_say(tier, names, what)
    return count


def clear_all() -> int:
    """Empty the kernel-wide memory cache (every function and cell); entries dropped."""
    count = sum(len(STORE.entries(owner)) for owner, _ in STATS.owners())
    STORE.clear()
    forget_all()  # and what the functions' guards hold
    return count


def clear_memo(*, store: bool = True, say: bool = False) -> None:
    """``memo.clear()``: empty the kernel-wide memory cache (every function and cell),
    and their entries in the persistent store if one is in use (the store's other
    entries are kept: ``%memo_clear --store`` empties it all).  ``store=False`` frees
    the memory only (a kernel short of RAM): persisted entries stay, and the next call
    loads them.  ``say`` (``%memo_clear``) notes how many memory held."""
    known = {owner for owner, _ in STATS.owners()}
    count = clear_all()
    if say:
        notify.emit(cleared(messages.EVERYTHING, count, store))
    if store:
        owners.clear_and_say(persistent.in_use(), known, messages.EVERYTHING)


def named(name: str, owner: str, label: str) -> bool:
    return name in (label, owner, owner.rsplit(".", 1)[-1])


def owners_named(name: str, magic: str = "memo_clear") -> list[str]:
    """The owners in memory ``name`` stands for; none is a :class:`CacheLookupError`."""
    matches = [owner for owner, stats in STATS.owners() if named(name, owner, stats.label)]
    if not matches:
        known = sorted(stats.label for _, stats in STATS.owners())
        raise CacheLookupError(messages.unknown_cache_name(name, known, magic))
    return matches


def clear_named(name: str, store: bool) -> None:
    """``%memo_clear [--memory] NAME``: NAME's entries in memory and, with ``store``, in
    the store in use (where a NAME this kernel has not seen may have entries)."""
    tier = persistent.in_use() if store else None
    matches = {owner for owner, stats in STATS.owners() if named(name, owner, stats.label)}
    if not matches and tier is not None:
        stored = listing(tier, "memo_clear")[0]
        matches = {p.owner for p in stored if named(name, p.owner, p.label)}
    if not matches:
        known_names = sorted(stats.label for _, stats in STATS.owners())
        raise CacheLookupError(messages.unknown_cache_name(name, known_names))
    clear_owners(matches, name, store=store, say=True)


# ----- the persistent store as a whole ---------------------------------------------------


def open_store() -> persistent.Tier:
    found = persistent.tier(True)
    if found is None:
        raise CacheLookupError(messages.no_store_error())
    return found


def listing(tier: persistent.Tier, magic: str) -> tuple[list[owners.Persisted], int]:
    """:func:`~.store.owners.listing`, or a one-line error when the store does not answer."""
    try:
        return owners.listing(tier)
    except Exception as exc:
        where = tier.backend.where
        raise CacheLookupError(messages.store_unreachable_error(magic, where, exc)) from None


def clear_store(name: str) -> None:
    """``%memo_clear --store [NAME]``: the persistent store's entries (all, or NAME's)."""
    tier = open_store()
    if not name:
        try:
            count = owners.clear_store(tier)
        except Exception as exc:
            owners.say_unreachable(tier, messages.EVERYTHING, exc)
            return
        notify.emit(messages.cleared_store_note(messages.EVERYTHING, count, tier.backend.where))
        return
    found = listing(tier, "memo_clear")[0]
    matches = {p.owner for p in found if named(name, p.owner, p.label)}
    if not matches:
        raise CacheLookupError(messages.unknown_stored_name(name, sorted(p.label for p in found)))
    owners.clear_and_say(tier, matches, name)


def store_table() -> messages.StoreTable:
    """``%memo_info --store``: what the persistent store holds, per function or cell."""
    tier = open_store()
    found, unknown = listing(tier, "memo_info")
    listed = [(p.label, p.kind, str(len(p.entries))) for p in found]
    return messages.StoreTable(tier.backend.where, listed, unknown)


# ----- %memo_info ------------------------------------------------------------------------


def info_table() -> messages.InfoTable:
    """``%memo_info``: every function and cell in memory, its entries and counters."""
    rows: list[tuple[str, ...]] = []
    for owner, stats in STATS.owners():
        entries = STORE.entries(owner)
        held = sum(approx_size(e.value) for e in entries)
        rows.append(
            (
                stats.label,
                stats.kind,
                str(len(entries)),
                str(stats.hits),
                str(stats.misses),
                messages.size(held),
                str(len({s.path for e in entries for s in e.files if not s.is_dir})),
                messages.reasons_text(stats.last_reasons),
            )
        )
    return messages.InfoTable(rows)


def entry_table(name: str) -> messages.InfoTable:
    """``%memo_info NAME``: NAME's entries, one row each (:class:`EntryFacts`)."""
    found = owners_named(name, "memo_info")
    now = time.time()
    rows = [entry_facts(entry, now).row() for owner in found for entry in STORE.entries(owner)]
    outdated = sum(stats.evicted_outdated for owner, stats in STATS.owners() if owner in found)
    touched = tuple(t for owner, s in STATS.owners() if owner in found for t in s.unseen)
    title = messages.entry_heading(name, len(rows), outdated, touched)
    return messages.InfoTable(rows, messages.ENTRY_COLUMNS, title)


@dataclass(frozen=True)
class EntryFacts:
    """One row of ``%memo_info NAME``: the entry's inputs, age, hits, size and run time."""

    inputs: list[tuple[str, str]]
    age: float | None
    hits: int
    size: int
    seconds: float

    def row(self) -> tuple[str, ...]:
        return (
            messages.entry_inputs(self.inputs),
            messages.age(self.age),
            str(self.hits),
            messages.size(self.size),
            messages.duration(self.seconds),
        )


_INPUT_KINDS = (PartKind.ARGUMENT.value, PartKind.VARIABLE.value)


def entry_facts(entry: Entry, now: float) -> EntryFacts:
    """What ``%memo_info NAME`` shows of ``entry``; its inputs are the arguments (or the
    variables a cell read) its key was made of."""
    age = None if entry.stored_at is None else max(0.0, now - entry.stored_at)
    return EntryFacts(
        _inputs(entry.parts), age, entry.hits, approx_size(entry.value), entry.seconds
    )


def _inputs(parts: Snapshot) -> list[tuple[str, str]]:
    return [
        (ident.name, seen.shown)
        for ident, seen in parts.items()
        if ident.kind in _INPUT_KINDS and not ident.reader
    ]


__all__ = [
    "Explanation",
    "explain",
    "clear_one",
    "clear_call",
    "clear_owners",
    "clear_all",
    "clear_memo",
    "clear_named",
    "clear_store",
    "owners_named",
    "store_table",
    "info_table",
    "entry_table",
    "entry_facts",
]
