"""How many bytes a stored value holds, and the memory budget all entries share.

Sizes are approximate (buffers of arrays and frames, containers walked to a bound) and
measured once, when an entry is stored: enough to keep a notebook's cache within a
share of the machine's memory, cheap enough for every miss.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
import types
from typing import Any

from .. import config


def memory_budget() -> int | None:
    """``SETTINGS.max_memory`` in bytes (None: no bound); asked on every miss."""
    return _budget_of(config.SETTINGS.max_memory)


@functools.lru_cache(maxsize=8)
def _budget_of(value: int | float | str | None) -> int | None:
    return parse_budget(value)


# Units of a size: SI multiples (``"1GB"`` is 10**9 bytes) and binary ones (``"1GiB"``
# is 2**30), as pip, pandas and the disk makers count.
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 1 << 10,
    "mib": 1 << 20,
    "gib": 1 << 30,
    "tib": 1 << 40,
}
_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_budget(value: int | float | str | None) -> int | None:
    """Bytes from ``1_000_000``, ``"2e9"``, ``"1GB"``, ``"512 MiB"`` or a share of this
    machine's RAM (``"25%"``); None for no bound (``""``, ``0``, ``None``).  ValueError
    for anything else (a negative size, an unknown unit, a share above 100%)."""
    if value is None or value == "" or value == 0:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(value)
    if isinstance(value, (int, float)):
        if not value >= 0 or value == float("inf"):
            raise ValueError(value)
        return int(value) or None
    text = value.strip()
    if text.endswith("%"):
        try:
            share = float(text[:-1])
        except ValueError:
            raise ValueError(value) from None
        if not 0 < share <= 100:
            raise ValueError(value)
        return int(_physical_memory() * share / 100)
    found = _SIZE.match(text)
    if found is None or found.group(2).lower() not in _UNITS:
        raise ValueError(value)
    return int(float(found.group(1)) * _UNITS[found.group(2).lower()]) or None


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 8 << 30  # unknown: as if 8 GiB


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
