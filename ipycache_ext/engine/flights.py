"""Keys being computed in this kernel: the one computing, and those waiting for it.

A thread waits on an event; a coroutine awaits a future of its own loop, woken
thread-safely, so sync and async callers of one key compute it once.  This is the
engine's bookkeeping of its runs, not the store's: the store keeps finished entries.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

_lock = threading.Lock()  # every flight's: taken briefly, when landing or waiting


# Who computes a key: the thread, and the task when it runs in an event loop.
Computer = tuple[int, "asyncio.Task[Any] | None"]
_get_ident = threading.get_ident


def computer() -> Computer:
    """The caller, as a key's computer.  Until a second caller waits for the key, this
    pair is all :class:`Flights` keeps of it: a :class:`Flight` is made only then."""
    # _current_task(), inline: this runs on every miss.
    return _get_ident(), None if asyncio._get_running_loop() is None else asyncio.current_task()


class Flight:
    """A key being computed in this kernel: threads wait on an event, coroutines on a
    future of their own loop (woken thread-safely).

    A flight is made only when a second caller comes for a key being computed (until
    then :class:`Flights` keeps the :func:`computer` alone); its event and list of waiting
    coroutines only when someone waits on it; every flight shares one lock.  Most
    keys are computed with no one waiting, and each of those objects would cost every
    miss.
    """

    __slots__ = ("_event", "_landed", "_waiters", "thread", "task")

    def __init__(self, computer: Computer) -> None:
        # Who computes it: a wait by the same thread (sync) or task (async) is a cycle.
        self.thread, self.task = computer
        self._event: threading.Event | None = None
        self._landed = False
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] | None = None

    def wait(self) -> None:
        """Block this thread until the key has been computed (or given up)."""
        with _lock:
            if self._landed:
                return
            if self._event is None:
                self._event = threading.Event()
            event = self._event
        event.wait()

    async def wait_async(self) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with _lock:
            if self._landed:
                return
            if self._waiters is None:
                self._waiters = []
            self._waiters.append((loop, future))
        await asyncio.shield(future)

    def waits_for_itself(self, sync: bool) -> bool:
        """True if waiting for this flight here would never end: a sync wait on the
        thread computing it, or an async wait by the task computing it."""
        if sync:
            return self.thread == threading.get_ident()
        return self.task is not None and self.task is _current_task()

    def land(self) -> None:
        _lock.acquire()  # not ``with``: it costs twice as much, and every miss lands
        try:
            self._landed = True
            event, self._event = self._event, None
            waiters, self._waiters = self._waiters, None
        finally:
            _lock.release()
        if event is not None:
            event.set()
        for loop, future in waiters or ():
            with contextlib.suppress(RuntimeError):  # a loop closed meanwhile
                loop.call_soon_threadsafe(_resolve, future)


class Flights:
    """Who computes each key of this kernel, or the :class:`Flight` made when a second
    caller came for it: one claim and one release a miss."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inflight: dict[tuple[str, bytes], Flight | Computer] = {}

    def claim(self, owner: str, key: bytes) -> Flight | None:
        """None if this caller should compute ``key``; else the flight to wait for."""
        lock = self._lock  # acquire/release: ``with`` costs twice as much (every miss)
        lock.acquire()
        try:
            pending = self._inflight.get((owner, key))
            if pending is None:  # :func:`computer`, inline: every miss comes here
                running = asyncio._get_running_loop() is not None
                self._inflight[(owner, key)] = (
                    _get_ident(),
                    asyncio.current_task() if running else None,
                )
                return None
            if isinstance(pending, Flight):
                return pending
            flight = self._inflight[(owner, key)] = Flight(pending)  # the first to wait
            return flight
        finally:
            lock.release()

    def release(self, owner: str, key: bytes) -> None:
        """``key`` is computed (or given up): wake whoever waits for it."""
        lock = self._lock
        lock.acquire()
        try:
            flight = self._inflight.pop((owner, key), None)
        finally:
            lock.release()
        if type(flight) is Flight:  # someone waited for it (else None, or who computed it)
            flight.land()


def _current_task() -> asyncio.Task[Any] | None:
    if asyncio._get_running_loop() is None:
        return None  # no loop in this thread (asking current_task would raise)
    return asyncio.current_task()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


FLIGHTS = Flights()
