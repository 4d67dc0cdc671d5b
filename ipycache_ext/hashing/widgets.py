"""ipywidgets widgets, hashed by what they hold: their synced state.

A widget's pickled state holds its comm, a lock and a model id, so hashing it by
state refused it (the lock) or made every new widget a new input.  What a function
reads of a widget is its state (``value``, ``min``, ``options``, ...): two sliders at
the same value are the same input, moving one is a change.  A state entry that refers
to another widget (``layout``, ``style``, a box's ``children``: ``IPY_MODEL_<id>``) is
hashed as that widget's state in turn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import xxhash
from ipywidgets import Widget
from ipywidgets.widgets import widget as _widget_module

from .handlers import register

if TYPE_CHECKING:
    from .core import Hasher

_REF = "IPY_MODEL_"


def _instances() -> dict[str, Any]:
    found = getattr(_widget_module, "_instances", None)
    return found if isinstance(found, dict) else getattr(Widget, "widgets", {})


def _resolved(value: Any) -> Any:
    """``value`` with references to widgets replaced by the widgets, buffers by bytes."""
    if isinstance(value, str) and value.startswith(_REF):
        return _instances().get(value[len(_REF) :], value)
    if isinstance(value, (list, tuple)):
        return type(value)(_resolved(v) for v in value)
    if isinstance(value, dict):
        return {k: _resolved(v) for k, v in value.items()}
    if isinstance(value, memoryview):
        return value.tobytes()
    return value


def digest_widget(widget: Any, hasher: Hasher) -> bytes:
    tp = type(widget)
    state = widget.get_state()
    h = xxhash.xxh3_128()
    h.update(f"ipywidget|{tp.__module__}.{tp.__qualname__}|".encode())
    for name in sorted(state):
        h.update(name.encode() + b"\0" + hasher.digest_nested(_resolved(state[name])))
    return h.digest()


register(Widget, digest_widget, root="ipywidgets")
