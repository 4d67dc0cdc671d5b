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
from ipycache_ext.store import tier as persist  # noqa: E402

SIZES_MB = (8, 80, 800)


def make(n: int) -> np.ndarray:
    return np.random.default_rng(0).random(n)


def hit_from(location: str, n: int) -> Any:
    """A persisted function whose entry for ``n`` is in the store at ``location``."""
    persist.close()
    SETTINGS.store = location
    memo.clear()
    persisted = memo(persist=True)(make)
    persisted(n)
    memo.clear()
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
        timings[label] = race({label: lambda p=persisted: p(n)}, before={label: memo.clear})[label]
        memo.clear()
        persist.close()
    timings["recompute"] = race({"recompute": lambda: make(n)})["recompute"]
    return timings


def main() -> None:
    SETTINGS.secret_key = "bench"
    SETTINGS.notes = False  # warnings still show
    with tempfile.TemporaryDirectory() as scratch:
        server = S3Server(Path(scratch))
        server.start()
        try:
            server.create_bucket()
            os.environ.update(server.env())
            print("| array | S3 hit (ms) | directory hit (ms) | S3 / directory | recompute (ms) |")
            print("|---|---|---|---|---|")
            for mb in SIZES_MB:
                t = one_size(mb, server.url("bench"), f"{scratch}/dir")
                print(
                    f"| {mb} MB | {t['s3'] * 1e3:.0f} | {t['directory'] * 1e3:.0f} | "
                    f"{t['s3'] / t['directory']:.2f}x | {t['recompute'] * 1e3:.0f} |",
                    flush=True,
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
