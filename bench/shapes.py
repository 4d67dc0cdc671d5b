"""Section 7: value shapes whose hashing the issues set targets for, and entry size.

* a value whose parts are shared at every level (``a = [a, a]`` nested 26 deep: 2^26
  paths, 27 distinct lists), whose digest must take at most 1 ms;
* a small DataFrame (10 x 3: int, float and str columns) as an argument, against
  pickle protocol 5 streamed into xxh3;
* lists of 10,000 and 100,000 dataclass instances, attrs instances, pydantic models and
  namedtuples, against pickle protocol 5 streamed into xxh3;
* lists, tuples and dicts of atoms (a million small ints, floats, short strs), against
  pickle protocol 5 streamed into xxh3 (issue 26: at most as slow);
* the memory a tiny entry (``f(i, 21)`` with a small int result) takes in the store,
  against ``functools.lru_cache``: tracemalloc's count of bytes allocated and still held
  after storing 5,000 entries, divided by 5,000 (a dict's table grows in steps, so the
  figure moves by a few tens of bytes with the count).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import gc
import tracemalloc
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
import pandas as pd
import pydantic
from targets import Target
from timing import race, race_per_call

from ipycache_ext import hashing, memo

TOWER_DEPTH = 26
ENTRIES = 5000


@dataclasses.dataclass
class DataPoint:
    x: int
    y: float
    name: str


@attrs.define
class AttrsPoint:
    x: int
    y: float
    name: str


class ModelPoint(pydantic.BaseModel):
    x: int
    y: float
    name: str


TuplePoint = collections.namedtuple("TuplePoint", "x y name")

KINDS: dict[str, Any] = {
    "dataclasses": DataPoint,
    "attrs instances": AttrsPoint,
    "pydantic models": ModelPoint,
    "namedtuples": TuplePoint,
}

SCALE = 3
OFFSET = 7


def tiny(a: int, b: int) -> int:
    return (a * SCALE + b + OFFSET) % 200  # a small int: the result allocates nothing


def bytes_per_entry(fn: Callable[[int, int], int]) -> float:
    fn(-1, 21)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(10**6, 10**6 + ENTRIES):
            fn(i, 21)
        gc.collect()
        return (tracemalloc.get_traced_memory()[0] - before) / ENTRIES
    finally:
        tracemalloc.stop()


def atom_values() -> dict[str, Any]:
    """Containers of atoms only, by name."""
    return {
        "list of 1e6 small ints": [i % 1000 for i in range(1_000_000)],
        "tuple of 1e6 small ints": tuple(i % 1000 for i in range(1_000_000)),
        "list of 1e6 floats": [i * 0.5 for i in range(1_000_000)],
        "list of 1e5 short strs": [f"s{i}" for i in range(100_000)],
        "dict of 1e5 str -> int": {f"key{i}": i for i in range(100_000)},
    }


def atoms(pickle5: Callable[[Any], bytes]) -> list[tuple[str, dict[str, float]]]:
    """Each container of atoms hashed by ``digest`` and by ``pickle5``, in turns."""
    found = []
    for name, value in atom_values().items():
        timings = race(
            {"memo": lambda v=value: hashing.digest(v), "pickle5": lambda v=value: pickle5(v)},
            budget=4.0,
        )
        found.append((name, timings))
    return found


def shapes(pickle5: Callable[[Any], bytes]) -> dict[str, Any]:
    """Time each shape's digest (and pickle5's where it is the peer); measure entries."""
    tower: list[Any] = [0]
    for _ in range(TOWER_DEPTH):
        tower = [tower, tower]
    frame = pd.DataFrame(
        {
            "i": np.arange(10),
            "f": np.arange(10) * 0.5,
            "s": [f"s{i}" for i in range(10)],
        }
    )
    found: dict[str, Any] = {
        "tower": race({"memo": lambda: hashing.digest(tower)})["memo"],
        "frame": race_per_call(
            {
                "memo": (lambda: hashing.digest(frame), 2000),
                "pickle5": (lambda: pickle5(frame), 2000),
            }
        ),
        "lists": [],
        "atoms": atoms(pickle5),
    }
    for label, kind in KINDS.items():
        for n in (10_000, 100_000):
            items = [kind(x=i, y=i * 0.5, name=f"p{i}") for i in range(n)]
            timings = race(
                {
                    "memo": lambda v=items: hashing.digest(v),
                    "pickle5": lambda v=items: pickle5(v),
                },
                budget=4.0,
            )
            found["lists"].append((f"list of {n:,} {label}", timings))
    found["entry"] = {
        "`@memo`": bytes_per_entry(memo(tiny)),
        "`functools.lru_cache`": bytes_per_entry(functools.lru_cache(maxsize=None)(tiny)),
    }
    return found


def shape_targets(found: dict[str, Any]) -> list[Target]:
    frame = found["frame"]
    targets = [
        Target(
            11,
            f"`a = [a, a]` nested {TOWER_DEPTH} deep (shared parts), ms",
            found["tower"] * 1e3,
            1.0,
            "ms",
        ),
        Target(
            11,
            "small DataFrame (10 x 3) vs pickle5→xxh3",
            frame["memo"] / frame["pickle5"],
            1.0,
            "x",
        ),
        Target(11, "bytes per tiny entry `f(i, 21)`", found["entry"]["`@memo`"], 300, "B"),
    ]
    for name, t in found["lists"]:
        targets.append(Target(14, f"{name} vs pickle5→xxh3", t["memo"] / t["pickle5"], 2.0, "x"))
    for name, t in found["atoms"]:
        targets.append(Target(26, f"{name} vs pickle5→xxh3", t["memo"] / t["pickle5"], 1.0, "x"))
    return targets


def report_shapes(found: dict[str, Any]) -> list[str]:
    frame = found["frame"]
    out = [
        "## 8. Value shapes and entry size",
        "",
        "| value | `digest` | pickle5→xxh3 | vs pickle5 |",
        "|---|---:|---:|---:|",
        f"| `a = [a, a]` nested {TOWER_DEPTH} deep | {found['tower'] * 1e3:.3f} ms | — | — |",
        f"| DataFrame 10 x 3 (int, float, str) | {frame['memo'] * 1e6:.1f} µs | "
        f"{frame['pickle5'] * 1e6:.1f} µs | {frame['memo'] / frame['pickle5']:.2f}x |",
    ]
    for name, t in found["lists"] + found["atoms"]:
        out.append(
            f"| {name} | {t['memo'] * 1e3:.1f} ms | {t['pickle5'] * 1e3:.1f} ms | "
            f"{t['memo'] / t['pickle5']:.2f}x |"
        )
    memo_b, lru_b = found["entry"]["`@memo`"], found["entry"]["`functools.lru_cache`"]
    out += [
        "",
        f"Memory per tiny entry (`f(i, 21)`, {ENTRIES:,} entries, tracemalloc): `@memo` "
        f"**{memo_b:,.0f} B**, `functools.lru_cache` {lru_b:,.0f} B ({memo_b / lru_b:.1f}x).",
        "",
    ]
    return out
