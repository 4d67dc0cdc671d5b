"""A ``%%memo`` cell's inputs are every name it reads, those starting with ``_`` too
(``_raw``, IPython's last output ``_`` and ``_N``); only names the cell binds before
reading them are not inputs."""

from __future__ import annotations

from typing import Any

from conftest import run_cell

MISS = "[ipycache] cache miss"


def test_a_cell_reading_an_underscore_variable_misses_when_it_is_rebound(ip: Any) -> None:
    run_cell(ip, "_raw = [1, 2]")
    cell = "%%memo\ntotal = sum(_raw)"
    run_cell(ip, cell)
    run_cell(ip, "_raw = [5, 6]")
    again = run_cell(ip, cell)
    assert ip.user_ns["total"] == 11
    assert "variable _raw changed" in again.notes(MISS)[0]


def test_a_cell_reading_the_last_output_misses_when_it_changes(ip: Any) -> None:
    cell = "%%memo\nhalf = _ / 2"
    run_cell(ip, "4")
    run_cell(ip, cell)
    run_cell(ip, "10")
    assert run_cell(ip, cell).notes(MISS) and ip.user_ns["half"] == 5


def test_a_cell_reading_a_numbered_output_misses_when_it_changes(ip: Any) -> None:
    first = run_cell(ip, "4").result.execution_count
    cell = f"%%memo\ndouble = _{first} * 2"
    run_cell(ip, cell)
    ip.user_ns[f"_{first}"] = 21  # as if that cell were run again with another result
    assert run_cell(ip, cell).notes(MISS) and ip.user_ns["double"] == 42


def test_an_underscore_name_the_cell_binds_first_is_not_an_input(ip: Any) -> None:
    cell = "%%memo\n_step = 3\nstepped = _step * 2"
    run_cell(ip, cell)
    run_cell(ip, "_step = 100")
    assert run_cell(ip, cell).notes(MISS) == [] and ip.user_ns["stepped"] == 6


def test_an_unhashable_underscore_variable_is_a_handle_keyed_by_its_type(ip: Any) -> None:
    run_cell(ip, "import threading\n_lock = threading.Lock()")
    cell = "%%memo\nkind = type(_lock).__name__"
    assert run_cell(ip, cell).error is None
    run_cell(ip, "_lock = threading.Lock()")
    assert run_cell(ip, cell).notes(MISS) == []
    run_cell(ip, "_lock = threading.RLock()")
    assert "variable _lock changed" in run_cell(ip, cell).notes(MISS)[0]
