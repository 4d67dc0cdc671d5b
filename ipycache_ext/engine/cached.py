"""One path for everything cached: lookup -> compute once -> remember -> check on a hit.

A sync call, an async call and a ``%%memo`` cell all go through :class:`Cached`:

1. look the key up in memory, then in the persistent tier (an entry found there joins
   the memory tier);
2. compute once: threads and coroutines of this kernel wait for the one computing the
   key, and kernels sharing a store wait on its lease;
3. remember the entry (memory, and the tier when persisting) with a fingerprint for
   the mutation check and the files the run read, count the miss and say why it missed;
4. on a hit, check the files it read are unchanged (else it is a miss saying which
   file changed), check the stored value was not mutated, count it, hand it back.

What differs between a function and a cell (how it runs, what is stored, how a hit
is delivered) is a handful of hooks that :mod:`.memo` and :mod:`.ipython.cellrun`
implement.  The engine imports nothing of IPython.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .. import messages, notify
from ..config import SETTINGS
from ..deps import filenotes, files, native, pathlike
from ..errors import RecursionCycleError
from ..keys.key import CallKey
from ..keys.unstable import suspects, unstable_parts
from ..keys.why import StaleReasons, same_code, why_missed
from ..parts import FileState, Reason, Snapshot
from ..store import persistent
from ..store.lease import FIRST_PAUSE, LONGEST_PAUSE, Claim
from ..store.memory import STORE, Entry
from ..store.persistent import Tier
from ..store.sizes import approx_size, memory_budget
from . import verdicts
from .flights import FLIGHTS
from .run import Run, active, depth
from .stats import STATS, OwnerStats
from .verdicts import USABLE, Verdict
from .verify import recheck_due, rechecked, say_unseen

Call = TypeVar("Call")  # what one call carries to the hooks: arguments, or a cell's run


@dataclass(frozen=True)
class Policy:
    """The options every cached thing has, validated by its front end."""

    ttl: float | None = None
    max_entries: int | None = None
    persist: bool | None = None  # None: follow ``%config MemoMagics.persist``
    allow_mutation: bool = False
    quiet: bool = False  # no miss/hit notes of its own (warnings still show)
    max_size: int | None = None  # bytes this function's entries may hold together
    verify_share: float | None = None  # None: follow ``%config MemoMagics.verify_share``


class Cached(Generic[Call]):
    """The engine for one memoized function or one cell label.

    Subclasses implement the hooks; the engine decides when each runs.  ``nests``
    says whether misses of this thing count as nesting: a function called inside
    another miss gets no note of its own (the outer miss is what the user ran).
    """

    kind = "function"
    nests = True
    # False: :meth:`still_valid` always says True (skip the call), and no own share
    validates = True  # of hits is re-checked (only ``MemoMagics.verify_share``'s)
    as_stored = False  # True: :meth:`deliver` of a memory hit is ``entry.value`` (skip it)
    reruns_deliver = False  # True: a re-run (verify_share) did what a hit delivers (a cell)

    def __init__(self, owner: str, label: str, policy: Policy) -> None:
        self.owner = owner
        self.label = label
        self.policy = policy
        self._counted = (owner, label, self.kind, policy.max_entries)
        self._share = policy.verify_share
        self._stale = StaleReasons()  # why entries were found stale, for the next miss
        # Whether a miss stores something else than what the run returned (a cell's
        # record): if not, the hook is not called on every miss.
        self._transforms = type(self).stored_value is not Cached.stored_value

    def stats(self) -> OwnerStats:
        """This thing's counters (made on first use, and again after a clear)."""
        return STATS.stats(*self._counted)

    # ----- hooks -----------------------------------------------------------------------

    def describe(self, call: Call) -> str:
        """What ran, for notes (``f(2, b=21)``, ``cell [df]``)."""
        raise NotImplementedError

    def running(self, call: Call) -> AbstractContextManager[Any]:
        """Context around a miss's run; what it yields is passed to :meth:`stored_value`."""
        raise NotImplementedError

    def stored_value(self, call: Call, value: Any, watch: Any) -> Any:
        """What to store for a run that returned ``value`` (a result, or a cell's record)."""
        return value

    def after_miss(self, call: Call, stored: Any, watch: Any) -> None:
        """Warnings about the run itself (it printed output, ...)."""

    def fingerprint(self, stored: Any) -> Any:
        """What the mutation check compares later (None: nothing to check)."""
        return None

    def check_mutation(self, call: Call, entry: Entry) -> None:
        """Warn if the stored value changed since :meth:`fingerprint`."""

    def deliver(self, call: Call, entry: Entry, loaded_from: str | None) -> Any:
        """Hand a stored entry back to the caller (replaying a cell), notes included."""
        return entry.value

    def persist_refusal(self, stored: Any) -> messages.Note | None:
        """A warning if this value must not be persisted (then it is not)."""
        return None

    def unpicklable_warning(self, stored: Any, exc: BaseException) -> messages.Note:
        raise NotImplementedError

    def still_valid(self, call: Call, entry: Entry) -> bool:
        """False drops a stored entry before it is used (``@memo(validate=...)``)."""
        return True

    def names_used(self, call: Call) -> Iterable[str]:
        """Names the cached code uses beyond its functions' code objects (a cell's)."""
        return ()

    def values_used(self, call: Call) -> Iterable[tuple[str, Any]]:
        """``(name, value)`` the code reads beyond its key's parts (a cell's namespace)."""
        return ()

    def code_strings(self, call: Call) -> Iterable[str]:
        """A cell's string constants that may name files (:mod:`.deps.pathlike`)."""
        return ()

    def not_storable(self, stored: Any) -> bool:
        """True for a value that must not be stored at all (an iterator a hit would hand
        out used up): the miss returns it and stores nothing; the hook says why."""
        return False

    def result_of(self, call: Call, stored: Any) -> Any:
        """What a miss returns, given what it stored."""
        return stored

    def result_digest(self, stored: Any) -> bytes:
        raise NotImplementedError  # what ``verify`` compares a stored and a new result by

    def recall(self, digest: bytes, call: Call) -> None:
        """Keep what a miss was called with, so ``%memo_verify NAME`` can run it again."""

    # ----- the sync path -----------------------------------------------------------------

    def lookup(
        self, key: CallKey, call: Call, compute: Callable[..., Any], args: tuple, kwargs: dict
    ) -> Any:
        """The value for ``key``: from memory, from the tier, or ``compute(*args, **kwargs)``.

        The miss runs ``compute`` from this frame, with no helper in between: a
        recursive memoized function costs three stack frames a level.
        """
        __tracebackhide__ = True  # IPython shows the user's frames only
        owner, digest = self.owner, key.digest
        if self.validates:
            entry = STORE.get(owner, digest)
        else:  # the common hit: found, then counted under one lock
            latest = not (self.nests and active and depth.get())  # an outermost call
            entry = STORE.get(owner, digest)
            if entry is not None and not entry.files:  # :meth:`_served`, inline
                STATS.count_hit(self._counted, entry, latest)
                if SETTINGS.verify_share and recheck_due(self):  # own share: validates
                    return rechecked(self, key, call, entry, compute, args, kwargs)
                if self.as_stored and entry.fingerprint is None:
                    return entry.value
                return self._served(call, entry)
        if entry is not None:
            entry = self._valid(call, owner, digest, entry)
        while entry is None:
            pending = FLIGHTS.claim(owner, digest)
            if pending is None:
                break
            if pending.waits_for_itself(sync=True):
                raise RecursionCycleError(self.describe(call))
            pending.wait()
            entry = self._live(call, owner, digest)
        else:
            share = self._share
            if (SETTINGS.verify_share if share is None else share) and recheck_due(self):
                return rechecked(self, key, call, entry, compute, args, kwargs, count=True)
            return self._hit(call, entry)
        claim = None
        try:
            tier = None
            wanted = self.policy.persist  # as in _persists, inline: it runs every miss
            if SETTINGS.persist if wanted is None else wanted:
                with files.suspended():
                    tier = persistent.tier(wanted)
                    if tier is not None:
                        claim = self._claim(tier, digest)
            stored = None if claim is None else claim.stored
            if tier is not None and stored is not None and self._usable(call, stored, digest):
                return self._adopt(key, call, stored, tier)
            with Run(self.nests, self.running, call) as run:
                run.value = compute(*args, **kwargs)
            return self._remember(key, call, run, tier)
        finally:
            self._release(claim, owner, digest)

    # ----- the async path ----------------------------------------------------------------

    async def alookup(
        self,
        key: CallKey,
        call: Call,
        compute: Callable[..., Awaitable[Any]],
        args: tuple,
        kwargs: dict,
    ) -> Any:
        """:meth:`lookup` for a coroutine function: every wait is an ``await``."""
        __tracebackhide__ = True  # IPython shows the user's frames only
        owner, digest = self.owner, key.digest
        entry = self._live(call, owner, digest)
        while entry is None:
            pending = FLIGHTS.claim(owner, digest)
            if pending is None:
                break
            if pending.waits_for_itself(sync=False):
                raise RecursionCycleError(self.describe(call))
            await pending.wait_async()
            entry = self._live(call, owner, digest)
        else:
            return self._hit(call, entry)
        claim = None
        try:
            tier = None
            if self._persists():
                with files.suspended():
                    tier = persistent.tier(self.policy.persist)
                    if tier is not None:
                        claim = await self._aclaim(tier, digest)
            stored = None if claim is None else claim.stored
            if tier is not None and stored is not None and self._usable(call, stored, digest):
                return self._adopt(key, call, stored, tier)
            with Run(self.nests, self.running, call) as run:
                run.value = await compute(*args, **kwargs)
            return self._remember(key, call, run, tier)
        finally:
            self._release(claim, owner, digest)

    # ----- shared steps ------------------------------------------------------------------

    def _live(self, call: Call, owner: str, digest: bytes) -> Entry | None:
        """The memory entry for ``digest`` if there is one and it is still valid."""
        entry = STORE.get(owner, digest)
        return None if entry is None else self._valid(call, owner, digest, entry)

    def _valid(self, call: Call, owner: str, digest: bytes, entry: Entry) -> Entry | None:
        """``entry`` unless :meth:`judge` rejects it (then it is dropped)."""
        if (verdict := self.judge(call, entry)).usable:
            return entry
        self._reject(owner, digest, entry, verdict)
        return None

    def judge(self, call: Call, entry: Entry) -> Verdict:
        """May ``entry`` be used now?  The one decision lookups and dry runs (``explain``)
        share: it drops nothing, and calls ``validate`` once, as the lookup would."""
        if entry.files:
            reasons = verdicts.file_reasons(entry)
            if reasons:
                return Verdict(False, reasons)
        if self.validates and not self.still_valid(call, entry):
            return Verdict(False, gone="invalid")
        return USABLE

    def _reject(self, owner: str, digest: bytes, entry: Entry, verdict: Verdict) -> None:
        """Drop an entry :meth:`judge` rejected, keeping why for the miss note."""
        if verdict.reasons:  # kept for the miss that follows to say
            self._stale.keep(digest, verdict.reasons)
        STORE.drop(owner, digest, None if verdict.reasons else verdict.gone, only=entry)

    def _persists(self) -> bool:
        """Whether this thing wants the persistent tier now (what :func:`.tier.tier`
        asks first): a miss that does not skips opening it."""
        wanted = self.policy.persist
        return SETTINGS.persist if wanted is None else wanted

    def outermost_run(self) -> bool:
        """True inside :meth:`running` of a miss that no other miss encloses."""
        return depth.get() == 1 or not self.nests

    def _expiry(self, stored_at: float | None = None) -> float | None:
        age = max(0.0, time.time() - stored_at) if stored_at else 0.0  # a loaded one keeps it
        return None if (ttl := self.policy.ttl) is None else time.monotonic() + ttl - age

    def _claim(self, tier: Tier, digest: bytes) -> Claim:
        """The tier's lease on ``digest`` (or its entry), waiting while a kernel holds it."""
        pause = FIRST_PAUSE
        while (claim := tier.try_claim(self.owner, digest, self.label)) is None:
            time.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)
        return claim

    async def _aclaim(self, tier: Tier, digest: bytes) -> Claim:
        """:meth:`_claim` for the async path: the wait is an ``await``."""
        pause = FIRST_PAUSE
        while (claim := tier.try_claim(self.owner, digest, self.label)) is None:
            await asyncio.sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE)
        return claim

    def _release(self, claim: Claim | None, owner: str, digest: bytes) -> None:
        if claim is not None:
            claim.release()
        FLIGHTS.release(owner, digest)

    def _remember(self, key: CallKey, call: Call, run: Run, tier: Tier | None) -> Any:
        """Store what a miss computed (memory, then the tier), count it, say why it
        missed, and return what the caller gets."""
        stored = self.stored_value(call, run.value, run.watch) if self._transforms else run.value
        if self.not_storable(stored):
            return self.result_of(call, stored)
        seconds, watch = run.seconds, run.watch
        parts = key.snapshot()
        reads = run.reads
        if reads is not None:
            pathlike.note_named(reads, key.named(), self.code_strings(call))
        read = files.states(reads) if reads is not None and (reads.read or reads.late) else ()
        expires = self._expiry()
        entry = Entry(stored, self.fingerprint(stored), parts, seconds, expires, files=read)
        outermost = not (self.nests and depth.get())
        stats = STATS.stats(*self._counted)
        gone = STORE.history.how_gone(self.owner, key.digest)
        stale = self._stale.pop(key.digest)
        before = stats.last_parts
        hasher = getattr(self, "_hasher", None)
        shown = outermost and not self.policy.quiet and SETTINGS.notes
        # Reasons are worked out now when a note shows them or a value read by name
        # may be to blame; else only if ``%memo_info`` asks (a new argument's miss).
        reasons: tuple[Reason, ...] | None = stale or None
        if reasons is None and (
            shown or (hasher is not None and outermost and not same_code(before, parts))
        ):
            reasons = tuple(why_missed(before, parts, gone))
        said = stats.unstable_said
        if hasher is not None and reasons and outermost and (blamed := suspects(reasons, said)):
            for part in unstable_parts(hasher, key.parts, blamed, said):
                notify.emit(
                    messages.unstable_value_warning(self.label, part.ident, part.value, self.kind)
                )
        # Memory first: a save interrupted (Ctrl-C while a big result is written)
        # must not lose what was computed.
        self._keep(entry, key.digest)
        if tier is not None:
            refusal = self.persist_refusal(stored)
            if refusal is not None:
                notify.emit(refusal)
            else:
                with files.suspended():
                    tier.save(
                        self.owner,
                        key.digest,
                        entry,
                        self.policy.ttl,
                        self.label,
                        lambda exc: self.unpicklable_warning(stored, exc),
                    )
        # Calls made inside a miss are not what the user compares the next call with.
        STATS.record_miss(
            stats,
            parts if outermost else None,
            reasons if reasons is not None else functools.partial(_reasons, before, parts, gone),
        )
        if shown and reasons is not None:
            if notify.held(self.label):  # only counted: its facts, not its words
                note = messages.held_miss_note(self.label, seconds, list(reasons))
            else:
                unseen = self._unseen_readers(call, key, run, read, stats)
                note = messages.miss_note(
                    self.describe(call), seconds, list(reasons), unseen, self.label
                )
            notify.emit(note)
        if reads is not None and (reads.unmatched or reads.rewritten):
            for warning in filenotes.warnings(reads, self.owner, self.label):
                notify.emit(warning)
        if reads is not None and reads.touched:  # the network, a subprocess
            say_unseen(self, call, key, run, stats)
        self.recall(key.digest, call)
        self.after_miss(call, stored, watch)
        return self.result_of(call, stored)

    def _keep(self, entry: Entry, digest: bytes) -> None:
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

    def _unseen_readers(
        self, call: Call, key: CallKey, run: Run, read: tuple[FileState, ...], stats: OwnerStats
    ) -> tuple[str, ...]:
        """What the miss note says the code reads unseen (see :func:`.native.hint`)."""
        seen = run.reads
        if seen is None or (stats.readers_hinted and stats.pools_hinted):
            return ()
        uses = (self.values_used(call), self.names_used(call))
        return native.hint(self.label, key.parts, uses, read, bool(seen.written), stats)

    def _usable(self, call: Call, stored: Entry, digest: bytes) -> bool:
        """An entry from the tier: usable unless :meth:`judge` rejects it."""
        if not (verdict := self.judge(call, stored)).usable:  # not in memory: kept reasons
            self._reject(self.owner, digest, stored, verdict)
        return verdict.usable

    def _hit(self, call: Call, entry: Entry) -> Any:
        if entry.files:
            files.inherit(entry.files)
        outermost = not (self.nests and depth.get())
        STATS.record_hit(STATS.stats(*self._counted), entry, outermost)
        return self._served(call, entry)

    def _served(self, call: Call, entry: Entry) -> Any:
        """What a counted hit hands out, its mutation checked."""
        value = entry.value if self.as_stored else self.deliver(call, entry, None)
        if entry.fingerprint is not None:
            self.check_mutation(call, entry)
        return value

    def _adopt(self, key: CallKey, call: Call, stored: Entry, tier: Tier) -> Any:
        """An entry another kernel (or an earlier one) stored: it joins the memory tier."""
        entry = Entry(stored.value, stored.fingerprint, stored.parts, stored.seconds)
        entry.expires, entry.files = self._expiry(stored.stored_at), stored.files
        entry.stored_at = stored.stored_at or entry.stored_at
        if entry.files:
            files.inherit(entry.files)
        self._keep(entry, key.digest)
        STATS.record_hit(self.stats(), entry)
        return self.deliver(call, entry, tier.backend.where)


def _reasons(before: Snapshot | None, now: Snapshot, gone: str | None) -> tuple[Reason, ...]:
    return tuple(why_missed(before, now, gone))
