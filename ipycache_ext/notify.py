"""How notes reach the user, and how a run's own output is noticed.

Plain Python prints notes to stderr.  The IPython front end installs a sink that
displays them in the cell, a spinner that shows a long miss while it runs, and a
probe that notices ``display()`` calls.  The engine only calls the functions here.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager as ContextManager
from typing import Any

from .config import SETTINGS
from .messages import Note


def _stderr_sink(note: Note) -> None:
    print(note.text, file=sys.stderr)


_sink: Callable[[Note], None] = _stderr_sink
_spinner: Callable[[Note, float], ContextManager[None]] | None = None
_display_probes: list[Callable[[Callable[[], None]], ContextManager[None]]] = []
_local = threading.local()


def set_sink(sink: Callable[[Note], None] | None) -> None:
    """Route notes somewhere else; ``None`` restores stderr."""
    global _sink
    _sink = sink or _stderr_sink


def set_spinner(factory: Callable[[Note, float], ContextManager[None]] | None) -> None:
    global _spinner
    _spinner = factory


def add_display_probe(probe: Callable[[Callable[[], None]], ContextManager[None]]) -> None:
    _display_probes.append(probe)


def remove_display_probe(probe: Callable[[Callable[[], None]], ContextManager[None]]) -> None:
    if probe in _display_probes:
        _display_probes.remove(probe)


def emitting() -> bool:
    """True while a note is being shown (its output is not the user's)."""
    return getattr(_local, "emitting", False)


def emit(note: Note) -> None:
    """Show a note; miss and hit notes are dropped while notes are turned off."""
    if note.kind in ("miss", "hit") and not SETTINGS.notes:
        return
    emit_silently(lambda: _sink(note))


def emit_silently(show: Callable[[], Any]) -> Any:
    """Run ``show`` (which displays something of ours) so that no probe counts it."""
    _local.emitting = True
    try:
        return show()
    finally:
        _local.emitting = False


def spinning() -> bool:
    """True if a front end shows a running miss (else its note need not be built)."""
    return _spinner is not None


def spinner(note: Note) -> ContextManager[None]:
    """Show ``note`` while the body runs longer than ``SETTINGS.spinner_delay``."""
    if _spinner is None:
        return contextlib.nullcontext()
    return _spinner(note, SETTINGS.spinner_delay)


class _Tee:
    """Forwards writes to the real stream and remembers that something was written."""

    def __init__(self, stream: Any, seen: Callable[[], None]) -> None:
        self._stream = stream
        self._seen = seen

    def write(self, text: str) -> int:
        if text and not emitting():
            self._seen()
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def watch_output() -> Iterator[list[bool]]:
    """Yield a one-item list that becomes ``[True]`` if the body writes any output."""
    flag = [False]

    def seen() -> None:
        flag[0] = True

    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tee(out, seen), _Tee(err, seen)
    try:
        if _display_probes:
            with contextlib.ExitStack() as stack:
                for probe in list(_display_probes):
                    stack.enter_context(probe(seen))
                yield flag
        else:
            yield flag
    finally:
        if isinstance(sys.stdout, _Tee) and sys.stdout._stream is out:
            sys.stdout = out
        if isinstance(sys.stderr, _Tee) and sys.stderr._stream is err:
            sys.stderr = err
