"""Imports inside cached code (a function body, a %%memo cell) key the user module's code
as a module-level import does: after the module is edited and reloaded, the next call
misses with a note naming what changed.  Real InteractiveShell, real module files."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cell

V1 = "CONST = 1\n\n\ndef helper(x):\n    return x * 10\n"
V2 = "CONST = 1\n\n\ndef helper(x):\n    return x * 100\n"


@pytest.fixture
def mod_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder next to the notebook (the working directory) with a user module."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "inmod.py").write_text(V1)
    yield tmp_path
    for name in ("inmod", "inpkg", "inpkg.sub"):
        sys.modules.pop(name, None)


def _edit_and_reload(ip: Any, folder: Path, how: str = "importlib.reload(inmod)") -> None:
    (folder / "inmod.py").write_text(V2)
    run_cell(ip, f"import importlib, inmod\n{how}")


BODIES = {
    "import": "    import inmod\n    return inmod.helper(x)\n",
    "from_import": "    from inmod import helper\n    return helper(x)\n",
    "import_as": "    import inmod as m\n    return m.helper(x)\n",
    "import_module": "    import importlib\n    m = importlib.import_module('inmod')\n"
    "    return m.helper(x)\n",
    "nested": "    import inmod\n    def inner():\n        return inmod.helper(x)\n"
    "    return inner()\n",
}


@pytest.mark.parametrize("body", BODIES.values(), ids=list(BODIES))
def test_function_importing_a_user_module_misses_after_it_is_reloaded(
    ip: Any, mod_dir: Path, body: str
) -> None:
    run_cell(ip, "@memo\ndef f(x):\n" + body)
    assert run_cell(ip, "f(2)").result.result == 20
    assert not run_cell(ip, "f(2)").notes("cache miss")  # a hit: no note
    _edit_and_reload(ip, mod_dir)
    changed = run_cell(ip, "f(2)")
    assert changed.result.result == 200
    assert "the code of helper changed" in changed.notes("cache miss")[0]
    assert not run_cell(ip, "f(2)").notes("cache miss")


def test_function_importing_a_user_module_first_call_is_then_a_hit(ip: Any, mod_dir: Path) -> None:
    """The module is not imported before the first call: keying imports it, so the
    second call has the same key."""
    run_cell(ip, "@memo\ndef f(x):\n    from inmod import CONST\n    return CONST + x\n")
    assert run_cell(ip, "f(1)").result.result == 2
    assert not run_cell(ip, "f(1)").notes("cache miss")
    (mod_dir / "inmod.py").write_text(V1.replace("CONST = 1", "CONST = 5"))
    run_cell(ip, "import importlib, inmod\nimportlib.reload(inmod)")
    changed = run_cell(ip, "f(1)")
    assert changed.result.result == 6
    assert "global CONST changed (1 -> 5)" in changed.notes("cache miss")[0]


def test_function_importing_a_user_module_misses_after_autoreload(ip: Any, mod_dir: Path) -> None:
    run_cell(ip, "%load_ext autoreload\n%autoreload 2")
    try:
        run_cell(ip, "@memo\ndef f(x):\n    import inmod\n    return inmod.helper(x)\n")
        assert run_cell(ip, "f(3)").result.result == 30
        (mod_dir / "inmod.py").write_text(V2)
        changed = run_cell(ip, "f(3)")
        assert changed.result.result == 300
        assert "the code of helper changed" in changed.notes("cache miss")[0]
    finally:
        run_cell(ip, "%autoreload 0")


CELLS = {
    "import": "%%memo\nimport inmod\nres = inmod.helper(2)\nres",
    "from_import": "%%memo\nfrom inmod import helper\nres = helper(2)\nres",
    "import_module": "%%memo\nimport importlib\nm = importlib.import_module('inmod')\n"
    "res = m.helper(2)\nres",
}


@pytest.mark.parametrize("cell", CELLS.values(), ids=list(CELLS))
def test_cell_importing_a_user_module_misses_after_it_is_reloaded(
    ip: Any, mod_dir: Path, cell: str
) -> None:
    assert run_cell(ip, cell).result.result == 20
    assert run_cell(ip, cell).notes("cache hit")
    _edit_and_reload(ip, mod_dir)
    changed = run_cell(ip, cell)
    assert changed.result.result == 200
    assert "the code of helper changed" in changed.notes("cache miss")[0]


def test_cell_importing_a_user_module_keys_its_constants(ip: Any, mod_dir: Path) -> None:
    cell = "%%memo\nimport inmod\nres = inmod.CONST + 1\nres"
    assert run_cell(ip, cell).result.result == 2
    run_cell(ip, "import inmod\ninmod.CONST = 7")
    changed = run_cell(ip, cell)
    assert changed.result.result == 8
    assert "variable inmod.CONST changed (1 -> 7)" in changed.notes("cache miss")[0]


def test_importing_a_submodule_inside_a_function_follows_it(ip: Any, mod_dir: Path) -> None:
    (mod_dir / "inpkg").mkdir()
    (mod_dir / "inpkg" / "__init__.py").write_text("")
    (mod_dir / "inpkg" / "sub.py").write_text("K = 1\n")
    run_cell(ip, "@memo\ndef f():\n    import inpkg.sub\n    return inpkg.sub.K\n")
    assert run_cell(ip, "f()").result.result == 1
    run_cell(ip, "import inpkg.sub\ninpkg.sub.K = 2")
    assert run_cell(ip, "f()").result.result == 2


def test_importing_a_library_inside_a_function_still_hits(ip: Any) -> None:
    run_cell(ip, "@memo\ndef f(x):\n    import json\n    return json.dumps(x)\n")
    assert run_cell(ip, "f(1)").notes("cache miss")
    assert not run_cell(ip, "f(1)").notes("cache miss")
