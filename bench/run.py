"""Benchmark of ipycache_ext against its peers, all measured in the same run.

Run with ``make bench`` (or ``.venv/bin/python bench/run.py``).  Prints one markdown
report and writes it to ``bench/RESULTS.md``.

Twelve questions:

1. What does a cache hit cost on ``f(2, 21)`` (a function reading two globals),
   compared with ``functools.lru_cache`` and ``joblib.Memory``?
2. How fast is hashing, compared with ``joblib.hash``, pickle protocol 5 streamed into
   xxh3_128, ``pandas.util.hash_pandas_object`` and raw xxh3_128 over the value's own
   buffers (the ceiling)?
3. What does the mutation check cost on a hit that returns an 80 MB array, and does
   it catch a one-element change?
4. What does a ``%%memo`` hit add to running the same cell bare, in a real
   ``InteractiveShell``, with small reads and with an 80 MB array read
   (``cell_hit.py``)?
5. What does a persistent hit on an 8 / 80 / 800 MB array cost, against recomputing it
   and against ``joblib.Memory``'s disk hit (``disk_hit.py``)?
6. What does tracking the files a miss reads cost: ``open()`` with no miss running,
   and a hit whose entry depends on 10 files (``file_deps.py``)?
7. What does a persistent hit of an 8 / 80 / 800 MB array cost from a local S3 server,
   against the directory store (``s3_hit.py``)?
8. How fast are the value shapes the issues name (shared parts, a small frame, long
   lists of instances), and how much memory does a tiny entry take (``shapes.py``)?
9. Does a hit cost more as the code it reaches or the globals it reads grow (10 vs
   1,000 helpers, 2 vs 200 globals), and what does a miss add to its body
   (``hot_paths.py``)?
10. How fast are Arrow-held values (pandas arrow-backed columns, a pyarrow Table, polars
   frames) against one raw xxh3 pass over their buffers (``arrow_values.py``)?
11. What does each miss cost in a cell that loops over a memoized function, notes and
   spinner on as a notebook has them (``cell_loop.py``)?
12. How fast are torch tensors, jax arrays, a slice and a 10 M-parameter module,
   against raw xxh3 and the same data as numpy (``tensor_values.py``)?

The report opens with the targets the issues set, each with PASS or FAIL
(``targets.py``).

Every number is a median of repeated timed runs after a warm-up, with the garbage
collector off while timing, the contenders of one row timed in turns (see
``timing.py``).  ``--quick`` runs fewer rounds (for iterating, not for reporting; it
does not write RESULTS.md).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import os
import pickle
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import xxhash
from arrow_values import arrow_targets, arrow_values, report_arrow_values
from cell_hit import cell_hit_overhead, report_cell_hit
from cell_loop import cell_loop, report_cell_loop
from disk_hit import disk_hit, report_disk_hit
from file_deps import file_deps, report_file_deps, targets_of_file_deps
from hot_paths import hot_paths, report_hot_paths
from s3_hit import report_s3_hit, s3_hit
from shapes import report_shapes, shape_targets, shapes
from targets import Target, table
from tensor_values import report_tensor_values, tensor_targets, tensor_values
from timing import QUICK, race, race_per_call

import ipycache_ext
from ipycache_ext import config, hashing, memo, notify

HERE = Path(__file__).resolve().parent
MB = 1_000_000

# ----- peers ------------------------------------------------------------------------


def pickle5_xxh3(value: Any) -> bytes:
    """Pickle protocol 5 streamed into xxh3_128, buffers out of band (no copies)."""
    h = xxhash.xxh3_128()

    class Sink:
        write = h.update

    pickler = pickle.Pickler(Sink(), protocol=5, buffer_callback=lambda buf: h.update(buf.raw()))
    pickler.dump(value)
    return h.digest()


def raw_xxh3(buffers: list[Any]) -> bytes:
    """xxh3_128 over the value's own buffers, nothing else: the ceiling."""
    h = xxhash.xxh3_128()
    for buf in buffers:
        h.update(buf)
    return h.digest()


def pandas_hash(frame: pd.DataFrame) -> bytes:
    rows = pd.util.hash_pandas_object(frame, index=True).to_numpy()
    return xxhash.xxh3_128_digest(rows)


# ----- case 1: hit overhead ---------------------------------------------------------

SCALE = 3
OFFSET = 7


def f(a: int, b: int) -> int:
    return a * SCALE + b + OFFSET


def hit_overhead() -> dict[str, float]:
    memo_f = memo(f)
    lru_f = functools.lru_cache(maxsize=None)(f)
    with tempfile.TemporaryDirectory() as tmp:
        joblib_f = joblib.Memory(tmp, verbose=0).cache(f)
        for fn in (memo_f, lru_f, joblib_f):
            assert fn(2, 21) == f(2, 21)
        return race_per_call(
            {
                "`@memo`": (lambda: memo_f(2, 21), 5000),
                "`functools.lru_cache`": (lambda: lru_f(2, 21), 5000),
                "`joblib.Memory` (temp dir)": (lambda: joblib_f(2, 21), 200),
            }
        )


# ----- case 2: hashing throughput ---------------------------------------------------


@dataclasses.dataclass
class Point:
    """A user class (defined in ``__main__``, as in a notebook): its code is keyed."""

    x: int
    y: float
    name: str


PointNT = collections.namedtuple("PointNT", "x y name")


def make_values() -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    rows = 1_000_000
    array = rng.random(10_000_000)
    columns: dict[str, Any] = {}
    for i in range(4):
        columns[f"i{i}"] = rng.integers(-(10**9), 10**9, rows)
    for i in range(3):
        columns[f"f{i}"] = rng.random(rows)
    words = np.array([f"w{k}_{k * 7919 % 1000}" for k in range(5000)], dtype=object)
    for i in range(3):
        columns[f"s{i}"] = words[rng.integers(0, len(words), rows)]
    mixed = pd.DataFrame(columns)
    numeric = mixed[[c for c in mixed.columns if not c.startswith("s")]]
    ints = rng.integers(0, 2**40, rows).tolist()
    mapping = {f"key{i}": i for i in range(100_000)}
    letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ0123456789.,", np.uint8)
    text = letters[rng.integers(0, len(letters), 100 * MB)].tobytes().decode("ascii")
    points = [Point(i, i * 0.5, f"p{i}") for i in range(10_000)]
    tuples = [PointNT(i, i * 0.5, f"p{i}") for i in range(10_000)]

    def pickled_size(v: Any) -> int:
        return len(pickle.dumps(v, protocol=5))

    def frame_size(frame: pd.DataFrame) -> int:
        return int(frame.memory_usage(deep=True).sum())

    def column_buffers(frame: pd.DataFrame) -> list[Any]:
        return [frame[c].to_numpy() for c in frame.columns]

    return [
        dict(name="numpy float64, 80 MB", value=array, size=array.nbytes, buffers=[array]),
        dict(
            name="DataFrame 1e6 x 10 (4 int64, 3 float64, 3 str)",
            value=mixed,
            size=frame_size(mixed),
            pandas=True,
        ),
        dict(
            name="its 7 numeric columns",
            value=numeric,
            size=frame_size(numeric),
            buffers=column_buffers(numeric),
            pandas=True,
        ),
        dict(name="list of 1e6 ints (< 2^40)", value=ints, size=pickled_size(ints)),
        dict(name="dict of 1e5 str -> int", value=mapping, size=pickled_size(mapping)),
        dict(name="list of 1e4 dataclasses", value=points, size=pickled_size(points)),
        dict(name="list of 1e4 namedtuples", value=tuples, size=pickled_size(tuples)),
        dict(
            name="str of 100 M chars (ASCII)",
            value=text,
            size=pickled_size(text),
            buffers=[text.encode("utf-8")],
        ),
    ]


def throughput(values: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for case in values:
        value = case["value"]
        contenders: dict[str, Callable[[], Any]] = {
            "memo": lambda v=value: hashing.digest(v),
            "joblib": lambda v=value: joblib.hash(v),
            "pickle5": lambda v=value: pickle5_xxh3(v),
        }
        if case.get("pandas"):
            contenders["pandas"] = lambda v=value: pandas_hash(v)
        if case.get("buffers"):
            contenders["raw"] = lambda b=case["buffers"]: raw_xxh3(b)
        timings = race(contenders)
        rows.append({**case, "timings": timings})
        print(f"  measured {case['name']}", file=sys.stderr)
    return rows


# ----- case 3: mutation check on a big hit ------------------------------------------

BIG_ROWS = 10_000_000


def big_array(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.float64)


def mutation_check() -> dict[str, Any]:
    memo_big = memo(big_array)
    value = memo_big(BIG_ROWS)
    timings = race(
        {
            "hit": lambda: memo_big(BIG_ROWS),
            "raw": lambda: xxhash.xxh3_128_digest(value),
        },
        budget=3.0,
        max_rounds=41,
    )
    notes: list[Any] = []
    notify.set_sink(notes.append)
    try:
        value[12345] += 1.0
        memo_big(BIG_ROWS)
    finally:
        notify.set_sink(None)
        value[12345] -= 1.0
    warned = [n for n in notes if "mutated" in n.text]
    return {
        "nbytes": value.nbytes,
        **timings,
        "warned": bool(warned),
        "note": warned[0].text if warned else "(no note)",
    }


# ----- report -----------------------------------------------------------------------


def fmt_rate(size: int, seconds: float | None) -> str:
    return "—" if seconds is None else f"{size / MB / seconds:,.0f}"


def targets_of(
    hits: dict[str, float],
    rows: list[dict[str, Any]],
    disk: dict[int, dict[str, Any]],
    files: dict[str, float],
    s3: dict[int, dict[str, float]],
    shaped: dict[str, Any],
    hot: dict[str, float],
    cell: dict[str, Any],
) -> list[Target]:
    """The figures the issues set targets for, from this run's measurements."""
    memo_hit, lru_hit = hits["`@memo`"], hits["`functools.lru_cache`"]
    found = [
        Target(11, "hit `f(2, 21)`, µs", memo_hit * 1e6, 1.5, "µs"),
        Target(11, "hit `f(2, 21)` vs `lru_cache`", memo_hit / lru_hit, 15, "x"),
    ]
    for mb, t in disk.items():
        found.append(
            Target(
                11,
                f"persistent {mb} MB hit vs `joblib.Memory` hit",
                t["disk"] / t["joblib"],
                1.0,
                "x",
            )
        )
    # Lists of instances (issue 14) have their targets in section 8 (shapes.py).
    found += [
        Target(
            11,
            "hit reaching 1,000 helpers vs 10",
            hot["1000 helpers"] / hot["10 helpers"],
            1.2,
            "x",
        ),
        Target(
            11,
            "hit, extra per int global read (200 vs 2)",
            (hot["200 globals"] - hot["2 globals"]) / 198 * 1e9,
            50,
            "ns",
        ),
        Target(
            11, "a miss's work beyond its body", (hot["`@memo` miss"] - hot["body"]) * 1e6, 20, "µs"
        ),
        Target(
            11,
            "`%%memo` hit, cell reading 500 variables, vs running it bare",
            cell["hit, 500"] / cell["bare, 500"],
            1.0,
            "x",
        ),
    ]
    for mb, t in s3.items():
        if mb < 800:
            continue  # the issue sets the target at 800 MB; smaller sizes are shown below
        if "floor" in t:  # the floor is the raw GET of the same object, in the same run
            found.append(
                Target(13, f"S3 hit of {mb} MB vs its raw GET", t["s3"] / t["floor"], 1.3, "x")
            )
    return found + targets_of_file_deps(files) + shape_targets(shaped)


def report(
    hits: dict[str, float],
    rows: list[dict[str, Any]],
    big: dict[str, Any],
    cell: dict[str, Any],
    disk: dict[int, dict[str, Any]],
    files: dict[str, float],
    s3: dict[int, dict[str, float]],
    shaped: dict[str, Any],
    hot: dict[str, float],
    arrow: list[dict[str, Any]],
    loop: dict[str, float],
    tensors: list[dict[str, Any]],
) -> str:
    out = [
        "# ipycache_ext benchmark",
        "",
        f"Python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
        f"joblib {joblib.__version__}, xxhash {xxhash.VERSION}, ipycache_ext "
        f"{ipycache_ext.__version__}; {platform.machine()}, {len(os.sched_getaffinity(0))} "
        "cores.  Medians of repeated runs after a warm-up, gc off while timing, the "
        "contenders of a row timed in turns.  Instructions per hit and per miss (for "
        "comparing an architecture change): `bench/callgrind.py`, under valgrind's "
        "callgrind, not part of `make bench`.",
        "",
        *table(
            targets_of(hits, rows, disk, files, s3, shaped, hot, cell)
            + arrow_targets(arrow)
            + tensor_targets(tensors)
        ),
        "## 1. Cache hit on `f(2, 21)` (f reads two globals)",
        "",
        "| | µs per hit | vs `@memo` |",
        "|---|---:|---:|",
    ]
    memo_us = hits["`@memo`"] * 1e6
    for name, seconds in hits.items():
        us = seconds * 1e6
        out.append(f"| {name} | {us:.2f} | {us / memo_us:.2f}x |")
    out += [
        "",
        "## 2. Hashing throughput, MB/s (higher is better)",
        "",
        "MB = 10^6 bytes of the value's size, the same size for every contender in a row: "
        "`arr.nbytes` for the array, `DataFrame.memory_usage(deep=True).sum()` for frames, "
        "the length of its protocol-5 pickle (`len(pickle.dumps(v, 5))`) for the list, "
        "the dict and the str.",
        "",
        "| value | size (MB) | `digest` | `joblib.hash` | pickle5→xxh3 | "
        "`hash_pandas_object` | raw xxh3 (ceiling) | vs joblib | vs pickle5 | % of raw |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        t = row["timings"]
        size = row["size"]
        raw_pct = "—" if "raw" not in t else f"{100 * t['raw'] / t['memo']:.0f}%"
        out.append(
            f"| {row['name']} | {size / MB:,.1f} | **{fmt_rate(size, t['memo'])}** | "
            f"{fmt_rate(size, t['joblib'])} | {fmt_rate(size, t['pickle5'])} | "
            f"{fmt_rate(size, t.get('pandas'))} | {fmt_rate(size, t.get('raw'))} | "
            f"{t['joblib'] / t['memo']:.1f}x faster | {t['pickle5'] / t['memo']:.2f}x | "
            f"{raw_pct} |"
        )
    out += [
        "",
        "`digest` is `ipycache_ext.hashing.digest(value)`.  pickle5→xxh3: "
        "`pickle.Pickler(protocol=5, buffer_callback=...)` writing straight into one "
        "xxh3_128 state, out-of-band buffers fed without copies.  Raw xxh3: xxh3_128 over "
        "the value's own buffers only (the array; each numeric column's numpy buffer; the "
        "str's UTF-8 bytes, encoding not timed).  `hash_pandas_object` includes the index "
        "and one xxh3 of its per-row result.  vs pickle5 above 1 means `digest` is faster.",
        "",
        f"## 3. Hit returning an {big['nbytes'] / MB:.0f} MB array (mutation check included)",
        "",
        "| | ms | vs raw xxh3 |",
        "|---|---:|---:|",
        f"| `@memo` hit (key + lookup + re-hash of the result) | {big['hit'] * 1e3:.2f} | "
        f"{big['hit'] / big['raw']:.2f}x |",
        f"| one raw `xxh3_128_digest` of the array | {big['raw'] * 1e3:.2f} | 1.00x |",
        "",
        f"One-element change caught on the next hit: **{'yes' if big['warned'] else 'NO'}**. "
        f"Note shown: _{' '.join(big['note'].split())}_",
        "",
    ]
    out += report_cell_hit(cell)
    out += report_disk_hit(disk)
    out += report_file_deps(files)
    out += report_s3_hit(s3)
    out += report_shapes(shaped)
    out += report_hot_paths(hot)
    out += report_arrow_values(arrow)
    out += report_cell_loop(loop)
    out += report_tensor_values(tensors)
    return "\n".join(out)


def main() -> None:
    warnings.simplefilter("ignore")
    config.SETTINGS.notes = False
    started = time.perf_counter()
    print("case 1: hit overhead", file=sys.stderr)
    hits = hit_overhead()
    # Timed next, like case 1, before the big values of the other cases fill the heap.
    print("case 9: hits as the code grows, a miss's work", file=sys.stderr)
    hot = hot_paths()
    print("case 2: building values", file=sys.stderr)
    rows = throughput(make_values())
    print("case 3: mutation check", file=sys.stderr)
    big = mutation_check()
    print("case 4: %%memo hit in a shell", file=sys.stderr)
    cell = cell_hit_overhead()
    print("case 11: a cell looping over misses", file=sys.stderr)
    loop = cell_loop()
    print("case 5: persistent hit", file=sys.stderr)
    disk = disk_hit()
    print("case 6: files in the key", file=sys.stderr)
    files = file_deps()
    print("case 7: persistent hit from S3", file=sys.stderr)
    s3 = s3_hit()
    print("case 8: value shapes and entry size", file=sys.stderr)
    shaped = shapes(pickle5_xxh3)
    print("case 10: Arrow-held values", file=sys.stderr)
    arrow = arrow_values()
    print("case 12: tensors", file=sys.stderr)
    tensors = tensor_values()
    text = report(hits, rows, big, cell, disk, files, s3, shaped, hot, arrow, loop, tensors)
    text += f"\n_Whole run: {time.perf_counter() - started:.0f} s._\n"
    print(text)
    if not QUICK:
        (HERE / "RESULTS.md").write_text(text)


if __name__ == "__main__":
    main()
