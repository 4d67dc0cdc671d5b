"""matplotlib figures and axes: an unchanged one hashes alike however often it is hashed,
drawn or saved (it used to hash differently on every call), and a changed plot differs."""

from __future__ import annotations

import io
import subprocess
import sys
from typing import Any

from conftest import Tally, run_cell
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ipycache_ext.hashing import digest


def plot() -> Figure:
    fig = Figure()
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot([1, 2, 3], [4, 5, 6])
    ax.set_title("t")
    return fig


def test_an_unchanged_figure_and_its_axes_hash_alike_each_time() -> None:
    fig = plot()
    assert digest(fig) == digest(fig)
    assert digest(fig.axes[0]) == digest(fig.axes[0])


def test_drawing_or_saving_a_drawn_figure_again_keeps_its_digest() -> None:
    fig = plot()
    fig.canvas.draw()
    drawn = digest(fig)
    fig.canvas.draw()
    assert digest(fig) == drawn
    fig.savefig(io.BytesIO(), format="png")
    assert digest(fig) == drawn


def test_a_figure_shown_inline_twice_keeps_its_digest() -> None:
    fig = plot()
    fig.savefig(io.BytesIO(), format="png", bbox_inches="tight")  # what inline display does
    shown = digest(fig)
    fig.savefig(io.BytesIO(), format="png", bbox_inches="tight")
    assert digest(fig) == shown


def test_a_new_line_changed_data_or_a_new_title_changes_the_digest() -> None:
    fig = plot()
    fig.canvas.draw()
    before = digest(fig)
    ax = fig.axes[0]
    ax.set_title("u")
    assert digest(fig) != before
    titled = digest(fig)
    ax.lines[0].set_ydata([4, 5, 7])
    assert digest(fig) != titled
    changed = digest(fig)
    ax.plot([1, 2], [3, 3])
    assert digest(fig) != changed


BUILD = """
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from ipycache_ext.hashing import hexdigest
fig = Figure()
FigureCanvasAgg(fig)
ax = fig.add_subplot()
ax.plot([1, 2, 3], [4, 5, 6])
fig.canvas.draw()
print(hexdigest(fig))
"""


def test_a_figure_built_alike_in_two_processes_hashes_alike() -> None:
    runs = [
        subprocess.run(
            [sys.executable, "-c", BUILD], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    ]
    assert runs[0] == runs[1] and len(runs[0].strip()) == 32


FIGURE_CELL = """
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
FIG = Figure()
FigureCanvasAgg(FIG)
FIG.add_subplot().plot([1, 2, 3], [4, 5, 6])
FIG.savefig(__import__("io").BytesIO(), format="png", bbox_inches="tight")

@memo
def lines(n):
    return tally(len(FIG.axes[0].lines) + n)
"""


def test_an_unchanged_figure_global_hits_and_a_changed_one_misses(ip: Any) -> None:
    tally = Tally()
    ip.user_ns["tally"] = tally
    run_cell(ip, FIGURE_CELL)
    run_cell(ip, "lines(1)")
    run_cell(ip, "FIG.savefig(__import__('io').BytesIO(), format='png', bbox_inches='tight')")
    second = run_cell(ip, "lines(1)")
    assert second.notes("cache miss") == []
    assert tally.runs == [2]
    changed = run_cell(ip, "FIG.axes[0].set_title('new')\nlines(1)")
    assert tally.runs == [2, 2]
    assert "global FIG.axes changed" in changed.notes("cache miss")[0]
