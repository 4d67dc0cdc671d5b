"""One path for everything cached: lookup -> compute once -> remember -> check on a hit.

A sync call, an async call and a ``%%memo`` cell all go through :class:`Cached`:

1. look the key up in memory, then in the persistent tier (an entry found there joins
   the memory tier);
2. compute once: threads and coroutines of this kernel wait for the one computing the
   key, and kernels sharing a store wait on its lease;
3. remember the entry (:mod:`.remember`);
4. on a hit, check the files it read are unchanged (else it is a miss saying which
   file changed), check the stored value was not mutated, count it, hand it back.

Steps 2 and 3 are one sequence, :meth:`Cached._miss`, a generator that yields where
it must wait: for another thread or task of this kernel (a :class:`.Flight`), for the
cross-kernel lease (a :class:`.Tier`), and for the body (a :class:`.Run`).
:meth:`~Cached.lookup` and :meth:`~Cached.alookup` drive it, and differ only in how
they wait: blocking, or with ``await``.  What differs between a function and a cell
is its :class:`~.subject.Subject`.  The engine imports nothing of IPython.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Generator
from typing import Any

from ..config import SETTINGS
from ..deps import files
from ..errors import RecursionCycleError
from ..keys.key import CallKey
from ..store import persistent
from ..store.lease import FIRST_PAUSE, LONGEST_PAUSE, Claim
from ..store.memory import STORE, Entry
from ..store.persistent import Tier
from . import verdicts
from .flights import FLIGHTS, Flight
from .remember import Keeper, remember
from .run import Run, active, depth
from .stats import STATS
from .subject import Call, Policy, Subject
from .verdicts import USABLE, Verdict
from .verify import recheck_due, rechecked


class _Done:
    """The miss sequence's last step: what the call returns (a plain class: it is made
    on every miss)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class Cached(Keeper[Call]):
    """The engine for one memoized function or one cell label: its lookups."""

    def __init__(self, owner: str, label: str, policy: Policy, subject: Subject[Call]) -> None:
        super().__init__(owner, label, policy, subject)
        self._share = policy.verify_share
        self._checks_hits = policy.checks_hits  # read on every hit

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
        if self._checks_hits:
            entry = STORE.get(owner, digest)
        else:  # the common hit: found, then counted under the counters' lock
            subject = self.subject
            latest = not (subject.nests and active and depth.get())  # an outermost call
            entry = STORE.get(owner, digest)
            if entry is not None and not entry.files:  # :meth:`served`, inline
                lock = STATS.lock  # :meth:`.Stats.record_hit`, inline: a call costs ~10%
                lock.acquire()
                try:
                    stats = STATS.by_owner.get(owner) or STATS.stats(*self.counted)
                    stats.hits += 1
                    entry.hits += 1
                    if latest:
                        stats.last = entry
                finally:
                    lock.release()
                if SETTINGS.verify_share and recheck_due(self):  # own share: checks_hits
                    return rechecked(self, key, call, entry, compute, args, kwargs)
                if subject.hands_out_stored and entry.fingerprint is None:
                    return entry.value
                return self.served(call, entry)
        if entry is not None:
            entry = self._valid(call, owner, digest, entry)
            share = self._share
            if entry is not None and not (SETTINGS.verify_share if share is None else share):
                return self._hit(call, entry)  # its files checked: no sequence to drive
        steps = self._miss(key, call, entry, True, compute, args, kwargs)
        try:
            step = next(steps)
            while not isinstance(step, _Done):
                if isinstance(step, Run):
                    with step:
                        step.value = compute(*args, **kwargs)
                    step = next(steps)
                elif isinstance(step, Tier):
                    step = steps.send(self._claim(step, digest))
                else:
                    step.wait()
                    step = next(steps)
            next(steps, None)  # the sequence ends: its claims released, no exception thrown in
            return step.value
        finally:
            steps.close()  # a miss that raised releases its claims

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
        entry = self._live(call, self.owner, key.digest)
        steps = self._miss(key, call, entry, False, compute, args, kwargs)
        try:
            step = next(steps)
            while not isinstance(step, _Done):
                if isinstance(step, Run):
                    with step:
                        step.value = await compute(*args, **kwargs)
                    step = next(steps)
                elif isinstance(step, Tier):
                    step = steps.send(await self._aclaim(step, key.digest))
                else:
                    await step.wait_async()
                    step = next(steps)
            next(steps, None)
            return step.value
        finally:
            steps.close()

    # ----- the one miss sequence -----------------------------------------------------------

    def _miss(
        self,
        key: CallKey,
        call: Call,
        entry: Entry | None,
        sync: bool,
        compute: Callable[..., Any],
        args: tuple,
        kwargs: dict,
    ) -> Generator[Flight | Tier | Run | _Done, Claim | None, None]:
        """What follows a memory lookup that found ``entry`` (None: nothing usable).

        It yields where the caller waits: a :class:`.Flight` (another thread or task
        of this kernel computes the key), a :class:`.Tier` (send back its lease, held
        until the sequence is closed), a :class:`.Run` (run the body inside it), and
        last :class:`_Done` with the value.  ``sync``: the caller blocks (a hit may be
        re-run for ``verify_share``, with ``compute``)."""
        owner, digest = self.owner, key.digest
        while entry is None:
            pending = FLIGHTS.claim(owner, digest)
            if pending is None:
                break
            if pending.waits_for_itself(sync=sync):
                raise RecursionCycleError(self.subject.describe(call))
            yield pending
            entry = self._live(call, owner, digest)
        else:
            share = self._share
            due = sync and (SETTINGS.verify_share if share is None else share)
            if due and recheck_due(self):
                yield _Done(rechecked(self, key, call, entry, compute, args, kwargs, count=True))
            else:
                yield _Done(self._hit(call, entry))
            return
        claim = None
        try:
            tier = None
            if self.persists():
                with files.suspended():
                    tier = persistent.tier(self.policy.persist)
                    if tier is not None:
                        claim = yield tier
            stored = None if claim is None else claim.stored
            if tier is not None and stored is not None and self._usable(call, stored, digest):
                yield _Done(self._adopt(key, call, stored, tier))
                return
            run = Run(self.subject.nests, self.subject.running, call)
            yield run
            yield _Done(remember(self, key, call, run, tier))
        finally:
            if claim is not None:
                claim.release()
            FLIGHTS.release(owner, digest)

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
        check = self.policy.validate
        if check is not None and not _passes(check, entry.value):
            return Verdict(False, gone="invalid")
        return USABLE

    def _reject(self, owner: str, digest: bytes, entry: Entry, verdict: Verdict) -> None:
        """Drop an entry :meth:`judge` rejected, keeping why for the miss note."""
        if verdict.reasons:  # kept for the miss that follows to say
            self.stale.keep(digest, verdict.reasons)
        STORE.drop(owner, digest, None if verdict.reasons else verdict.gone, only=entry)

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

    def _usable(self, call: Call, stored: Entry, digest: bytes) -> bool:
        """An entry from the tier: usable unless :meth:`judge` rejects it."""
        if not (verdict := self.judge(call, stored)).usable:  # not in memory: kept reasons
            self._reject(self.owner, digest, stored, verdict)
        return verdict.usable

    def _hit(self, call: Call, entry: Entry) -> Any:
        if entry.files:
            files.inherit(entry.files)
        outermost = not (self.subject.nests and depth.get())
        STATS.record_hit(STATS.stats(*self.counted), entry, outermost)
        return self.served(call, entry)

    def _adopt(self, key: CallKey, call: Call, stored: Entry, tier: Tier) -> Any:
        """An entry another kernel (or an earlier one) stored: it joins the memory tier."""
        entry = Entry(stored.value, stored.fingerprint, stored.parts, stored.seconds)
        entry.expires, entry.files = self.expiry(stored.stored_at), stored.files
        entry.stored_at = stored.stored_at or entry.stored_at
        if entry.files:
            files.inherit(entry.files)
        self.keep(entry, key.digest)
        STATS.record_hit(self.stats(), entry)
        return self.subject.deliver(call, entry, tier.backend.where)


def _passes(check: Callable[[Any], Any], value: Any) -> bool:
    """``validate(value)``; False, or raising, drops the entry and recomputes."""
    try:
        return bool(check(value))
    except Exception:
        return False


__all__ = ["Cached", "Policy"]
