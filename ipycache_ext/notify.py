"""How notes reach the user, and how a run's own output is noticed.

Plain Python prints notes to stderr.  The IPython front end installs a sink that
displays them in the cell, a spinner that shows a long miss while it runs, and a
probe that notices ``display()`` calls.  The engine only calls the functions here.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager as ContextManager
from typing import Any

from .config import SETTINGS
from .messages import Note


def _stderr_sink(note: Note) -> None:
    print(note.text, file=sys.stderr)


_sink: Callable[[Note], None] = _stderr_sink
# A front end's spinner: given a maker of the "running" note and the delay, a context
# manager around the body.
SpinnerFactory = Callable[[Callable[[], Note], float], ContextManager[None]]
_spinner: SpinnerFactory | None = None
_display_probes: list[Callable[[Callable[[], None]], ContextManager[None]]] = []
_local = threading.local()


def set_sink(sink: Callable[[Note], None] | None) -> None:
    """Route notes somewhere else; ``None`` restores stderr."""
    global _sink
    _sink = sink or _stderr_sink


def set_spinner(factory: SpinnerFactory | None) -> None:
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


def held(subject: str) -> bool:
    """True when the sink would only count a miss note of ``subject`` (a front end that
    sums up many misses of one function): such a note needs its facts, not its words."""
    holds = getattr(_sink, "holds", None)
    return holds is not None and bool(holds(subject))


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


def spinner(make: Callable[[], Note]) -> ContextManager[None]:
    """Show the note ``make()`` builds while the body runs longer than
    ``SETTINGS.spinner_delay`` (built only then: most misses end sooner)."""
    if _spinner is None:
        return contextlib.nullcontext()
    return _spinner(make, SETTINGS.spinner_delay)


class _Tee:
    """Forwards writes to the real stream and flags the watchers of the writing thread
    or task (a write elsewhere is not this run's output)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        if text and not emitting():
            if _erase_first:
                _erase_lines()
            for flag in _watchers.get():
                flag[0] = True
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


# The runs watching for output in this thread or task (nested misses: all of them).
_watchers: contextvars.ContextVar[tuple[list[bool], ...]] = contextvars.ContextVar(
    "ipycache_output_watchers", default=()
)
_tee_lock = threading.Lock()
_tee_users = 0
_tee_saved: tuple[Any, Any] | None = None  # the streams the tees replaced
# The last pair of tees, used again while the streams they wrap are the same ones.
_tees: tuple[_Tee, _Tee] = (_Tee(None), _Tee(None))


def _install_tees() -> None:
    """One pair of tees for every watching run at once: runs in other threads neither
    wrap each other's tee nor leave one behind when they end out of order."""
    global _tee_users, _tee_saved, _tees
    _tee_lock.acquire()  # not ``with``: it costs twice as much, and every miss comes here
    try:
        if _tee_users == 0:
            out, err = sys.stdout, sys.stderr
            _tee_saved = (out, err)
            tee_out, tee_err = _tees
            if tee_out._stream is not out or tee_err._stream is not err:
                _tees = tee_out, tee_err = _Tee(out), _Tee(err)
            sys.stdout, sys.stderr = tee_out, tee_err
        _tee_users += 1
    finally:
        _tee_lock.release()


def _remove_tees() -> None:
    """The last watching run puts back exactly the streams the tees replaced (unless
    someone replaced a tee meanwhile: theirs is left alone)."""
    global _tee_users, _tee_saved
    _tee_lock.acquire()
    try:
        _tee_users -= 1
        if _tee_users or _tee_saved is None:
            return
        out, err = _tee_saved
        _tee_saved = None
        tee_out, tee_err = _tees  # what the first watching run installed
        if sys.stdout is tee_out:
            sys.stdout = out
        if sys.stderr is tee_err:
            sys.stderr = err
    finally:
        _tee_lock.release()


class OutputWatch:
    """``with OutputWatch() as flag``: ``flag`` is a one-item list that becomes
    ``[True]`` if the body writes any output (to stdout, stderr or ``display()``).

    A class, not a generator: it is entered on every miss, and a generator-based
    context manager costs several times more to enter and leave.
    """

    __slots__ = ("_token", "_probes")

    def __enter__(self) -> list[bool]:
        flag = [False]
        self._token = _watchers.set((*_watchers.get(), flag))
        _install_tees()
        self._probes: contextlib.ExitStack | None = None
        if _display_probes:

            def seen() -> None:
                flag[0] = True

            with contextlib.ExitStack() as stack:
                try:
                    for probe in list(_display_probes):
                        stack.enter_context(probe(seen))
                except BaseException:
                    self._stop()
                    raise
                self._probes = stack.pop_all()
        return flag

    def __exit__(self, *exc: Any) -> None:
        if self._probes is None:  # :meth:`_stop`, inline: every miss leaves here
            _watchers.reset(self._token)
            _remove_tees()
            return
        try:
            self._probes.__exit__(*exc)
        finally:
            self._stop()

    def _stop(self) -> None:
        _watchers.reset(self._token)
        _remove_tees()


# Lines a front end wrote on the terminal for the user to see while a miss runs (terminal
# IPython's spinner): the run's own output erases them first, or the two would share a line.
_erase_first: list[Callable[[], None]] = []


def erase_before_output(erase: Callable[[], None]) -> None:
    """Call ``erase`` (once) before the next output of a run, unless it is withdrawn."""
    _erase_first.append(erase)


def withdraw_erase(erase: Callable[[], None]) -> None:
    with contextlib.suppress(ValueError):
        _erase_first.remove(erase)


def _erase_lines() -> None:
    for erase in list(_erase_first):
        withdraw_erase(erase)
        emit_silently(erase)
