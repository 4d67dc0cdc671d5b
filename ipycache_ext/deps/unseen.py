"""What a run used that its key cannot see: the network, other processes, the
environment, the clock, randomness, files read in C.

A key covers arguments, globals, code and the files Python's ``open`` reads.  A result
fetched over HTTP, printed by a subprocess or read from ``$DATA_VERSION`` can change
with none of them changing.  Python raises audit events for network connections
(``socket.connect``, ``http.client.connect``, ``urllib.Request``) and for new
processes (``subprocess.Popen``, ``os.system``, ``os.exec``, ``os.posix_spawn``,
``os.spawn``): the one audit hook routes them, with the file events, to the recorders
of the misses running (:mod:`.files`), which keep them as :class:`Touch` values.

Reading ``os.environ`` or calling ``os.getenv`` raises no event, and wrapping
``os.environ`` would change an object every library shares, in every thread: the
environment, the clock and randomness are found from the names the code uses
instead (:func:`hinted`), a hint rather than an observation.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterable
from typing import Any

from ..parts import Channel, Touch

NETWORK_EVENTS = frozenset({"socket.connect", "http.client.connect", "urllib.Request"})
PROCESS_EVENTS = frozenset(
    {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.startfile"}
)
EVENTS = NETWORK_EVENTS | PROCESS_EVENTS


def touch_of(event: str, args: tuple[Any, ...]) -> Touch | None:
    """The :class:`Touch` an audit event stands for (None: one this module ignores)."""
    try:
        if event == "http.client.connect":
            return Touch(Channel.NETWORK, event, f"{args[1]}:{args[2]}")
        if event == "urllib.Request":
            return Touch(Channel.NETWORK, event, str(args[0]))
        if event == "socket.connect":
            address = args[1]
            if isinstance(address, tuple) and len(address) >= 2:
                return Touch(Channel.NETWORK, event, f"{address[0]}:{address[1]}")
            return Touch(Channel.NETWORK, event, str(address))
        if event == "subprocess.Popen":
            command = args[1]
            shown = command if isinstance(command, (str, bytes)) else _argv(command)
            return Touch(Channel.SUBPROCESS, event, _text(shown))
        if event == "os.system":
            return Touch(Channel.SUBPROCESS, event, _text(args[0]))
        if event in ("os.exec", "os.posix_spawn"):
            return Touch(Channel.SUBPROCESS, event, _text(args[0]))
        if event == "os.spawn":
            return Touch(Channel.SUBPROCESS, event, _text(args[1]))
        if event == "os.startfile":
            return Touch(Channel.SUBPROCESS, event, _text(args[0]))
    except (IndexError, TypeError):
        return Touch(Channel.NETWORK if event in NETWORK_EVENTS else Channel.SUBPROCESS, event)
    return None


def record(event: str, args: tuple[Any, ...], recorders: Iterable[Any]) -> None:
    """An event of :data:`EVENTS` during misses: each recorder keeps its touch once."""
    touch = touch_of(event, args)
    if touch is not None:
        for recorder in recorders:
            if recorder.touched is None:
                recorder.touched = {}
            recorder.touched[touch] = None


def _argv(command: Any) -> str:
    try:
        return " ".join(_text(part) for part in command)
    except TypeError:
        return _text(command)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def first_per_channel(touches: Iterable[Touch]) -> tuple[Touch, ...]:
    """One touch per channel, the first seen (``urllib.Request`` before the
    ``socket.connect`` it leads to): what a note names."""
    found: dict[Channel, Touch] = {}
    for touch in touches:
        found.setdefault(touch.channel, touch)
    return tuple(found.values())


# Names in the code that read what no audit event reports (as the code spells them).
_HINTS = (
    (Channel.ENVIRONMENT, frozenset({"environ", "getenv", "environb", "getenvb"})),
    (
        Channel.CLOCK,
        frozenset({"now", "today", "utcnow", "time_ns", "perf_counter", "monotonic", "localtime"}),
    ),
)


def hinted(names: Iterable[str]) -> tuple[Touch, ...]:
    """The unseen inputs the code's names suggest (``os.environ``, ``datetime.now``)."""
    used = set(names)
    found = []
    for channel, spelled in _HINTS:
        matched = sorted(spelled.intersection(used))
        if matched:
            found.append(Touch(channel, matched[0]))
    return tuple(found)


RandomState = tuple[Any, ...]


def random_state() -> RandomState:
    """The global random generators' state (``random``, and ``numpy.random`` when numpy
    is imported): a run that advanced it drew random numbers.  Taken only around a
    verify run: ``getstate`` copies 625 numbers."""
    found: list[Any] = [random.getstate()]
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        try:
            kind, keys, pos, *_ = numpy.random.get_state()
            found.append((kind, keys.tobytes(), pos))
        except Exception:
            found.append(None)
    return tuple(found)


def randomness(before: RandomState, after: RandomState) -> tuple[Touch, ...]:
    """A :class:`Touch` per global generator whose state moved between two
    :func:`random_state` snapshots."""
    names = ("random", "numpy.random")
    return tuple(
        Touch(Channel.RANDOMNESS, name)
        for name, old, new in zip(names, before, after, strict=False)
        if old != new
    )


__all__ = [
    "Channel",
    "Touch",
    "EVENTS",
    "touch_of",
    "record",
    "first_per_channel",
    "hinted",
    "random_state",
    "randomness",
]
