"""One stored entry of a function or a cell: a dry run that says whether a call would
hit (``f.explain``), removing one entry (``f.clear``), and what ``%memo_info NAME``
lists about each entry.

A dry run computes the key exactly as a call would, looks in memory and then in the
persistent tier (a plain load: no lease is taken, nothing is counted, the LRU order is
left alone) and, on a miss, asks :func:`~ipycache_ext.keys.key.why_missed` the same
question the miss note asks, so the two always agree.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from . import messages
from .engine.cached import Cached
from .keys.call import forget_all
from .keys.key import CallKey, why_missed
from .parts import PartKind, Reason, Snapshot
from .store import owners, persistent
from .store.memory import STORE, Entry
from .store.sizes import approx_size


@dataclass(frozen=True)
class Explanation:
    """What a call (or cell) would do now, without doing it.

    ``where`` is None for this kernel's memory, else the persistent store's location;
    on a miss ``reasons`` say why, as the miss note would.
    """

    what: str
    would_hit: bool
    where: str | None = None
    age: float | None = None
    size: int = 0
    hits: int = 0
    reasons: tuple[Reason, ...] = ()

    @property
    def note(self) -> messages.Note:
        if self.would_hit:
            return messages.would_hit_note(self.what, self.where, self.age, self.size, self.hits)
        return messages.would_miss_note(self.what, list(self.reasons))

    def __repr__(self) -> str:
        return self.note.text

    def _repr_html_(self) -> str:
        return self.note.html


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
    stats = dict(STORE.owners()).get(cached.owner)
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


def clear_all() -> int:
    """Empty the kernel-wide memory cache (every function and cell); entries dropped."""
    count = sum(len(STORE.entries(owner)) for owner, _ in STORE.owners())
    STORE.clear()
    forget_all()  # and what the functions' guards hold
    return count


def clear_memo(*, store: bool = True) -> None:
    """``memo.clear()``: empty the kernel-wide memory cache (every function and cell),
    and their entries in the persistent store if one is in use (the store's other
    entries are kept: ``%memo_clear --store`` empties it all).  ``store=False`` frees
    the memory only (a kernel short of RAM): persisted entries stay, and the next call
    loads them."""
    known = {owner for owner, _ in STORE.owners()}
    clear_all()
    if store:
        owners.clear_and_say(persistent.in_use(), known, messages.EVERYTHING)
