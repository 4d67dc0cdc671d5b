"""The thin IPython layer: settings as traitlets, notes in the cell, load and unload.

``%config MemoMagics.notes = False`` turns the miss/hit notes off for the kernel
(warnings stay); ``%config MemoMagics.spinner_delay = 2.0`` sets when a long miss
starts showing what is running.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterator
from typing import Any

from IPython.core.magic import Magics, magics_class
from IPython.display import display
from traitlets import Bool, Float, observe

from . import notify
from .memo import memo
from .messages import Note


def _show(note: Note) -> None:
    display({"text/plain": note.text, "text/html": note.html}, raw=True)


@contextlib.contextmanager
def _spinner(note: Note, delay: float) -> Iterator[None]:
    """Show ``note`` if the body is still running after ``delay`` seconds, then blank it."""
    shown: list[Any] = []
    context = contextvars.copy_context()

    def show() -> None:
        notify.emit_silently(lambda: shown.append(_display_with_id(note)))

    timer = threading.Timer(delay, context.run, args=(show,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()
        for handle in shown:
            if handle is not None:
                notify.emit_silently(lambda h=handle: h.update({"text/plain": ""}, raw=True))


def _display_with_id(note: Note) -> Any:
    return display({"text/plain": note.text, "text/html": note.html}, raw=True, display_id=True)


@magics_class
class MemoMagics(Magics):
    """ipycache_ext's magics and kernel-wide settings."""

    notes = Bool(
        True, help="Show the cache miss/hit notes in cell output (warnings always show)."
    ).tag(config=True)
    spinner_delay = Float(
        1.0, help="Seconds a cache miss runs before the cell shows what is running."
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        notify.Settings.notes = self.notes
        notify.Settings.spinner_delay = self.spinner_delay

    @observe("notes")
    def _notes_changed(self, change: dict) -> None:
        notify.Settings.notes = bool(change["new"])

    @observe("spinner_delay")
    def _delay_changed(self, change: dict) -> None:
        notify.Settings.spinner_delay = float(change["new"])


def _display_probe(shell: Any) -> Callable[[Callable[[], None]], Any]:
    """A context factory that calls ``seen()`` whenever the cell displays something."""

    @contextlib.contextmanager
    def probe(seen: Callable[[], None]) -> Iterator[None]:
        pub = shell.display_pub
        had_own = "publish" in vars(pub)
        original = pub.publish

        def publish(*args: Any, **kwargs: Any) -> Any:
            if not notify.emitting():
                seen()
            return original(*args, **kwargs)

        pub.publish = publish
        try:
            yield
        finally:
            if had_own:
                pub.publish = original
            else:
                with contextlib.suppress(AttributeError):
                    del pub.publish

    return probe


_loaded: dict[int, dict[str, Any]] = {}


def load(shell: Any) -> None:
    """Register the magics, route notes into cells and put ``memo`` in the namespace."""
    if id(shell) in _loaded:
        return
    magics = MemoMagics(shell=shell)
    shell.register_magics(magics)
    shell.configurables.append(magics)
    probe = _display_probe(shell)
    notify.set_sink(_show)
    notify.set_spinner(_spinner)
    notify.add_display_probe(probe)
    added_memo = shell.user_ns.get("memo") is not memo
    if added_memo:
        shell.push({"memo": memo}, interactive=False)
    _loaded[id(shell)] = {"magics": magics, "probe": probe, "memo": added_memo}


def unload(shell: Any) -> None:
    """Remove everything :func:`load` added."""
    state = _loaded.pop(id(shell), None)
    if state is None:
        return
    magics = state["magics"]
    manager = shell.magics_manager
    for kind, names in magics.magics.items():
        for name in names:
            manager.magics[kind].pop(name, None)
    manager.registry.pop(type(magics).__name__, None)
    if magics in shell.configurables:
        shell.configurables.remove(magics)
    notify.remove_display_probe(state["probe"])
    notify.set_sink(None)
    notify.set_spinner(None)
    if state["memo"] and shell.user_ns.get("memo") is memo:
        del shell.user_ns["memo"]
        shell.user_ns_hidden.pop("memo", None)
