"""A result that is used up when read (a generator, ``map``, an open file) is never
served from the cache: every call runs again, and one warning says why and how to fix
it.  Real InteractiveShell."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import run_cell

RESULTS = {
    "generator": "(i for i in range(n))",
    "map": "map(int, range(n))",
    "zip": "zip(range(n), range(n))",
    "iter": "iter([0, 1, 2][:n])",
}


@pytest.mark.parametrize("expr", RESULTS.values(), ids=list(RESULTS))
def test_iterator_result_is_computed_again_on_every_call(ip: Any, expr: str) -> None:
    run_cell(ip, f"@memo\ndef g(n):\n    return {expr}\n")
    first = run_cell(ip, "list(g(3))")
    assert len(first.result.result) == 3
    [warning] = first.notes("warning")
    assert "g returned a" in warning and "return a list" in warning
    again = run_cell(ip, "list(g(3))")
    assert again.result.result == first.result.result  # not an exhausted one
    assert not again.notes("warning")  # said once
    assert run_cell(ip, "g.cache_info().currsize").result.result == 0


def test_open_file_result_is_not_stored(ip: Any, tmp_path: Path) -> None:
    (tmp_path / "lines.txt").write_text("a\nb\n")
    run_cell(ip, f"@memo\ndef lines():\n    return open({str(tmp_path / 'lines.txt')!r})\n")
    assert run_cell(ip, "lines().readlines()").result.result == ["a\n", "b\n"]
    assert run_cell(ip, "lines().readlines()").result.result == ["a\n", "b\n"]


def test_list_result_is_still_cached(ip: Any) -> None:
    run_cell(ip, "@memo\ndef g(n):\n    return list(range(n))\n")
    run_cell(ip, "g(3)")
    assert run_cell(ip, "g.cache_info().currsize").result.result == 1
