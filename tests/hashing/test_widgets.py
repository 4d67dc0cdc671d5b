"""ipywidgets widgets as inputs: keyed by their state (what a function reads of them),
not by their comm, lock or model id."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
from conftest import Tally, run_cell

from ipycache_ext import hashing, memo

MISS = "[ipycache] cache miss"


def test_a_widget_argument_hits_while_its_value_stays_and_misses_when_it_moves(
    tally: Tally,
) -> None:
    @memo
    def doubled(slider: widgets.IntSlider) -> int:
        tally(slider.value)
        return slider.value * 2

    slider = widgets.IntSlider(value=3)
    assert doubled(slider) == 6 and doubled(slider) == 6 and len(tally) == 1
    slider.value = 5
    assert doubled(slider) == 10 and len(tally) == 2
    assert doubled(widgets.IntSlider(value=5)) == 10 and len(tally) == 2  # same state


def test_widgets_differ_by_their_state_their_type_and_their_children() -> None:
    def same(a: Any, b: Any) -> bool:
        return hashing.digest(a) == hashing.digest(b)

    assert same(widgets.IntSlider(value=1, max=10), widgets.IntSlider(value=1, max=10))
    assert not same(widgets.IntSlider(value=1, max=10), widgets.IntSlider(value=1, max=20))
    assert not same(widgets.IntSlider(value=1), widgets.IntText(value=1))
    assert not same(
        widgets.Dropdown(options=["a", "b"], value="a"),
        widgets.Dropdown(options=["a", "b"], value="b"),
    )
    assert same(
        widgets.VBox([widgets.IntSlider(value=1)]), widgets.VBox([widgets.IntSlider(value=1)])
    )
    assert not same(
        widgets.VBox([widgets.IntSlider(value=1)]), widgets.VBox([widgets.IntSlider(value=2)])
    )


def test_a_cell_reading_a_widget_replays_until_the_widget_moves(ip: Any) -> None:
    run_cell(ip, "import ipywidgets as widgets\nknob = widgets.FloatSlider(value=0.5)")
    cell = "%%memo\nscaled = knob.value * 10"
    assert run_cell(ip, cell).notes(MISS)
    assert run_cell(ip, cell).notes(MISS) == [] and ip.user_ns["scaled"] == 5.0
    run_cell(ip, "knob.value = 0.25")
    moved = run_cell(ip, cell)
    assert moved.notes(MISS) and ip.user_ns["scaled"] == 2.5
