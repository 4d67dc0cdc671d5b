"""How long one call may wait on a remote store, all its requests together.

Each request's own timeout (``store_timeout`` without a byte) stops a dead server, not
a slow one: a server that answers every request just under that timeout never trips
it, and a miss makes several requests in turn (read, lease, read again, write, owner
record, release).  So a call gets one :class:`Deadline`, started when it first touches
the store: each request may wait only what is left of it, and a request made once it
has run out fails at once.  The clock runs only while a request is in flight: the
call's own computation, between its lease and its write, is not the store's time.

A call is marked by the tier (:func:`open_call` when it looks a key up, :func:`close_call`
once it released the key; :func:`call` around a lone read or write); a backend asks
:func:`current` for the call's deadline.  Outside a call (listing, clearing, a lease
renewed on a thread of its own) there is none: those requests have only their own
timeouts.  A context variable holds it, so each thread and each asyncio task has its
own, and a call made while another computes gets its own, then gives the outer one
back.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from concurrent.futures import TimeoutError as FutureTimeout
from contextvars import ContextVar, Token
from typing import TypeVar

T = TypeVar("T")


class Deadline:
    """What is left of one call's time in a remote store."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._left = seconds

    def left(self) -> float:
        return self._left

    @contextlib.contextmanager
    def spending(self) -> Iterator[float]:
        """Around a request: yields the seconds it may take (none left: 0), and counts
        the time it took against the call."""
        start = time.monotonic()
        try:
            yield max(0.0, self._left)
        finally:
            self._left -= time.monotonic() - start


class _Call:
    """One call's slot: its deadline once a backend started it."""

    __slots__ = ("deadline",)

    def __init__(self) -> None:
        self.deadline: Deadline | None = None


_current: ContextVar[_Call | None] = ContextVar("ipycache_store_call", default=None)


def open_call() -> Token[_Call | None]:
    """A call starts: its requests share one deadline from now until :func:`close_call`."""
    return _current.set(_Call())


def close_call(token: Token[_Call | None]) -> None:
    """The call ``token`` opened is done: the enclosing call's deadline (if any) is back."""
    with contextlib.suppress(ValueError, RuntimeError):  # closed already, or elsewhere
        _current.reset(token)


@contextlib.contextmanager
def call() -> Iterator[None]:
    """The block is part of the current call, or a call of its own if none is open."""
    if _current.get() is not None:
        yield
        return
    token = open_call()
    try:
        yield
    finally:
        close_call(token)


def current(seconds: float) -> Deadline | None:
    """The current call's deadline, started now with ``seconds`` if this is its first
    request; None outside a call."""
    found = _current.get()
    if found is None:
        return None
    if found.deadline is None:
        found.deadline = Deadline(seconds)
    return found.deadline


class Spent(TimeoutError):
    """The call's time with the store ran out (``seconds`` in all)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


@contextlib.contextmanager
def span(seconds: float) -> Iterator[float | None]:
    """Around a request of the current call (whose deadline starts with ``seconds``):
    yields the monotonic time it must be done by (None outside a call), and counts the
    time it took; raises :class:`Spent` at once when nothing is left."""
    found = current(seconds)
    if found is None:
        yield None
        return
    with found.spending() as left:
        if left <= 0:
            raise Spent(found.seconds)
        yield time.monotonic() + left


def bounded(work: Callable[[], T], seconds: float, pool: Executor) -> T:
    """``work()`` (one request), waited for no longer than the current call has left
    (its deadline starts with ``seconds``): past that it raises :class:`Spent` and the
    request is left to end on ``pool`` (its own timeout ends it)."""
    with span(seconds) as until:
        if until is None:
            return work()
        future = pool.submit(work)
        try:
            return future.result(timeout=max(0.0, until - time.monotonic()))
        except FutureTimeout:
            if future.done():  # the request's own timeout, not the call's
                raise
            raise Spent(seconds) from None
