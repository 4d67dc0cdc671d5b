"""Section 9: the hot paths of ``@memo`` as a call graph or a function's reads grow,
and what a miss adds to the body.

- A hit on ``f(1)`` whose code reaches 10 user helpers, and one reaching 1,000 (a
  chain ``h0 -> h1 -> ... -> h999``, each calling the next): a hit checks its guards
  instead of walking the code, so both should cost the same.
- A hit on ``g(2, 21)`` reading 2 int globals, and one reading 200.
- A miss: ``f(n, 1)`` with a new ``n`` every call, notes off, against the bare body and
  against a ``functools.lru_cache`` miss.

The functions live in a namespace whose ``__name__`` is ``__main__``: user code, as in
a notebook.
"""

from __future__ import annotations

import functools
import itertools
import sys
from typing import Any

from timing import race_per_call

from ipycache_ext import memo


def _namespace(source: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(source, "<bench>", "exec"), namespace)
    return namespace


def _chain(depth: int) -> Any:
    lines = ["LAST = 1\n", f"def h{depth - 1}(x):\n    return x + LAST\n"]
    lines += [f"def h{i}(x):\n    return h{i + 1}(x)\n" for i in range(depth - 1)]
    lines.append("def f(x):\n    return h0(x)\n")
    return memo(_namespace("".join(lines))["f"])


def _reads(count: int) -> Any:
    values = "".join(f"G{i} = {i}\n" for i in range(count))
    total = " + ".join(f"G{i}" for i in range(count))
    return memo(_namespace(f"{values}def g(a, b):\n    return a + b + {total}\n")["g"])


def hot_paths() -> dict[str, float]:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 5000))  # the chain itself needs the depth to run
    try:
        ten, thousand = _chain(10), _chain(1000)
        two, two_hundred = _reads(2), _reads(200)
        for fn in (ten, thousand):
            fn(1)
        for fn in (two, two_hundred):
            fn(2, 21)
        hits = race_per_call(
            {
                "10 helpers": (lambda: ten(1), 3000),
                "1000 helpers": (lambda: thousand(1), 3000),
                "2 globals": (lambda: two(2, 21), 3000),
                "200 globals": (lambda: two_hundred(2, 21), 3000),
            }
        )
    finally:
        sys.setrecursionlimit(limit)
    body = _namespace("SCALE = 3\nOFFSET = 7\ndef f(a, b):\n    return a * SCALE + b + OFFSET\n")
    missing = memo(body["f"])
    lru = functools.lru_cache(maxsize=None)(body["f"])
    fresh, fresh_lru = itertools.count(), itertools.count()
    missing(-1, 1)  # the first call walks the code; the next ones miss on their arguments
    misses = race_per_call(
        {
            "`@memo` miss": (lambda: missing(next(fresh), 1), 2000),
            "`lru_cache` miss": (lambda: lru(next(fresh_lru), 1), 2000),
            "body": (lambda: body["f"](5, 1), 2000),
        }
    )
    return {**hits, **misses}


def report_hot_paths(t: dict[str, float]) -> list[str]:
    def us(seconds: float) -> str:
        return f"{seconds * 1e6:.2f}"

    per_global = (t["200 globals"] - t["2 globals"]) / 198
    overhead = t["`@memo` miss"] - t["body"]
    return [
        "## 9. Hits as the code grows, and what a miss adds",
        "",
        "A hit checks guards (the bindings, code and defaults its key was made of) instead "
        "of walking the code again; a dict's version tag lets an untouched module "
        "namespace be checked at once.",
        "",
        "| call | µs per call | vs the small one |",
        "|---|---:|---:|",
        f"| hit, `f` reaching 10 helpers | {us(t['10 helpers'])} | 1.00x |",
        f"| hit, `f` reaching 1,000 helpers (a chain) | {us(t['1000 helpers'])} | "
        f"**{t['1000 helpers'] / t['10 helpers']:.2f}x** |",
        f"| hit, `g(2, 21)` reading 2 int globals | {us(t['2 globals'])} | 1.00x |",
        f"| hit, `g(2, 21)` reading 200 int globals | {us(t['200 globals'])} | "
        f"**{t['200 globals'] / t['2 globals']:.2f}x** ({per_global * 1e9:.1f} ns a global) |",
        "",
        "| miss of `f(n, 1)`, new `n` each call, notes off | µs per call |",
        "|---|---:|",
        f"| `@memo` miss | {us(t['`@memo` miss'])} |",
        f"| `functools.lru_cache` miss | {us(t['`lru_cache` miss'])} |",
        f"| the body alone | {us(t['body'])} |",
        f"| **`@memo`'s work beyond the body** | **{us(overhead)}** |",
        "",
    ]
