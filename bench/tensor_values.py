"""Section 12: torch tensors and jax arrays against raw xxh3 and the numpy path.

* a torch float32 tensor of 1e6 and of 2e7 elements;
* a jax float32 array of 2e7 elements;
* a slice of 1e6 elements out of a 2e7-element torch tensor (it must cost its own
  bytes, not its base's);
* a module of 10 M parameters (ten 1000 x 1000 linear layers).

Each is timed against xxh3_128 over its bytes as they sit in memory (the ceiling) and
against ``digest`` of the same data as numpy arrays (the path a tensor should match).
Run alone with ``.venv/bin/python bench/tensor_values.py``.
"""

from __future__ import annotations

import sys
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import torch
import xxhash
from targets import Target
from timing import race

from ipycache_ext import hashing

MB = 1_000_000


def _raw(buffers: list[Any]) -> bytes:
    h = xxhash.xxh3_128()
    for buf in buffers:
        h.update(buf)
    return h.digest()


def _values() -> list[tuple[str, Any, Any, list[Any]]]:
    """(name, value, the same data as numpy, its buffers)."""
    torch.manual_seed(0)
    small = torch.rand(1_000_000)
    big = torch.rand(20_000_000)
    part = big[7_000_000:8_000_000]
    with jax.default_device(jax.devices("cpu")[0]):
        array = jnp.asarray(np.random.default_rng(0).random(20_000_000, dtype=np.float32))
    model = torch.nn.Sequential(*(torch.nn.Linear(1000, 1000) for _ in range(10)))
    weights = [p.detach().numpy() for p in model.parameters()]
    return [
        ("torch float32, 1e6 elements", small, small.numpy(), [small.numpy()]),
        ("torch float32, 2e7 elements", big, big.numpy(), [big.numpy()]),
        ("jax float32, 2e7 elements", array, np.asarray(array), [np.asarray(array)]),
        ("slice of 1e6 out of a 2e7 torch tensor", part, part.numpy(), [part.numpy()]),
        (
            f"module of {sum(w.size for w in weights) / 1e6:.1f} M parameters",
            model,
            weights,
            weights,
        ),
    ]


def tensor_values() -> list[dict[str, Any]]:
    rows = []
    for name, value, as_numpy, buffers in _values():
        assert hashing.digest(value) == hashing.digest(value)
        timings = race(
            {
                "memo": lambda v=value: hashing.digest(v),
                "numpy": lambda v=as_numpy: hashing.digest(v),
                "raw": lambda b=buffers: _raw(b),
            },
            budget=4.0,
        )
        size = sum(memoryview(b).nbytes for b in buffers)
        rows.append({"name": name, "size": size, **timings})
        print(f"  measured {name}", file=sys.stderr)
    return rows


def tensor_targets(rows: list[dict[str, Any]]) -> list[Target]:
    """At most 1.2x the numpy path at 2e7 elements (and for the 10 M module), 2x at 1e6
    (a slice included: it must cost what its own 1e6 elements cost)."""
    found = []
    for row in rows:
        bound = 2.0 if "1e6" in row["name"] else 1.2
        found.append(
            Target(23, f"{row['name']} vs the numpy path", row["memo"] / row["numpy"], bound, "x")
        )
    return found


def report_tensor_values(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        "## 12. torch tensors and jax arrays vs the numpy path and raw xxh3",
        "",
        "| value | bytes (MB) | `digest` ms | same data as numpy ms | raw xxh3 ms | "
        "vs numpy | vs raw |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        out.append(
            f"| {row['name']} | {row['size'] / MB:,.1f} | {row['memo'] * 1e3:.2f} | "
            f"{row['numpy'] * 1e3:.2f} | {row['raw'] * 1e3:.2f} | "
            f"{row['memo'] / row['numpy']:.2f}x | {row['memo'] / row['raw']:.2f}x |"
        )
    out += [
        "",
        "Raw xxh3: xxh3_128 over the value's bytes as they sit in memory (a module: each "
        "parameter's).  The numpy path: `digest` of the same data as numpy arrays (a "
        "module: the list of its parameters).  A slice is hashed from its own bytes: its "
        "base tensor's other 19 M elements are never read.",
        "",
    ]
    return out


def main() -> None:
    from targets import table

    rows = tensor_values()
    print("\n".join(table(tensor_targets(rows)) + report_tensor_values(rows)))


if __name__ == "__main__":
    main()
