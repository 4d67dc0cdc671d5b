"""Section 5: a persistent hit on an 8 / 80 / 800 MB array, against recomputing it and
against ``joblib.Memory``'s hit.

The memory tier is emptied (``clear_all()``, untimed; ``memo.clear()`` would remove the
persisted entries too) before each timed persistent hit, so the value comes from the
directory store: read the entry, verify its keyed-BLAKE3 signature, unpickle.
``joblib.Memory``'s hit reads its own ``.npy``-style pickle from another directory.
Both stores' files are in the OS page cache (warm), as they are for a kernel re-reading
what it just wrote.  At 80 MB the hit is also taken apart: the read, the whole
``load_entry`` (signature, versions, unpickle) and the signature alone.
"""

from __future__ import annotations

import tempfile
from typing import Any

import joblib
import numpy as np
from timing import BENCH_KEY, quietly, race

from ipycache_ext import memo
from ipycache_ext.config import SETTINGS
from ipycache_ext.engine import clear_all
from ipycache_ext.store import signed
from ipycache_ext.store import tier as persist

SIZES_MB = (8, 80, 800)
BROKEN_DOWN_MB = 80


def _maker(mb: int) -> Any:
    n = mb * 1_000_000 // 8

    def random_array() -> np.ndarray:
        return np.random.default_rng(0).random(n)

    random_array.__qualname__ = random_array.__name__ = f"random_array_{mb}mb"
    return random_array


def one_size(mb: int) -> dict[str, Any]:
    make = _maker(mb)
    with tempfile.TemporaryDirectory() as ours, tempfile.TemporaryDirectory() as theirs:
        SETTINGS.store = ours
        SETTINGS.secret_key = BENCH_KEY
        try:
            persisted = memo(persist=True)(make)
            joblib_cached = joblib.Memory(theirs, verbose=0).cache(make)
            expected = make()
            persisted()
            joblib_cached()
            clear_all()  # memory only: the entry stays in the store
            loaded = persisted()
            info = persisted.cache_info()
            if (info.hits, info.misses) != (1, 0) or not np.array_equal(loaded, expected):
                raise RuntimeError(f"the persistent call did not hit the store: {info}")
            del loaded, expected
            contenders: dict[str, Any] = {
                "recompute": make,
                "disk": persisted,
                "joblib": joblib_cached,
            }
            extra: dict[str, Any] = {}
            if mb == BROKEN_DOWN_MB:
                tier = persist.tier()
                assert tier is not None
                (name,) = tier.backend.keys()
                entry = tier.backend.get(name)
                secret = signed.secret_key()
                digest = persisted.__memo__._key((), {}).digest
                namespace = getattr(tier.backend, "namespace", "dir")
                bound_to = signed.binding(namespace, persisted.owner, digest)
                contenders |= {
                    "memory": persisted,
                    "read": lambda: tier.backend.get(name),
                    "load_entry": lambda: signed.load_entry(entry, secret, bound_to),
                    "mac": lambda: signed.mac(secret, entry),
                }
                extra["entry_bytes"] = len(entry)
            timings = race(contenders, before={"disk": clear_all}, budget=8.0)
            return {**timings, **extra, "nbytes": mb * 1_000_000}
        finally:
            quietly(persisted.cache_clear)
            persist.close()
            SETTINGS.store = None
            SETTINGS.secret_key = None


def disk_hit() -> dict[int, dict[str, Any]]:
    return {mb: one_size(mb) for mb in SIZES_MB}


def report_disk_hit(found: dict[int, dict[str, Any]]) -> list[str]:
    t = found[BROKEN_DOWN_MB]

    def row(label: str, seconds: float) -> str:
        return (
            f"| {label} | {seconds * 1e3:.1f} | {seconds / t['disk']:.2f}x | "
            f"{seconds / t['recompute']:.2f}x | {seconds / t['joblib']:.2f}x |"
        )

    out = [
        "## 5. Persistent hit: `@memo(persist=True)` returning a float64 array",
        "",
        "The function body is `np.random.default_rng(0).random(n)`.  Directory store in a "
        "temp dir (`SETTINGS.store`, a team `secret_key` of 41 bytes); the memory tier "
        "emptied (untimed) before each timed persistent hit so the value comes from disk, "
        "not memory.  `joblib.Memory(tmpdir2).cache` on the same function, its disk hit.  "
        "Files warm in the OS page cache.",
        "",
        "| array | `@memo` hit from disk (ms) | `joblib.Memory` hit (ms) | vs joblib | "
        "recompute (ms) |",
        "|---|---:|---:|---:|---:|",
    ]
    for mb, s in found.items():
        out.append(
            f"| {mb} MB | {s['disk'] * 1e3:.1f} | {s['joblib'] * 1e3:.1f} | "
            f"**{s['disk'] / s['joblib']:.2f}x** | {s['recompute'] * 1e3:.1f} |"
        )
    out += [
        "",
        f"At {BROKEN_DOWN_MB} MB, parts timed in the same turns (entry: "
        f"{t['entry_bytes'] / 1e6:.1f} MB signed pickle):",
        "",
        "| | ms | vs persistent hit | vs recompute | vs joblib hit |",
        "|---|---:|---:|---:|---:|",
        row("**`@memo(persist=True)` hit from disk**", t["disk"]),
        row("recompute (the function body)", t["recompute"]),
        row("`joblib.Memory` hit (from disk)", t["joblib"]),
        row("`@memo` hit from memory (with the mutation check), for reference", t["memory"]),
        row("read the entry (`backend.get`)", t["read"]),
        row("`signed.load_entry` (signature + version check + unpickle)", t["load_entry"]),
        row("of which the keyed-BLAKE3 signature alone", t["mac"]),
        "",
    ]
    return out
