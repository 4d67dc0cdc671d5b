"""``%memo_verify``: a call (``f(2, 21)``) or a NAME, as ``%memo_info`` takes it.

A call is verified with the arguments written in the line.  A NAME stands for every
entry of a function whose call this kernel made (its engine keeps the arguments of its
last misses), or for a cell label: the last cell run under it is run again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..engine.stats import STATS
from ..memo import ENGINES
from ..store.memory import STORE
from .calls import is_call, memoized_call
from .cellrun import last_cell, verify_memo_cell


def verify_line(shell: Any, text: str, owners_named: Callable[[str, str], list[str]]) -> None:
    """Verify what ``text`` names; each verdict is said in the cell."""
    if is_call(text):
        fn, args, kwargs = memoized_call(shell, text, "memo_verify")
        fn.verify(*args, **kwargs)
        return
    for owner in owners_named(text.strip("\"'"), "memo_verify"):
        stats = STATS.stats(owner, owner)
        if stats.kind == "cell":
            found = last_cell(stats.label)
            if found is not None:
                verify_memo_cell(shell, *found)
        elif (engine := ENGINES.get(owner)) is not None:
            for digest, (args, kwargs) in list(engine.recalled.items()):
                if STORE.peek(owner, digest)[0] is not None:
                    engine.verify(*args, **kwargs)
