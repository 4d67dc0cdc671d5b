"""Instructions executed per ``@memo`` hit and per miss, counted by valgrind's callgrind.

Wall-clock figures move with the machine and its load; instruction counts do not, so
they are what an architecture change (the engine split into a pipeline) is compared
with, before and after.  Run it on both commits with the same Python:

    PYTHONPATH=. .venv/bin/python bench/callgrind.py

Each figure is a difference of two callgrind runs of this file as a child process:
the same setup and warm-up, then a loop of ``N`` calls or none.  The difference
divided by ``N`` is one call's instructions, interpreter start-up and imports
cancelled out.  The calls are bench/run.py's row 1 and bench/hot_paths.py's miss row:

- hit: ``f(2, 21)``, ``f`` reading the globals ``SCALE`` and ``OFFSET``;
- miss: ``f(n, 1)`` with a new ``n`` every call, memory only, notes off, less the
  bare body's own instructions (``f(n, 1)`` unmemoized, same loop).

Only ``from ipycache_ext import memo`` and the settings object are used, so it runs
on any module layout.  Not part of ``make bench`` or ``make test``: a round takes
minutes under valgrind.
"""

from __future__ import annotations

import gc
import importlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

VALGRIND = "/usr/bin/valgrind"
CALLS = 2000
ROUNDS = 2
SEED = "0"
SOURCE = "SCALE = 3\nOFFSET = 7\ndef f(a, b):\n    return a * SCALE + b + OFFSET\n"
KINDS = ("none", "hit", "miss", "body")


def _user_function() -> Any:
    """A fresh ``f`` in a namespace named ``__main__``: user code, as in a notebook."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(SOURCE, "<bench>", "exec"), namespace)
    return namespace["f"]


def _notes_off() -> None:
    """Notes off, as bench/run.py has them; the settings object is found by name so a
    moved module fails here, in one line, rather than counting printed notes."""
    try:
        settings = importlib.import_module("ipycache_ext.config").SETTINGS
    except (ImportError, AttributeError):
        sys.exit("callgrind.py: ipycache_ext.config.SETTINGS not found; cannot turn notes off")
    settings.notes = False


def child(kind: str, calls: int) -> None:
    """The process callgrind counts: identical setup and warm-up whatever ``kind`` is,
    then ``calls`` calls of that kind (``none``: no loop at all)."""
    from ipycache_ext import memo

    _notes_off()
    hit = memo(_user_function())
    body = _user_function()
    missing = memo(body)
    assert hit(2, 21) == body(2, 21)
    for _ in range(20):  # the first hits, specialised by the interpreter before the count
        hit(2, 21)
    for n in range(-21, -1):  # the first call walks the code; later ones miss on arguments
        missing(n, 1)
        body(n, 1)
    gc.collect()
    gc.disable()
    if kind == "hit":
        for _ in range(calls):
            hit(2, 21)
    elif kind == "miss":
        for n in range(calls):
            missing(n, 1)
    elif kind == "body":
        for n in range(calls):
            body(n, 1)


def _instructions(kind: str, calls: int, out_dir: str) -> int:
    """Total instructions of one child run, read from callgrind's output file."""
    out_file = Path(out_dir) / f"callgrind.{kind}.{calls}"
    env = {**os.environ, "PYTHONHASHSEED": SEED, "PYTHONDONTWRITEBYTECODE": "1"}
    command = [
        VALGRIND,
        "--tool=callgrind",
        "--cache-sim=no",
        "--branch-sim=no",
        f"--callgrind-out-file={out_file}",
        sys.executable,
        __file__,
        "--child",
        kind,
        str(calls),
    ]
    subprocess.run(command, env=env, check=True, capture_output=True)
    for line in out_file.read_text().splitlines():
        if line.startswith(("totals:", "summary:")):
            return int(line.split()[1])
    raise RuntimeError(f"no totals line in {out_file}")


def measure(calls: int) -> dict[str, int]:
    """One round: the total instructions of each kind of child."""
    with tempfile.TemporaryDirectory() as out_dir:
        return {
            kind: _instructions(kind, calls if kind != "none" else 0, out_dir) for kind in KINDS
        }


def per_call(totals: dict[str, int], calls: int) -> tuple[float, float]:
    """Instructions per hit, and per miss beyond the body's own."""
    hit = (totals["hit"] - totals["none"]) / calls
    miss = (totals["miss"] - totals["body"]) / calls
    return hit, miss


def main() -> None:
    if not os.access(VALGRIND, os.X_OK):
        print(f"callgrind.py: skipped, valgrind is not installed ({VALGRIND})")
        return
    # Compile the modules once outside the count, so no run pays for writing .pyc files.
    subprocess.run([sys.executable, __file__, "--child", "none", "0"], check=True)
    rounds = []
    for number in range(1, ROUNDS + 1):
        totals = measure(CALLS)
        hit, miss = per_call(totals, CALLS)
        rounds.append((hit, miss))
        raw = ", ".join(f"{kind} {totals[kind]:,}" for kind in KINDS)
        print(f"round {number}: N={CALLS}; totals (Ir): {raw}")
        print(f"round {number}: instructions per hit: {hit:,.0f}; per miss: {miss:,.0f}")
    hit, miss = rounds[0]
    print(f"instructions per hit: {hit:,.0f}")
    print(f"instructions per miss: {miss:,.0f}")
    for name, values in (("hit", [r[0] for r in rounds]), ("miss", [r[1] for r in rounds])):
        spread = (max(values) - min(values)) / min(values) * 100
        print(f"rounds agree on {name} within {spread:.3f}%")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], int(sys.argv[3]))
    else:
        main()
