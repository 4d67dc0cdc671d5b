"""Rules a real kernel shows: a figure a cached function returned and the inline
backend drew is not "mutated"; a relative path after ``%cd`` names another file; and
after ``%cd`` the project's own modules stay the user's code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import kernels
import pytest

from ipycache_ext.messages import PREFIX

MISS = f"[{PREFIX}] cache miss"
MUTATED = "was mutated after it was returned"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder the kernel starts in."""
    return tmp_path_factory.mktemp("project")


@pytest.fixture(scope="module")
def kernel(project: Path) -> Iterator[kernels.Kernel]:
    k = kernels.Kernel(cwd=project)
    k.run("%load_ext ipycache_ext\nfrom ipycache_ext import memo")
    yield k
    k.stop()


def texts(outputs: list[dict]) -> str:
    """Everything a cell showed, as one text."""
    found = []
    for out in outputs:
        found.append(out.get("text", ""))
        found.append(out.get("data", {}).get("text/plain", ""))
        found.append(out.get("evalue", ""))
    return "\n".join(found)


def test_a_returned_figure_shown_inline_is_not_a_mutation(kernel: kernels.Kernel) -> None:
    kernel.run(
        "%matplotlib inline\nimport matplotlib.pyplot as plt\n"
        "@memo\ndef mk(n):\n    fig, ax = plt.subplots()\n    ax.plot(range(n))\n    return fig\n"
        "fig = mk(3)"
    )
    shown = texts(kernel.run("fig = mk(3)\nfig"))  # a hit, and the figure shown again
    assert MUTATED not in shown
    assert MUTATED not in texts(kernel.run("fig = mk(3)"))


def test_a_title_set_on_a_returned_figure_is_still_a_mutation(kernel: kernels.Kernel) -> None:
    kernel.run(
        "%matplotlib inline\nimport matplotlib.pyplot as plt\n"
        "@memo\ndef mk2(n):\n    fig, ax = plt.subplots()\n    ax.plot(range(n))\n    return fig\n"
        "fig = mk2(4)"
    )
    kernel.run("fig.axes[0].set_title('x')")
    assert MUTATED in texts(kernel.run("fig = mk2(4)"))


def test_after_cd_an_edited_project_module_is_still_user_code(
    kernel: kernels.Kernel, project: Path
) -> None:
    (project / "data").mkdir()
    (project / "clean.py").write_text("def fix(x):\n    return x + 1\n")
    kernel.run(
        "import importlib, os, sys\nstart = os.getcwd()\nsys.path.insert(0, start)\nimport clean\n"
        "@memo\ndef cleaned(x):\n    return clean.fix(x)\ncleaned(1)"
    )
    kernel.run("%cd data")
    (project / "clean.py").write_text("def fix(x):\n    return x + 20\n")
    first = texts(kernel.run("importlib.reload(clean)\ncleaned(1)"))
    assert "21" in first and "-> None" not in first
    (project / "clean.py").write_text("def fix(x):\n    return x + 300\n")
    second = texts(kernel.run("importlib.reload(clean)\ncleaned(1)"))
    assert "301" in second and MISS in second
    kernel.run("%cd {start}\nsys.path.remove(start)")
