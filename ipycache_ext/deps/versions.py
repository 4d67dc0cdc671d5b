"""Has a dict changed at all since we looked?  CPython's dict version tag, where it has one.

CPython 3.11 to 3.13 give every dict a 64-bit version tag (PEP 509) that takes a new,
never reused value on every change: an item added, replaced or removed, a clear, an
update.  Reading it is how a guard over a thousand names in one module's dict costs
one comparison while the dict is untouched, instead of a thousand lookups.

The tag is not part of the Python API; it sits in the ``PyDictObject`` header right
after the item count.  It is read only where that layout is known (CPython 3.11-3.13,
64-bit, with the GIL), and only after a self-test on this very interpreter shows the
tag moves on every kind of change and the count sits where expected.  Anywhere else
:func:`tag_of` returns None and guards compare every name (correct, only slower).
A tag is read through a ``ctypes`` view of a dict the guard holds a strong
reference to, so the memory read is always that live dict's.
"""

from __future__ import annotations

import ctypes
import sys
import sysconfig
from collections.abc import Callable
from typing import Any

_HEAD = 2 * ctypes.sizeof(ctypes.c_void_p)  # ob_refcnt, ob_type
_USED = _HEAD  # Py_ssize_t ma_used
_TAG = _HEAD + ctypes.sizeof(ctypes.c_ssize_t)  # uint64_t ma_version_tag


class Tag(ctypes.c_uint64):
    """A view of one dict's version tag (``.value`` reads it now)."""


def _layout_known() -> bool:
    return (
        sys.implementation.name == "cpython"
        and (3, 11) <= sys.version_info[:2] <= (3, 13)
        and ctypes.sizeof(ctypes.c_void_p) == 8
        and not sysconfig.get_config_var("Py_GIL_DISABLED")
    )


def _moves_on_every_change() -> bool:
    """The self-test: each kind of change gives a new tag, and the count is in place."""
    probe: dict[str, Any] = {}
    if ctypes.c_ssize_t.from_address(id(probe) + _USED).value != 0:
        return False
    tag = Tag.from_address(id(probe) + _TAG)
    changes: list[Callable[[], object]] = [
        lambda: probe.__setitem__("a", 1),
        lambda: probe.__setitem__("a", 2),
        lambda: probe.update(b=3),
        lambda: probe.setdefault("c", 4),
        lambda: probe.pop("c"),
        lambda: probe.__delitem__("b"),
        lambda: probe.popitem(),
        lambda: probe.__setitem__("d", 5),
        lambda: probe.clear(),
    ]
    seen = {tag.value}
    for change in changes:
        change()
        if tag.value in seen:
            return False
        seen.add(tag.value)
    probe.update(x=1, y=2)
    return ctypes.c_ssize_t.from_address(id(probe) + _USED).value == 2


def readable() -> bool:
    """True where this interpreter's dict version tags can be read and trusted."""
    return _layout_known() and _moves_on_every_change()


ENABLED = readable()


def tag_of(namespace: dict) -> Tag | None:
    """A live view of ``namespace``'s version tag, or None where tags cannot be read
    (another interpreter, or a dict subclass that may keep its items elsewhere)."""
    if not ENABLED or type(namespace) is not dict:
        return None
    return Tag.from_address(id(namespace) + _TAG)
