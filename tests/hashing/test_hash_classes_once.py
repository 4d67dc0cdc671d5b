"""A list of instances of one user class analyses the class's code once per hash, not
once per instance (a hit on 10,000 dataclasses took ~0.5 s).  Real InteractiveShell;
the analysis is counted, not timed."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from conftest import run_cell

from ipycache_ext.deps import code

CLASSES = {
    "dataclass": "import dataclasses\n@dataclasses.dataclass\nclass P:\n    x: int\n    y: float\n",
    "plain": "class P:\n    def __init__(self, x, y):\n        self.x, self.y = x, y\n",
    "namedtuple": "import collections\nP = collections.namedtuple('P', 'x y')\n",
}


@pytest.mark.parametrize("source", CLASSES.values(), ids=list(CLASSES))
def test_a_list_of_instances_analyses_their_class_once_per_call(
    ip: Any, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    analysed: Counter[str] = Counter()
    real = code._class_parts

    def counting(deps: Any, cls: type, via: tuple[str, ...]) -> None:
        analysed[cls.__qualname__] += 1
        real(deps, cls, via)

    monkeypatch.setattr(code, "_class_parts", counting)
    run_cell(ip, source + "data = [P(i, i * 0.5) for i in range(2000)]\n")
    run_cell(ip, "@memo\ndef total(items):\n    return sum(p.x for p in items)\n")
    assert run_cell(ip, "total(data)").result.result == sum(range(2000))
    assert analysed["P"] <= 1
    analysed.clear()
    assert not run_cell(ip, "total(data)").notes("cache miss")  # the hit
    assert analysed["P"] <= 1
