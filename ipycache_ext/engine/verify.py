"""Proof that a stored result is fresh: run the code again now and compare.

A key sees arguments, globals, code and the files Python opens; a result can still go
stale through what it cannot see (a file read in C, a web service, a subprocess, the
environment, the clock).  ``f.verify(...)``, ``%memo_verify`` and ``verify_share``
re-run the code, compare the new result's digest with the stored one's (the same
hashing as keys), and say "fresh" or "STALE", naming what the run used unseen.  A
stale entry is replaced by the new run's result.

Nothing here imports IPython; the engine calls :func:`rechecked` for ``verify_share``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import messages, notify
from ..config import SETTINGS
from ..deps import files, native, unseen
from ..deps.unseen import Touch
from ..keys.key import CallKey
from ..parts import PartKind
from ..store import persistent
from ..store.memory import STORE, Entry
from ..store.persistent import Tier
from .remember import Keeper
from .run import Run, depth
from .stats import STATS

if TYPE_CHECKING:
    from collections.abc import Callable


class Freshness(enum.Enum):
    FRESH = "fresh"
    STALE = "stale"
    NOT_STORED = "not stored"  # nothing to compare with: nothing ran


@dataclass(frozen=True)
class Verification:
    """What a verify found: ``freshness``, and for a stale result what the run used
    that the key cannot see (``suspects``).  ``stored`` is what the new run stored.

    Its repr is the dataclass's: the verdict in words is the note :func:`verify` shows
    (``note``), so a notebook does not show it twice."""

    what: str
    freshness: Freshness
    suspects: tuple[Touch, ...] = ()
    kind: str = "function"
    stored: Any = field(default=None, repr=False)

    @property
    def fresh(self) -> bool:
        return self.freshness is Freshness.FRESH

    @property
    def stale(self) -> bool:
        return self.freshness is Freshness.STALE

    @property
    def note(self) -> messages.Note:
        if self.freshness is Freshness.FRESH:
            return messages.verified_fresh_note(self.what)
        if self.freshness is Freshness.STALE:
            return messages.verified_stale_warning(self.what, self.suspects, self.kind)
        return messages.nothing_to_verify_note(self.what)


def verify(
    cached: Keeper[Any],
    key: CallKey,
    call: Any,
    compute: Callable[..., Any],
    args: tuple,
    kwargs: dict,
) -> Verification:
    """Run ``call`` again and compare with the entry stored for ``key`` (memory, else
    the persistent store), say the verdict in the cell, and return it."""
    entry, _ = STORE.peek(cached.owner, key.digest)
    if entry is None:
        tier = persistent.tier(cached.policy.persist)
        if tier is not None:
            with files.suspended():
                entry = tier.load(cached.owner, key.digest, cached.label)
    if entry is None:
        what = cached.subject.describe(call)
        found = Verification(what, Freshness.NOT_STORED, kind=cached.kind)
    else:
        found = recheck(cached, key, call, entry, compute, args, kwargs)
    notify.emit(found.note)
    return found


def recheck(
    cached: Keeper[Any],
    key: CallKey,
    call: Any,
    entry: Entry,
    compute: Callable[..., Any],
    args: tuple,
    kwargs: dict,
) -> Verification:
    """Run ``call`` now and compare its result with ``entry``'s by digest; a different
    one replaces the entry.  Nothing is counted and no miss note shows."""
    __tracebackhide__ = True  # IPython shows the user's frames only
    subject = cached.subject
    before = unseen.random_state()
    with Run(subject.nests, subject.running, call) as run:
        run.value = compute(*args, **kwargs)
    drawn = unseen.randomness(before, unseen.random_state())
    stored = subject.stored_value(call, run.value, run.watch)
    what, kind = subject.describe(call), cached.kind
    if subject.result_digest(stored) == subject.result_digest(entry.value):
        return Verification(what, Freshness.FRESH, kind=kind, stored=stored)
    tier = persistent.tier(cached.policy.persist) if cached.persists() else None
    _replace(cached, key, run, stored, tier)
    suspects = _suspects(cached, key, call, run, drawn)
    return Verification(what, Freshness.STALE, suspects, kind, stored)


def _suspects(
    cached: Keeper[Any], key: CallKey, call: Any, run: Run, drawn: tuple[Touch, ...]
) -> tuple[Touch, ...]:
    """What the run used that the key does not cover: the network and subprocesses it
    was seen using, randomness it drew, and by name the environment, the clock and
    native file readers (a file read in C is never seen)."""
    touched = unseen.first_per_channel((run.reads and run.reads.touched) or ())
    code = (part.value for part in key.parts if part.kind is PartKind.CODE)
    names = native.code_names(code) | set(cached.subject.names_used(call))
    readers = tuple(
        Touch(unseen.Channel.NATIVE_READER, name) for name in native.unseen_readers(names)
    )
    return (*touched, *drawn, *unseen.hinted(names), *readers[:1])


def _replace(cached: Keeper[Any], key: CallKey, run: Run, stored: Any, tier: Tier | None) -> None:
    """Store a re-run's result in place of the stale entry for ``key``."""
    read = files.states(run.reads) if run.reads is not None and run.reads.read else ()
    fingerprint = cached.subject.fingerprint(stored)
    entry = Entry(stored, fingerprint, key.snapshot(), run.seconds, files=read)
    entry.expires = cached.expiry()
    cached.keep(entry, key.digest)
    if tier is not None and cached.subject.persist_refusal(stored) is None:
        cached.save(tier, key.digest, entry)


# ----- what the engine calls -----------------------------------------------------------------


def recheck_due(cached: Keeper[Any]) -> bool:
    """Whether this hit is one of the ``verify_share`` to re-check: the shares add up,
    and a hit re-checks when they reach one (no random draw: 1.0 re-checks every hit,
    0.25 every fourth, and the user's random state is left alone)."""
    share = cached.policy.verify_share
    stats = cached.stats()
    stats.verify_debt += SETTINGS.verify_share if share is None else share
    if stats.verify_debt < 1.0:
        return False
    stats.verify_debt -= 1.0
    return True


def rechecked(
    cached: Keeper[Any],
    key: CallKey,
    call: Any,
    entry: Entry,
    compute: Callable[..., Any],
    args: tuple,
    kwargs: dict,
    count: bool = False,
) -> Any:
    """A hit run again (``verify_share``; ``count``: not counted yet): a warning when
    the new result differs, which then replaces the stored one and is what the caller
    gets."""
    __tracebackhide__ = True  # IPython shows the user's frames only
    if count:
        STATS.record_hit(cached.stats(), entry, not (cached.subject.nests and depth.get()))
    found = recheck(cached, key, call, entry, compute, args, kwargs)
    if found.stale:
        notify.emit(messages.verify_share_warning(found.what, found.suspects, cached.kind))
    if found.stale or cached.subject.rerun_delivers:
        return cached.subject.result_of(call, found.stored)
    return cached.served(call, entry)


__all__ = [
    "Freshness",
    "Verification",
    "verify",
    "recheck",
    "recheck_due",
    "rechecked",
]
