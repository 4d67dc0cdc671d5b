"""Ordered record of what a cell outputs during a miss, and its replay on a hit.

Output still shows live: streams are teed, ``display_pub.publish`` is wrapped, and
each event is appended in the order it happened.  Notes of ours (a nested ``@memo``
miss) are not recorded, because on a hit nothing ran.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import Any

from .. import notify

Event = tuple[str, Any]


class _Publishing(threading.local):
    """Set while a display is published: a terminal shell prints it to stdout, and
    that text must not be recorded a second time as a stream."""

    depth = 0


_publishing = _Publishing()


class _RecordingStream:
    """Forwards writes to the real stream and records them as ``(name, text)``."""

    def __init__(self, stream: Any, name: str, events: list[Event]) -> None:
        self._stream = stream
        self._name = name
        self._events = events

    def write(self, text: str) -> int:
        if text and not notify.emitting() and not _publishing.depth:
            events = self._events
            if events and events[-1][0] == self._name:
                events[-1] = (self._name, events[-1][1] + text)
            else:
                events.append((self._name, text))
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _flush_inline_figures() -> None:
    """Show pending inline matplotlib figures now, so they are recorded with the cell."""
    if "matplotlib_inline.backend_inline" not in sys.modules:
        return
    backend = sys.modules["matplotlib_inline.backend_inline"]
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None or "inline" not in str(plt.get_backend()):
        return
    with contextlib.suppress(Exception):
        backend.flush_figures()


@contextlib.contextmanager
def recording(shell: Any) -> Iterator[list[Event]]:
    """Record stdout, stderr and display data of the body, in order."""
    events: list[Event] = []
    out, err = sys.stdout, sys.stderr
    pub = shell.display_pub
    had_own = "publish" in vars(pub)
    original_publish = pub.publish
    had_own_clear = "clear_output" in vars(pub)
    original_clear = pub.clear_output

    def publish(data: Any, metadata: Any = None, **kwargs: Any) -> Any:
        if not notify.emitting():
            events.append(("display", (data, metadata, kwargs)))
        _publishing.depth += 1
        try:
            return original_publish(data, metadata, **kwargs)
        finally:
            _publishing.depth -= 1

    def clear_output(wait: bool = False) -> Any:
        events.append(("clear", wait))
        return original_clear(wait)

    sys.stdout = _RecordingStream(out, "stdout", events)
    sys.stderr = _RecordingStream(err, "stderr", events)
    pub.publish = publish
    pub.clear_output = clear_output
    try:
        yield events
        _flush_inline_figures()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        sys.stdout, sys.stderr = out, err
        _restore(pub, "publish", had_own, original_publish)
        _restore(pub, "clear_output", had_own_clear, original_clear)


def _restore(obj: Any, name: str, had_own: bool, original: Any) -> None:
    if had_own:
        setattr(obj, name, original)
    else:
        with contextlib.suppress(AttributeError):
            delattr(obj, name)


def replay(shell: Any, events: list[Event]) -> None:
    """Show recorded output again, in the same order and with the same mime bundles."""
    for kind, payload in events:
        if kind == "stdout":
            sys.stdout.write(payload)
        elif kind == "stderr":
            sys.stderr.write(payload)
        elif kind == "display":
            data, metadata, kwargs = payload
            sys.stdout.flush()
            sys.stderr.flush()
            shell.display_pub.publish(data, metadata, **kwargs)
        elif kind == "clear":
            shell.display_pub.clear_output(payload)
    sys.stdout.flush()
    sys.stderr.flush()
