"""A figure a cached function returned, shown with ``display`` in a shell: showing it
draws it, which is not a mutation; changing it after the call still is."""

from __future__ import annotations

from typing import Any

from conftest import run_cell

MUTATED = "was mutated after it was returned"

MAKER = """
import matplotlib
matplotlib.use("agg")
import matplotlib.pyplot as plt
from IPython.core.pylabtools import select_figure_formats
from IPython.display import display
select_figure_formats(get_ipython(), {"png"})  # display(fig) draws a PNG, as inline does
@memo
def mk(n):
    fig, ax = plt.subplots()
    ax.plot(range(n))
    ax.legend(["line"])
    return fig
fig = mk(3)
"""


def warned(cell: Any) -> bool:
    return any(MUTATED in text for text in cell.texts()) or MUTATED in cell.stderr


def test_a_returned_figure_shown_with_display_is_not_a_mutation(ip: Any) -> None:
    run_cell(ip, "from ipycache_ext import memo")
    assert run_cell(ip, MAKER).error is None
    assert run_cell(ip, "display(fig)").outputs
    assert not warned(run_cell(ip, "fig = mk(3)"))
    assert not warned(run_cell(ip, "display(fig)\nfig = mk(3)"))


def test_a_line_added_to_a_shown_figure_is_a_mutation(ip: Any) -> None:
    run_cell(ip, "from ipycache_ext import memo")
    assert run_cell(ip, MAKER).error is None
    run_cell(ip, "display(fig)\nfig.axes[0].plot([3, 2, 1])")
    assert warned(run_cell(ip, "fig = mk(3)"))
