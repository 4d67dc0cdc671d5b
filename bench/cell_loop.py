"""Section 11: a cell looping over a memoized function that misses on every call.

In a real ``InteractiveShell`` with the extension loaded, as a notebook has it: miss
notes on (the first three of the cell shown, the rest summed up when it ends) and the
spinner armed (its delay is never reached).  The cell times its own loop of 2,000
misses with new arguments (``f(i, 1)``), so the shell's own cost of running a cell is
not in the figure; the same loop over the bare function is the floor.  Rounds of each
variant are run in turns and the median per call is kept.
"""

from __future__ import annotations

import statistics
from typing import Any

from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from traitlets.config import Config

from ipycache_ext.config import SETTINGS

CALLS = 2000
ROUNDS = 7
DEFINE = """
from ipycache_ext import memo
import time
SCALE = 3
def bare(a, b):
    return a * SCALE + b
@memo
def spins(a, b):
    return a * SCALE + b
@memo(show_spinner=False)
def still(a, b):
    return a * SCALE + b
"""
LOOP = """
_t = time.perf_counter()
for _i in range({start}, {start} + {calls}):
    {fn}(_i, 1)
per_call = (time.perf_counter() - _t) / {calls}
"""


def cell_loop() -> dict[str, float]:
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    variants = {
        "bare": ("bare", True),
        "notes on": ("spins", True),
        "notes off": ("spins", False),
        "notes off, no spinner": ("still", False),
    }
    found: dict[str, list[float]] = {name: [] for name in variants}
    try:
        with capture_output(display=True):
            shell.run_cell("%load_ext ipycache_ext")
            shell.run_cell(DEFINE)
        for turn in range(ROUNDS):
            for index, (name, (fn, notes)) in enumerate(variants.items()):
                SETTINGS.notes = notes
                start = (turn * len(variants) + index) * CALLS  # new arguments: all misses
                with capture_output(display=True) as captured:
                    result = shell.run_cell(LOOP.format(start=start, calls=CALLS, fn=fn))
                if not result.success:
                    raise RuntimeError(f"loop failed: {result.error_in_exec!r}")
                if notes and fn != "bare" and len(captured.outputs) != 4:
                    raise RuntimeError(f"expected 3 notes and a summary: {captured.outputs}")
                found[name].append(shell.user_ns["per_call"])
        with capture_output(display=True):
            shell.run_cell("%unload_ext ipycache_ext")
    finally:
        SETTINGS.notes = False
        InteractiveShell.clear_instance()
    return {name: statistics.median(times) for name, times in found.items()}


def report_cell_loop(t: dict[str, Any]) -> list[str]:
    def us(seconds: float) -> str:
        return f"{seconds * 1e6:.1f}"

    rows = [
        ("notes on, spinner armed (as a notebook has it)", t["notes on"]),
        ("notes off, spinner armed", t["notes off"]),
        ("notes off, `show_spinner=False`", t["notes off, no spinner"]),
    ]
    return [
        "## 11. A cell looping over misses",
        "",
        f"A real `InteractiveShell` with the extension loaded; one cell times its own loop of "
        f"{CALLS:,} calls `f(i, 1)` with new `i` (every call a miss); median of {ROUNDS} "
        "rounds.  With notes on, the cell shows its first three miss notes and one summary "
        "at its end; the notes of the misses summed up are never worded, and a spinner "
        "whose delay is not reached starts no thread (one watchdog thread serves them all; "
        "a timer thread per miss cost about 200 µs each).",
        "",
        "| loop | µs per call | beyond the bare function (µs) |",
        "|---|---:|---:|",
        f"| bare function | {us(t['bare'])} | |",
        *(f"| `@memo`, {label} | {us(v)} | **{us(v - t['bare'])}** |" for label, v in rows),
        "",
    ]
