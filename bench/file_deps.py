"""What tracking the files a miss reads costs: ``python bench/file_deps.py``.

1. ``open()`` + ``read()`` of a small file when no miss is running, in a process with
   the audit hook installed (by a first ``@memo`` call) against one without it (a
   hook cannot be removed, so each is timed in a process of its own, several times in
   turns).
2. A ``@memo`` hit whose entry depends on 10 files (each stat-ed on the hit) against
   the same hit with none.

It prints the figures; the tests assert no timing.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import QUICK, race_per_call

HERE = Path(__file__).resolve().parent


def _open_child(with_hook: bool) -> None:
    """Time open+read of a small file in this process; print seconds per call."""
    from ipycache_ext import memo

    if with_hook:  # the audit hook as a kernel that uses @memo has it
        memo(lambda: 1)()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "small.txt")
        Path(path).write_text("x" * 100)

        def read() -> str:
            with open(path) as fh:
                return fh.read()

        print(race_per_call({"open": (read, 2000)})["open"])


def open_overhead(pairs: int = 15) -> tuple[float, float, float]:
    """Median seconds per open+read without and with the hook, and the median of the
    ratio within each pair of processes run back to back (a process's own speed varies
    by a few per cent, more than the hook costs, so pairs are compared, not totals)."""
    if QUICK:
        pairs = 5
    found: dict[str, list[float]] = {"none": [], "hook": []}
    ratios = []
    for _ in range(pairs):
        for mode in found:
            out = subprocess.run(
                [sys.executable, __file__, "--open-child", mode],
                capture_output=True,
                text=True,
                check=True,
                cwd=HERE,
            ).stdout
            found[mode].append(float(out.split()[-1]))
        ratios.append(found["hook"][-1] / found["none"][-1])
    return (
        statistics.median(found["none"]),
        statistics.median(found["hook"]),
        statistics.median(ratios),
    )


def hit_overhead() -> tuple[float, float, float]:
    """Median seconds per hit of a function with no file and one with 10 files, and
    of 10 bare ``os.stat`` calls on those files (the floor: a hit must stat them)."""
    from ipycache_ext import memo, notify

    notify.set_sink(lambda note: None)
    with tempfile.TemporaryDirectory() as folder:
        paths = [os.path.join(folder, f"f{i}.txt") for i in range(10)]
        for path in paths:
            Path(path).write_text("data")

        # One function, so both keys hash the same code and globals: only the
        # entry's files differ (none for read=False, 10 for read=True).
        @memo
        def load(read: bool) -> bool:
            if read:
                for path in paths:
                    with open(path) as fh:
                        fh.read()
            return read

        load(False), load(True)

        def stat_all() -> None:
            for path in paths:
                os.stat(path)

        times = race_per_call(
            {
                "none": (lambda: load(False), 2000),
                "ten": (lambda: load(True), 2000),
                "stat": (stat_all, 2000),
            }
        )
        return times["none"], times["ten"], times["stat"]


def file_deps() -> dict[str, float]:
    """Seconds per open+read without and with the hook, per hit with 0 and 10 files."""
    bare, hooked, ratio = open_overhead()
    none, ten, stat = hit_overhead()
    return {"bare": bare, "hooked": hooked, "ratio": ratio, "none": none, "ten": ten, "stat": stat}


def report_file_deps(t: dict[str, float]) -> list[str]:
    return [
        "## 6. Files in the key",
        "",
        "`open()` + `read()` of a 100 B file while no miss runs, in a process with the "
        "audit hook installed against one without it (processes in turns); a `@memo` hit "
        "whose entry depends on 10 files (each `stat`-ed on the hit) against the same hit "
        "with none.",
        "",
        "| | µs | difference |",
        "|---|---:|---:|",
        f"| `open()`+`read()`, no hook | {t['bare'] * 1e6:.2f} | |",
        f"| `open()`+`read()`, hook installed | {t['hooked'] * 1e6:.2f} | "
        f"{(t['ratio'] - 1) * 100:+.1f} % (median of paired runs) |",
        f"| hit, entry with no file | {t['none'] * 1e6:.2f} | |",
        f"| hit, entry with 10 files | {t['ten'] * 1e6:.2f} | "
        f"+{(t['ten'] - t['none']) * 1e6:.2f} µs |",
        f"| 10 bare `os.stat` calls on those files (the floor) | {t['stat'] * 1e6:.2f} | "
        f"the hit with 10 files is {t['ten'] / t['stat']:.2f}x this |",
        "",
    ]


def main() -> None:
    print("\n".join(report_file_deps(file_deps())))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--open-child"]:
        _open_child(sys.argv[2] == "hook")
    else:
        main()
