"""%%memo in a real kernel (jupyter_client): what a notebook front end receives."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from kernels import Kernel


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    k = Kernel()
    k.run("%load_ext ipycache_ext")
    yield k
    k.stop()


def texts(outputs: list[dict[str, Any]]) -> list[str]:
    return [o["data"]["text/plain"] for o in outputs if "data" in o]


CELL = """%%memo
import pandas as pd
from IPython.display import display
frame = pd.DataFrame({"a": range(n)})
print("rows", len(frame))
display(frame.head(2))
int(frame.a.sum())
"""


def test_hit_replays_mime_bundles_and_result_in_a_kernel(kernel: Kernel) -> None:
    kernel.run("n = 4")
    miss = kernel.run(CELL)
    kernel.run("frame = None")
    hit = kernel.run(CELL)
    assert [o["type"] for o in miss] == ["stream", "display_data", "display_data", "execute_result"]
    assert [o["type"] for o in hit] == ["stream", "display_data", "display_data", "execute_result"]
    assert hit[0]["text"] == miss[0]["text"] == "rows 4\n"
    assert hit[1]["data"] == miss[1]["data"] and "text/html" in hit[1]["data"]
    assert hit[3]["data"]["text/plain"] == miss[3]["data"]["text/plain"] == "6"
    assert "cache miss" in texts(miss)[1] and "first call" in texts(miss)[1]
    assert "cache hit" in texts(hit)[1] and "frame" in texts(hit)[1]
    assert "text/html" in miss[2]["data"]
    restored = kernel.run("type(frame).__name__")
    assert restored[0]["data"]["text/plain"] == "'DataFrame'"


def test_miss_note_says_why_in_a_kernel(kernel: Kernel) -> None:
    kernel.run("n = 4")
    kernel.run(CELL)
    kernel.run("n = 5")
    again = kernel.run(CELL)
    assert any("variable n changed (4 -> 5)" in t for t in texts(again))


def test_in_place_change_in_a_later_cell_warns_in_a_kernel(kernel: Kernel) -> None:
    cell = "%%memo\nimport pandas as pd\ntable = pd.DataFrame({'x': [1.0, None, 3.0]})"
    kernel.run(cell)
    kernel.run("table.dropna(inplace=True)")
    again = kernel.run(cell)
    warnings = [t for t in texts(again) if "warning" in t]
    assert len(warnings) == 1 and "variable table" in warnings[0]


def test_plot_is_replayed_as_an_image(kernel: Kernel) -> None:
    cell = (
        "%%memo\nimport matplotlib.pyplot as plt\n%matplotlib inline\n"
        "fig, ax = plt.subplots()\nax.plot([1, 2, 3])\nplt.show()"
    )
    miss = kernel.run(cell)
    hit = kernel.run(cell)
    images = [o["data"]["image/png"] for o in hit if "image/png" in o.get("data", {})]
    assert len(images) == 1
    assert images == [o["data"]["image/png"] for o in miss if "image/png" in o.get("data", {})]
    assert not [t for t in texts(hit) if "warning" in t]


def test_an_error_in_a_memo_cell_names_the_cell_s_own_number(kernel: Kernel) -> None:
    found = kernel.messages("%%memo\nfailing = 1\nraise ValueError('boom')")
    number = next(
        m["content"]["execution_count"] for m in found if m["msg_type"] == "execute_input"
    )
    (error,) = [m["content"] for m in found if m["msg_type"] == "error"]
    shown = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error["traceback"]))  # no colours
    assert "ValueError" in shown
    assert f"In[{number}]" in shown and f"In[{number + 1}]" not in shown
