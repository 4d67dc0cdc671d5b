"""Whether a plain container may be hashed as one pickle stream, or must be hashed as a tree.

The fast path pickles without a memo, so a part reached twice is written twice: that
is what makes a shared part and an equal copy hash alike (``[x, x]`` and
``[x, copy(x)]`` give one key, as ``==`` says they are equal).  It also makes a value
whose parts are shared at every level, ``a = [a, a]`` nested 26 deep, a stream of 2^26
copies.

The rule, a function of the value's contents only (never of which parts are the same
object, so equal values still get equal digests):

* a list, tuple or dict is *expanded*: its items, plus the expanded items of every
  list, tuple or dict inside it, a part counted each time it is reached;
* it is streamed when that count is at most :data:`FLOOR` or :data:`PER_ITEM` times
  its own length, and otherwise hashed as a tree (the walk path), where each child is
  decided by the same rule and each distinct child is hashed once.

So a value whose sharing makes it huge when expanded is hashed in time linear in its
distinct objects, and the check itself stops as soon as the count passes the bound:
it costs at most a few C-level passes over the bound's worth of items.  Only plain
containers are looked into: sharing through the state of other objects (an instance
whose attributes share parts) is pickled as expanded, a documented limit.
"""

from __future__ import annotations

import gc
from typing import Any

# Nested values up to this many expanded items are always one stream (digests of small
# values do not depend on PER_ITEM).
FLOOR = 1 << 12
# A wider container streams while its expanded size stays under this many items per
# item of its own: records with sub-lists stream, shared towers are walked.
PER_ITEM = 256
_PLAIN = frozenset({list, tuple, dict})
_LISTS = frozenset({list, tuple})


def fits_one_stream(value: list[Any] | tuple[Any, ...] | dict[Any, Any]) -> bool:
    """True when ``value`` (an exact list, tuple or dict) is small enough, expanded, to
    be hashed as one stream (see the module docstring for the rule).

    Level by level, in C: ``gc.get_referents`` of a level's containers is their items
    (a dict's values, and its keys unless they are all str), repeated as often as the
    containers are; items that hold nothing further (atoms) end the descent without a
    look at their types.
    """
    budget = max(FLOOR, PER_ITEM * len(value))
    total = len(value)
    items: Any = value if type(value) is not dict else gc.get_referents(value)
    while total <= budget:
        below = gc.get_referents(*items)
        if not below:
            return True  # nothing under this level: atoms, empty containers
        kinds = set(map(type, items))
        if kinds.isdisjoint(_PLAIN):
            return True
        if kinds <= _LISTS:
            total += len(below)  # a list's or tuple's referents are exactly its items
            items = below
            continue
        containers = items if kinds <= _PLAIN else [x for x in items if type(x) in _PLAIN]
        total += sum(map(len, containers))
        items = below if containers is items else gc.get_referents(*containers)
    return False
