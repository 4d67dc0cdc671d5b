"""Remembering a miss: what it computed becomes an entry, kept, saved, counted and said.

:func:`remember` is the end of every miss (a function's, a cell's, sync or async) and
reads as its steps: what to store, the entry, why it missed, values that would not
hash the same twice, memory then the persistent tier, the count, the notes.
:class:`Keeper` is what those steps (and ``verify``) act on: one function's or cell's
entries in the store, with its :class:`~.subject.Subject`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, Generic

from .. import messages, notify
from ..config import SETTINGS
from ..deps import filenotes, files, native, pathlike, unseen
from ..keys.key import CallKey
from ..keys.unstable import suspects, unstable_parts
from ..keys.why import StaleReasons, same_code, why_missed
from ..parts import FileState, PartKind, Reason, Snapshot
from ..store.memory import STORE, Entry
from ..store.persistent import Tier
from ..store.sizes import approx_size, memory_budget
from .report import MissReport
from .run import Run, depth
from .stats import STATS, OwnerStats
from .subject import Call, Policy, Subject

# Why a miss missed, as the count keeps it: the reasons, or how to work them out.
Why = tuple[Reason, ...] | Callable[[], tuple[Reason, ...]]


class Keeper(Generic[Call]):
    """One function's or cell label's entries: where they are kept (``owner``), how
    they are named (``label``), its options and its subject."""

    def __init__(self, owner: str, label: str, policy: Policy, subject: Subject[Call]) -> None:
        self.owner = owner
        self.label = label
        self.policy = policy
        self.subject = subject
        self.kind = subject.kind
        self.counted = (owner, label, subject.kind, policy.max_entries)
        self.stale = StaleReasons()  # why entries were found stale, for the next miss

    def stats(self) -> OwnerStats:
        """This thing's counters (made on first use, and again after a clear)."""
        return STATS.stats(*self.counted)

    def persists(self) -> bool:
        """Whether this thing wants the persistent tier now (what :func:`.tier.tier`
        asks first): a miss that does not skips opening it."""
        wanted = self.policy.persist
        return SETTINGS.persist if wanted is None else wanted

    def expiry(self, stored_at: float | None = None) -> float | None:
        """When an entry stored at ``stored_at`` (None: now) expires, on the monotonic
        clock: a loaded entry keeps the age it had."""
        age = max(0.0, time.time() - stored_at) if stored_at else 0.0
        return None if (ttl := self.policy.ttl) is None else time.monotonic() + ttl - age

    def keep(self, entry: Entry, digest: bytes) -> None:
        """Keep ``entry`` in memory, unless it is bigger than the memory budget (or
        ``max_size``): then it is only returned, and that is said once."""
        policy = self.policy
        if STORE.put(self.owner, digest, entry, policy.max_entries, policy.max_size):
            return
        stats = self.stats()
        if not stats.too_big_said:
            stats.too_big_said = True
            size, budget = approx_size(entry.value), memory_budget()
            notify.emit(
                messages.too_big_for_memory_warning(self.label, size, budget, policy.max_size)
            )

    def save(self, tier: Tier, digest: bytes, entry: Entry) -> None:
        """Write ``entry`` to the persistent tier, unless the subject refuses (then it
        says why); a value pickle refuses is said by the subject's warning."""
        subject, stored = self.subject, entry.value
        refusal = subject.persist_refusal(stored)
        if refusal is not None:
            notify.emit(refusal)
            return
        with files.suspended():
            tier.save(
                self.owner,
                digest,
                entry,
                self.policy.ttl,
                self.label,
                lambda exc: subject.unpicklable_warning(stored, exc),
            )

    def served(self, call: Call, entry: Entry) -> Any:
        """What a counted hit hands out, its mutation checked."""
        subject = self.subject
        value = entry.value if subject.hands_out_stored else subject.deliver(call, entry, None)
        if entry.fingerprint is not None:
            subject.check_mutation(call, entry)
        return value


def remember(keeper: Keeper[Call], key: CallKey, call: Call, run: Run, tier: Tier | None) -> Any:
    """Store what a miss computed (memory, then the tier), count it, say why it
    missed, and return what the caller gets."""
    subject = keeper.subject
    stored = subject.stored_value(call, run.value, run.watch)
    if subject.not_storable(stored):
        return subject.result_of(call, stored)
    parts = key.snapshot()
    entry, read = _entry(keeper, key, call, run, stored, parts)
    outermost = not (subject.nests and depth.get())
    stats = keeper.stats()
    shown = outermost and not keeper.policy.quiet and SETTINGS.notes
    reasons, later = _why(keeper, key, parts, stats, shown, outermost)
    if reasons and outermost:
        _blame_unstable(keeper, key, reasons, stats)
    # Memory first: a save interrupted (Ctrl-C while a big result is written) must
    # not lose what was computed.
    keeper.keep(entry, key.digest)
    if tier is not None:
        keeper.save(tier, key.digest, entry)
    # Calls made inside a miss are not what the user compares the next call with.
    STATS.record_miss(stats, parts if outermost else None, later)
    if shown and reasons is not None:
        if notify.held(keeper.label):  # only counted: its facts, not its words
            report = MissReport(keeper.label, None, run.seconds, reasons)
        else:
            hints = _unseen_readers(keeper, call, key, run, read, stats)
            what = subject.describe(call)
            report = MissReport(keeper.label, what, run.seconds, reasons, hints)
        notify.emit(report.note)
    _warn_about_reads(keeper, call, key, run, stats)
    subject.recall(key.digest, call)
    subject.after_miss(call, stored, run.watch)
    return subject.result_of(call, stored)


def _entry(
    keeper: Keeper[Call], key: CallKey, call: Call, run: Run, stored: Any, parts: Snapshot
) -> tuple[Entry, tuple[FileState, ...]]:
    """The entry for a run that stored ``stored``: its fingerprint, key parts, time,
    expiry and the files it read (with paths its code names noted first)."""
    reads = run.reads
    if reads is not None:
        pathlike.note_named(reads, key.named(), keeper.subject.code_strings(call))
    read = files.states(reads) if reads is not None and (reads.read or reads.late) else ()
    fingerprint = keeper.subject.fingerprint(stored)
    entry = Entry(stored, fingerprint, parts, run.seconds, keeper.expiry(), files=read)
    return entry, read


def _why(
    keeper: Keeper[Any],
    key: CallKey,
    parts: Snapshot,
    stats: OwnerStats,
    shown: bool,
    outermost: bool,
) -> tuple[tuple[Reason, ...] | None, Why]:
    """Why this miss missed: the reasons (None: not worked out), and what the count
    keeps of them.  Worked out now when a note shows them or a value read by name may
    be to blame (the code is the same); else only if ``%memo_info`` asks, from what
    this returns in their place."""
    gone = STORE.history.how_gone(keeper.owner, key.digest)
    reasons: tuple[Reason, ...] | None = keeper.stale.pop(key.digest) or None
    before = stats.last_parts
    if reasons is None and (shown or (outermost and not same_code(before, parts))):
        reasons = tuple(why_missed(before, parts, gone))
    if reasons is not None:
        return reasons, reasons
    return None, functools.partial(_reasons, before, parts, gone)


def _blame_unstable(
    keeper: Keeper[Any], key: CallKey, reasons: tuple[Reason, ...], stats: OwnerStats
) -> None:
    """Warn about values read by name that hash differently each time (once each):
    they, not the user, made this call miss."""
    said = stats.unstable_said
    blamed = suspects(reasons, said)
    if not blamed:
        return
    for part in unstable_parts(keeper.subject.hasher, key.parts, blamed, said):
        notify.emit(
            messages.unstable_value_warning(keeper.label, part.ident, part.value, keeper.kind)
        )


def _unseen_readers(
    keeper: Keeper[Call],
    call: Call,
    key: CallKey,
    run: Run,
    read: tuple[FileState, ...],
    stats: OwnerStats,
) -> tuple[str, ...]:
    """What the miss note says the code reads unseen (see :func:`.native.hint`)."""
    seen = run.reads
    if seen is None or (stats.readers_hinted and stats.pools_hinted):
        return ()
    subject = keeper.subject
    uses = (subject.values_used(call), subject.names_used(call))
    return native.hint(keeper.label, key.parts, uses, read, bool(seen.written), stats)


def _warn_about_reads(
    keeper: Keeper[Call], call: Call, key: CallKey, run: Run, stats: OwnerStats
) -> None:
    """Files the run read that no pattern matched or that it rewrote, and inputs the
    key cannot see (the network, a subprocess)."""
    reads = run.reads
    if reads is None:
        return
    if reads.unmatched or reads.rewritten:
        for warning in filenotes.warnings(reads, keeper.owner, keeper.label):
            notify.emit(warning)
    if reads.touched:  # the network, a subprocess
        _say_unseen_inputs(keeper, call, key, run, stats)


def _say_unseen_inputs(
    keeper: Keeper[Call], call: Call, key: CallKey, run: Run, stats: OwnerStats
) -> None:
    """After a miss, once per function or cell: its run used inputs the key cannot see
    (the network, a subprocess; with them, the environment and clock by name), said
    with the fix, and kept for ``%memo_info NAME``."""
    if stats.unseen or run.reads is None or run.reads.touched is None:
        return
    code = (part.value for part in key.parts if part.kind is PartKind.CODE)
    names = native.code_names(code) | set(keeper.subject.names_used(call))
    stats.unseen = (*unseen.first_per_channel(run.reads.touched), *unseen.hinted(names))
    what = keeper.subject.describe(call)
    notify.emit(messages.unseen_inputs_warning(what, stats.unseen, keeper.kind))


def _reasons(before: Snapshot | None, now: Snapshot, gone: str | None) -> tuple[Reason, ...]:
    return tuple(why_missed(before, now, gone))


__all__ = ["Keeper", "remember"]
