"""What tracking the files a miss reads costs: ``python bench/file_deps.py``.

1. ``open()`` + ``read()`` of a small file when no miss is running, in a process with
   the audit hook installed (by a first ``@memo`` call) against one without it, and
   against one with an empty audit hook written in Python (``def hook(event, args):
   pass``): what any Python hook costs every audited event, CPython's share of it made
   before the hook's first line runs.  Ours is compiled where the package was built
   with a C compiler, and is that empty Python hook's cost plus its own work where it
   was not.  A hook cannot be removed, so each is timed in a process of its own,
   several times in turns.
2. A ``@memo`` hit whose entry depends on 10 files (each stat-ed on the hit) against
   the same hit with none.
3. Path-like values: a hit of ``f`` called with 10 strings naming files
   (each a dependency, stat-ed on the hit) and with 10 plain words (no dependency)
   against the same function called with 10 ints; and ``ThreadPoolExecutor.submit``
   with the wrapper that lets a miss follow its work, no miss running, against none
   (timed in the same processes as ``open()``).

It prints the figures; the tests assert no timing.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from targets import Target, table
from timing import QUICK, race_per_call

from ipycache_ext.deps.usercode import hook_kind

HERE = Path(__file__).resolve().parent


def _empty_hook(event: str, args: tuple[Any, ...]) -> None:
    pass


def _open_child(mode: str) -> None:
    """Time open+read of a small file, and a thread pool's submit+result, in this
    process (``mode``: "none", "empty" for an empty audit hook, "hook" for ours);
    print seconds per call of each."""
    from concurrent.futures import ThreadPoolExecutor

    from ipycache_ext import memo

    if mode == "hook":  # the audit hook as a kernel that uses @memo has it
        memo(lambda: 1)()
    elif mode == "empty":
        sys.addaudithook(_empty_hook)
    with tempfile.TemporaryDirectory() as folder, ThreadPoolExecutor(1) as pool:
        path = os.path.join(folder, "small.txt")
        Path(path).write_text("x" * 100)

        def read() -> str:
            with open(path) as fh:
                return fh.read()

        def submit() -> int:
            return pool.submit(int).result()

        times = race_per_call({"open": (read, 2000), "submit": (submit, 500)})
        print(times["submit"], times["open"])


def open_overhead(pairs: int = 15) -> dict[str, float]:
    """Median seconds per open+read without a hook, with an empty one and with ours;
    the median of the ratios within each set of processes run back to back (a
    process's own speed varies by a few per cent, as much as a hook costs, so sets are
    compared, not totals): ours and the empty hook's against none, ours against the
    empty hook; and that median ratio for a thread pool's submit+result."""
    if QUICK:
        pairs = 5
    found: dict[str, list[float]] = {"none": [], "empty": [], "hook": []}
    submits: dict[str, list[float]] = {"none": [], "empty": [], "hook": []}
    ratios, floors, overs, submit_ratios = [], [], [], []
    for _ in range(pairs):
        for mode in found:
            out = subprocess.run(
                [sys.executable, __file__, "--open-child", mode],
                capture_output=True,
                text=True,
                check=True,
                cwd=HERE,
            ).stdout
            submit, opened = out.split()[-2:]
            found[mode].append(float(opened))
            submits[mode].append(float(submit))
        ratios.append(found["hook"][-1] / found["none"][-1])
        floors.append(found["empty"][-1] / found["none"][-1])
        overs.append(found["hook"][-1] / found["empty"][-1])
        submit_ratios.append(submits["hook"][-1] / submits["none"][-1])
    return {
        "bare": statistics.median(found["none"]),
        "empty": statistics.median(found["empty"]),
        "hooked": statistics.median(found["hook"]),
        "ratio": statistics.median(ratios),
        "floor_ratio": statistics.median(floors),
        "over_floor": statistics.median(overs),
        "submit_ratio": statistics.median(submit_ratios),
    }


def hit_overhead() -> tuple[float, float, float]:
    """Median seconds per hit of a function with no file and one with 10 files, and
    of 10 bare ``os.stat`` calls on those files (the floor: a hit must stat them)."""
    from ipycache_ext import memo, notify

    notify.set_sink(lambda note: None)
    with tempfile.TemporaryDirectory() as folder:
        paths = [os.path.join(folder, f"f{i}.txt") for i in range(10)]
        for path in paths:
            Path(path).write_text("data")
        # The folder as bytes: no value the code holds names a file (a list of the
        # paths would, and make both entries depend on the 10 files), so the entries'
        # only dependencies are the files the run opens.
        where = os.fsencode(folder)

        # One function, so both keys hash the same code and globals: only the
        # entry's files differ (none for read=False, 10 for read=True).
        @memo
        def load(read: bool) -> bool:
            if read:
                for i in range(10):
                    with open(os.path.join(where, b"f%d.txt" % i)) as fh:
                        fh.read()
            return read

        load(False), load(True)
        found = entry_files(load)
        if found != [0, 10]:
            raise SystemExit(f"the hits' entries depend on {found} files, not 0 and 10")

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


def entry_files(fn: Any) -> list[int]:
    """How many files each entry of memoized ``fn`` depends on, sorted (what
    ``%memo_info`` counts)."""
    from ipycache_ext.store.memory import STORE

    return sorted(len(entry.files) for entry in STORE.entries(fn.owner))


def named_hit_overhead() -> dict[str, float]:
    """Median seconds per hit of one function called with 10 ints, 10 plain words (not
    paths: no dependency) and 10 strings naming files (10 dependencies)."""
    from ipycache_ext import memo, notify

    notify.set_sink(lambda note: None)
    with tempfile.TemporaryDirectory() as folder:
        paths = tuple(os.path.join(folder, f"part{i}.parquet") for i in range(10))
        for path in paths:
            Path(path).write_text("data")
        words = tuple(f"word{i}" for i in range(10))
        numbers = tuple(range(10))

        @memo
        def load(
            a: object,
            b: object,
            c: object,
            d: object,
            e: object,
            f: object,
            g: object,
            h: object,
            i: object,
            j: object,
        ) -> int:
            return 1

        load(*numbers), load(*words), load(*paths)
        return race_per_call(
            {
                "ints": (lambda: load(*numbers), 2000),
                "words": (lambda: load(*words), 2000),
                "paths": (lambda: load(*paths), 2000),
            }
        )


def file_deps() -> dict[str, float]:
    """Seconds per open+read without and with the hook, per hit with 0 and 10 files,
    per hit with 0 and 10 path-like values."""
    opened = open_overhead()
    none, ten, stat = hit_overhead()
    named = named_hit_overhead()
    return opened | {
        "none": none,
        "ten": ten,
        "stat": stat,
        "named_ints": named["ints"],
        "named_words": named["words"],
        "named_paths": named["paths"],
    }


def report_file_deps(t: dict[str, float]) -> list[str]:
    return [
        "## 6. Files in the key",
        "",
        "`open()` + `read()` of a 100 B file while no miss runs, in a process with the "
        f"audit hook installed ({hook_kind()}) against one without any, and against one "
        "with an empty audit hook written in Python (what any Python hook costs: once one "
        "is installed, CPython builds each event's name and arguments, looks the hook up "
        "and calls it, on every `open()`; a hook cannot be removed, and a miss needs one "
        "to see the files it opens; the compiled hook is called with the event's name as "
        "a C string and returns at once for events it does not need), processes in turns; "
        "a `@memo` hit "
        "whose entry depends on 10 files (each `stat`-ed on the hit) against the same hit "
        "with none (the function opens them by a name no value in its key holds).",
        "",
        "| | µs | difference |",
        "|---|---:|---:|",
        f"| `open()`+`read()`, no hook | {t['bare'] * 1e6:.2f} | |",
        f"| `open()`+`read()`, an empty Python audit hook | {t['empty'] * 1e6:.2f} | "
        f"{(t['floor_ratio'] - 1) * 100:+.1f} % (median of paired runs) |",
        f"| `open()`+`read()`, our hook installed ({hook_kind()}) | {t['hooked'] * 1e6:.2f} | "
        f"{(t['ratio'] - 1) * 100:+.1f} % (median of paired runs); "
        f"{(t['over_floor'] - 1) * 100:+.1f} % over the empty Python hook |",
        f"| hit, entry with no file | {t['none'] * 1e6:.2f} | |",
        f"| hit, entry with 10 files | {t['ten'] * 1e6:.2f} | "
        f"+{(t['ten'] - t['none']) * 1e6:.2f} µs |",
        f"| 10 bare `os.stat` calls on those files (the floor) | {t['stat'] * 1e6:.2f} | "
        f"the hit's extra is {(t['ten'] - t['none']) / t['stat']:.2f}x this |",
        "",
        "Path-like values: one `@memo` function hit with 10 ints, with 10 plain "
        "words (not paths: no dependency) and with 10 strings naming files (each a "
        "dependency, `stat`-ed on the hit); `ThreadPoolExecutor.submit(...).result()` "
        "with the wrapper that lets a miss follow its work, no miss running, against a "
        "process without it (paired processes, as `open()` above).",
        "",
        "| | µs | difference |",
        "|---|---:|---:|",
        f"| hit, 10 ints | {t['named_ints'] * 1e6:.2f} | |",
        f"| hit, 10 plain words (0 path-like values) | {t['named_words'] * 1e6:.2f} | "
        f"{(t['named_words'] / t['named_ints'] - 1) * 100:+.1f} % |",
        f"| hit, 10 path-like values | {t['named_paths'] * 1e6:.2f} | "
        f"+{(t['named_paths'] - t['named_ints']) * 1e6:.2f} µs |",
        f"| `submit().result()`, wrapper installed | | "
        f"{(t['submit_ratio'] - 1) * 100:+.1f} % (median of paired runs) |",
        "",
    ]


def targets_of_file_deps(t: dict[str, float]) -> list[Target]:
    """The targets of issues 10, 26 and 22: ``open()`` stays within 5 % with the hook;
    a hit's 10 files, or 10 path-like values, cost little more than their 10 stats (the
    floor, measured in the same run: a µs bound would measure the machine's ``stat``); a
    hit with no path-like values costs nothing measurable (the same as with ints)."""
    return [
        Target(
            10, "`open()` with the file hook, no miss running", 100 * (t["ratio"] - 1), 5.0, "%"
        ),
        Target(
            22,
            "`open()` with the file hook vs an empty Python audit hook",
            100 * (t["over_floor"] - 1),
            5.0,
            "%",
        ),
        Target(
            26,
            "hit depending on 10 files, extra, vs 10 bare `os.stat`",
            (t["ten"] - t["none"]) / t["stat"],
            1.5,
            "x",
        ),
        Target(
            22,
            "hit with 0 path-like values (10 plain words) vs 10 ints",
            t["named_words"] / t["named_ints"],
            1.05,
            "x",
        ),
        Target(
            22,
            "hit with 10 path-like values, extra, vs 10 bare `os.stat`",
            (t["named_paths"] - t["named_ints"]) / t["stat"],
            1.5,
            "x",
        ),
        Target(
            22,
            "thread pool `submit` with the wrapper, no miss running",
            100 * (t["submit_ratio"] - 1),
            5.0,
            "%",
        ),
    ]


def main() -> None:
    figures = file_deps()
    print("\n".join(table(targets_of_file_deps(figures)) + report_file_deps(figures)))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--open-child"]:
        _open_child(sys.argv[2])
    else:
        main()
