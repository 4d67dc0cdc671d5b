"""What a miss does besides running the body: with notes off, no note is worded (an
argument's repr is taken once, for what the entry keeps to explain a later miss)."""

from __future__ import annotations

import threading
from typing import Any

from conftest import Notes, define

from ipycache_ext import config
from ipycache_ext.engine.flights import Flight, Flights


class Shown:
    """An argument that counts how often it is put into words."""

    reprs = 0

    def __init__(self, n: int) -> None:
        self.n = n

    def __repr__(self) -> str:
        Shown.reprs += 1
        return f"Shown({self.n})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Shown, (self.n,))


def test_miss_with_notes_off_words_no_note(ns: dict, notes: Notes) -> None:
    config.SETTINGS.notes = False
    define(ns, "@memo\ndef f(x):\n    return x.n + 1\n")
    Shown.reprs = 0
    assert ns["f"](Shown(1)) == 2
    assert notes.of("miss") == []
    assert Shown.reprs == 1


def test_miss_with_notes_on_still_names_the_call(ns: dict, notes: Notes) -> None:
    define(ns, "@memo\ndef f(x):\n    return x.n + 1\n")
    ns["f"](Shown(1))
    [note] = notes.texts("miss")
    assert "f(Shown(1))" in note


def test_a_key_waited_for_gets_one_flight_that_wakes_its_waiters_when_released() -> None:
    flights = Flights()
    assert flights.claim("f", b"key") is None  # this caller computes: no flight made yet
    flight = flights.claim("f", b"key")  # a second caller: now there is one to wait on
    assert isinstance(flight, Flight)
    assert flights.claim("f", b"key") is flight  # a third waits on the same one
    assert flight.waits_for_itself(sync=True)  # the computer's own thread would never wake
    woke = threading.Event()

    def wait() -> None:
        flight.wait()
        woke.set()

    waiter = threading.Thread(target=wait)
    waiter.start()
    assert not woke.wait(0.05)
    flights.release("f", b"key")
    assert woke.wait(30)
    waiter.join(30)
    assert flights.claim("f", b"key") is None  # free again: the next caller computes
    flights.release("f", b"key")
    assert flights.claim("f", b"key") is None  # released with no one waiting: nothing left
    flights.release("f", b"key")
