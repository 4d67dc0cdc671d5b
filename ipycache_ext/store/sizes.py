"""How many bytes a stored value holds, and the memory budget all entries share.

Sizes are approximate (buffers of arrays and frames, containers walked to a bound) and
measured once, when an entry is stored: enough to keep a notebook's cache within a
share of the machine's memory, cheap enough for every miss.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import types
from typing import Any

from .. import config
from ..config import parse_budget


def memory_budget() -> int | None:
    """``SETTINGS.max_memory`` in bytes (None: no bound); asked on every miss."""
    return _budget_of(config.SETTINGS.max_memory)


@functools.lru_cache(maxsize=8)
def _budget_of(value: int | float | str | None) -> int | None:
    return parse_budget(value)


_ATOMS = frozenset({int, float, str, bytes, bool, type(None), complex})
_SAMPLE = 1_000  # values of a text column whose sizes stand for all of them


def _pandas_size(item: Any) -> int:
    """A frame's or series' bytes: its buffers, and its text columns from a sample of
    their values (``memory_usage(deep=True)`` visits every string: 6x the time of
    hashing the frame)."""
    usage = item.memory_usage(deep=False)
    total = int(usage.sum() if hasattr(usage, "sum") else usage)
    columns = [item[c] for c in item.columns] if hasattr(item, "columns") else [item]
    for column in columns:
        if column.dtype.kind not in "OSU" and str(column.dtype) not in ("str", "string"):
            continue
        n = len(column)
        if n:
            values = column.iloc[:: max(1, n // _SAMPLE)][:_SAMPLE]
            sizes = [sys.getsizeof(v) for v in values]
            total += int(sum(sizes) / len(sizes) * n)
    return total


def approx_size(obj: Any, limit: int = 20_000) -> int:
    """Rough bytes held by ``obj``: buffers of arrays and frames, containers walked.

    Bounded (``limit`` objects) so ``%memo_info`` stays fast on huge structures.
    """
    if type(obj) in _ATOMS:
        return sys.getsizeof(obj)  # the common small result, without the walk
    seen: set[int] = set()
    stack = [obj]
    total = 0
    while stack and len(seen) < limit:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (types.ModuleType, type, types.FunctionType)):
            continue  # shared with the rest of the program, not held by the cache
        nbytes = getattr(item, "nbytes", None)
        if type(item).__module__.startswith("pandas") and callable(
            getattr(item, "memory_usage", None)
        ):
            with contextlib.suppress(Exception):
                total += _pandas_size(item)
                continue
        if isinstance(nbytes, int):
            total += nbytes
            continue
        try:
            total += sys.getsizeof(item)
        except TypeError:
            continue
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif hasattr(item, "__dict__") and not isinstance(item, type):
            stack.append(vars(item))
    return total
