"""Section 9: Arrow-held values against one raw xxh3 pass over their own buffers.

* the README's frame (1e6 x 10: 4 int64, 3 float64, 3 text columns) as pandas 3 builds
  it with pyarrow installed: its text columns are arrow-backed strings;
* a pyarrow Table of 80 MB (10 float64 columns of 1e6 rows);
* a polars DataFrame of 80 MB (the same columns);
* a polars DataFrame with text: 7 numeric and 3 string columns, as the README's frame.

The peer is xxh3_128 over the value's buffers and nothing else: each numpy column's
data; each Arrow chunk's validity, offsets and data buffers, as they sit in memory.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
from targets import Target
from timing import race

from ipycache_ext import hashing

ROWS = 1_000_000
MB = 1_000_000


def _arrow_buffers(array: pa.ChunkedArray | pa.Array) -> list[Any]:
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    return [buf for chunk in chunks for buf in chunk.buffers() if buf is not None]


def _frame_buffers(frame: pd.DataFrame) -> list[Any]:
    out: list[Any] = []
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, np.dtype):
            out.append(column.to_numpy())
        else:
            out += _arrow_buffers(column.array.__arrow_array__())
    return out


def _table_buffers(table: pa.Table) -> list[Any]:
    return [buf for column in table.columns for buf in _arrow_buffers(column)]


def _polars_buffers(frame: pl.DataFrame) -> list[Any]:
    # The buffers polars holds, exported without copying (strings as views).
    table = frame.to_arrow(compat_level=pl.CompatLevel.newest())
    return _table_buffers(table)


def _raw(buffers: list[Any]) -> bytes:
    import xxhash

    h = xxhash.xxh3_128()
    for buf in buffers:
        h.update(buf)
    return h.digest()


def _values() -> list[tuple[str, Any, list[Any]]]:
    rng = np.random.default_rng(0)
    columns: dict[str, Any] = {}
    for i in range(4):
        columns[f"i{i}"] = rng.integers(-(10**9), 10**9, ROWS)
    for i in range(3):
        columns[f"f{i}"] = rng.random(ROWS)
    words = np.array([f"w{k}_{k * 7919 % 1000}" for k in range(5000)], dtype=object)
    for i in range(3):
        columns[f"s{i}"] = words[rng.integers(0, len(words), ROWS)]
    mixed = pd.DataFrame(columns)
    floats = {f"c{i}": rng.random(ROWS) for i in range(10)}
    table = pa.table(floats)
    polars = pl.DataFrame(floats)
    polars_mixed = pl.from_pandas(mixed)
    kind = str(mixed["s0"].dtype)
    return [
        (
            f"README frame 1e6 x 10, 3 text columns (pandas `{kind}`, arrow)",
            mixed,
            _frame_buffers(mixed),
        ),
        ("pyarrow Table, 80 MB (10 float64 columns)", table, _table_buffers(table)),
        ("polars DataFrame, 80 MB (10 float64 columns)", polars, _polars_buffers(polars)),
        ("polars DataFrame 1e6 x 10, 3 text columns", polars_mixed, _polars_buffers(polars_mixed)),
    ]


def arrow_values() -> list[dict[str, Any]]:
    rows = []
    for name, value, buffers in _values():
        assert hashing.digest(value) == hashing.digest(value)
        timings = race(
            {"memo": lambda v=value: hashing.digest(v), "raw": lambda b=buffers: _raw(b)},
            budget=4.0,
        )
        size = sum(memoryview(b).nbytes for b in buffers)
        rows.append({"name": name, "size": size, **timings})
        print(f"  measured {name}", file=sys.stderr)
    return rows


def arrow_targets(rows: list[dict[str, Any]]) -> list[Target]:
    return [
        Target(14, f"{row['name']} vs raw xxh3 of its buffers", row["memo"] / row["raw"], 1.5, "x")
        for row in rows
    ]


def report_arrow_values(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        "## 10. Arrow-held values (pandas arrow columns, pyarrow, polars) vs raw xxh3",
        "",
        "| value | buffers (MB) | `digest` ms | raw xxh3 ms | vs raw |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        out.append(
            f"| {row['name']} | {row['size'] / MB:,.1f} | {row['memo'] * 1e3:.2f} | "
            f"{row['raw'] * 1e3:.2f} | {row['memo'] / row['raw']:.2f}x |"
        )
    out += [
        "",
        "Raw xxh3: xxh3_128 over the value's buffers as they sit in memory (numpy column "
        "data; each Arrow chunk's validity, offsets and data; polars text as the string "
        "views polars holds).  `digest` hashes polars views in place when every string "
        "fits in its view (12 bytes, as here), else casts them to large strings (a copy).",
        "",
    ]
    return out
