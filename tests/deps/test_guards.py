"""Hits validated by guards: after a first call, ``@memo`` checks that what its key was
made of is the very same objects instead of walking the code again.  Every way of
changing one of them must still be a miss saying why, never a stale hit.

Each test runs in a real IPython shell: define, call twice (a miss, then a hit taken
on the guards), change one thing, call again; once with dicts' version tags (where
this interpreter has them) and once comparing every name.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cell

from ipycache_ext.deps import versions
from ipycache_ext.messages import PREFIX

MISS = f"[{PREFIX}] cache miss"


@pytest.fixture(autouse=True, params=["tags", "names"])
def dict_tags(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Guards made with version tags where readable, and without."""
    if request.param == "names":
        monkeypatch.setattr(versions, "ENABLED", False)


def setup(ip: Any, source: str, call: str) -> None:
    """Define ``source``, then call ``call`` twice: a miss, then a hit on the guards."""
    first = run_cell(ip, textwrap.dedent(source) + "\n" + call)
    assert first.error is None, first.stderr
    assert len(first.notes(MISS)) == 1
    again = run_cell(ip, call)
    assert again.notes(MISS) == [], again.texts()


def miss_after(ip: Any, change: str, call: str) -> tuple[Any, str]:
    """Run ``change``, then ``call``: its value and its one miss note."""
    assert run_cell(ip, textwrap.dedent(change)).error is None
    cell = run_cell(ip, call)
    assert cell.error is None, cell.stderr
    [note] = cell.notes(MISS)
    return cell.result.result, note


HELPER = """
SCALE = 3
def helper(x):
    return x * SCALE
@memo
def f(x):
    return helper(x) + 1
"""


def test_redefined_helper_misses_with_a_note_naming_it(ip: Any) -> None:
    setup(ip, HELPER, "f(2)")
    value, note = miss_after(ip, "def helper(x):\n    return x * SCALE * 10", "f(2)")
    assert value == 61
    assert "the code of helper changed" in note


def test_rebound_global_misses_with_old_and_new_value(ip: Any) -> None:
    setup(ip, HELPER, "f(2)")
    value, note = miss_after(ip, "SCALE = 4", "f(2)")
    assert value == 9
    assert "global SCALE (read by helper) changed (3 -> 4)" in note


def test_unrelated_global_assigned_still_hits(ip: Any) -> None:
    setup(ip, HELPER, "f(2)")
    assert run_cell(ip, "OTHER = 5\nSCALE = SCALE").error is None
    cell = run_cell(ip, "f(2)")
    assert cell.result.result == 7
    assert cell.notes(MISS) == []


def test_global_rebound_to_an_equal_value_of_another_type_misses(ip: Any) -> None:
    setup(ip, HELPER, "f(2)")
    value, note = miss_after(ip, "SCALE = 3.0", "f(2)")
    assert value == 7.0 and type(value) is float
    assert "global SCALE (read by helper) changed (3 -> 3.0)" in note


def test_deleted_global_misses_saying_it_is_no_longer_defined(ip: Any) -> None:
    source = "N = 1\n"
    source += "@memo\ndef f():\n    try:\n        return N\n    except NameError:\n        return 0"
    setup(ip, source, "f()")
    assert run_cell(ip, "del N").error is None
    cell = run_cell(ip, "f()")
    [note] = cell.notes(MISS)
    assert cell.result.result == 0
    assert "N is no longer defined" in note


def test_shadowing_a_builtin_misses(ip: Any) -> None:
    setup(ip, "@memo\ndef f(x):\n    return len(x)", "f('abc')")
    value, note = miss_after(ip, "def len(x):\n    return 99", "f('abc')")
    assert value == 99
    assert "now reads global len" in note


def test_assigned_code_of_a_helper_misses(ip: Any) -> None:
    setup(ip, HELPER, "f(2)")
    change = "def other(x):\n    return x * SCALE * 100\nhelper.__code__ = other.__code__"
    value, note = miss_after(ip, change, "f(2)")
    assert value == 601
    assert "the code of helper changed" in note


def test_assigned_defaults_of_a_helper_misses(ip: Any) -> None:
    source = "def helper(x, k=1):\n    return x * k\n@memo\ndef f(x):\n    return helper(x)"
    setup(ip, source, "f(2)")
    value, note = miss_after(ip, "helper.__defaults__ = (5,)", "f(2)")
    assert value == 10
    assert "helper" in note


def test_assigned_keyword_only_defaults_of_a_helper_misses(ip: Any) -> None:
    source = "def helper(x, *, k=1):\n    return x * k\n@memo\ndef f(x):\n    return helper(x)"
    setup(ip, source, "f(2)")
    value, _ = miss_after(ip, "helper.__kwdefaults__ = {'k': 9}", "f(2)")
    assert value == 18


def test_assigned_bases_of_a_class_misses(ip: Any) -> None:
    source = """
    class A:
        def get(self):
            return 1
    class B:
        def get(self):
            return 2
    class C(A):
        pass
    @memo
    def f():
        return C().get()
    """
    setup(ip, source, "f()")
    value, _ = miss_after(ip, "C.__bases__ = (B,)", "f()")
    assert value == 2


def test_helper_behind_a_wrapper_that_now_wraps_another_function_misses(ip: Any) -> None:
    source = """
    import functools
    def inner(x):
        return x + 1
    def other(x):
        return x + 2
    helper = functools.lru_cache(inner)
    @memo
    def f(x):
        return helper(x)
    """
    setup(ip, source, "f(1)")
    _, note = miss_after(ip, "helper.__wrapped__ = other", "f(1)")
    assert "helper now refers to other" in note


def test_mutable_default_changed_in_place_misses(ip: Any) -> None:
    source = (
        "def helper(x, seen=[1]):\n    return x + sum(seen)\n@memo\ndef f(x):\n    return helper(x)"
    )
    setup(ip, source, "f(2)")
    value, _ = miss_after(ip, "helper.__defaults__[0].append(10)", "f(2)")
    assert value == 13


def test_keyword_only_default_changed_in_place_misses(ip: Any) -> None:
    source = "def helper(x, *, k=1):\n    return x * k\n@memo\ndef f(x):\n    return helper(x)"
    setup(ip, source, "f(2)")
    value, _ = miss_after(ip, "helper.__kwdefaults__['k'] = 7", "f(2)")
    assert value == 14


def test_changed_closure_cell_misses_naming_the_variable(ip: Any) -> None:
    source = """
    def make():
        factor = 2
        def f(x):
            return x * factor
        def set_factor(v):
            nonlocal factor
            factor = v
        return memo(f), set_factor
    f, set_factor = make()
    """
    setup(ip, source, "f(5)")
    value, note = miss_after(ip, "set_factor(3)", "f(5)")
    assert value == 15
    assert "factor changed (2 -> 3)" in note


def test_mutable_global_changed_in_place_misses(ip: Any) -> None:
    setup(ip, "DATA = [1, 2]\n@memo\ndef f():\n    return sum(DATA)", "f()")
    value, note = miss_after(ip, "DATA.append(3)", "f()")
    assert value == 6
    assert "DATA changed" in note


def test_global_whose_class_was_reassigned_misses(ip: Any) -> None:
    source = """
    class A:
        def __init__(self):
            self.v = 1
        def get(self):
            return self.v
    class B(A):
        def get(self):
            return self.v * 100
    OBJ = A()
    @memo
    def f():
        return OBJ.get()
    """
    setup(ip, source, "f()")
    value, _ = miss_after(ip, "OBJ.__class__ = B", "f()")
    assert value == 100


def test_class_attribute_assigned_misses(ip: Any) -> None:
    source = """
    class Config:
        threshold = 1
    @memo
    def f(x):
        return x > Config.threshold
    """
    setup(ip, source, "f(2)")
    value, note = miss_after(ip, "Config.threshold = 5", "f(2)")
    assert value is False
    assert "Config.threshold changed (1 -> 5)" in note


def test_attribute_of_a_global_object_rebound_misses(ip: Any) -> None:
    source = """
    class Settings:
        pass
    cfg = Settings()
    cfg.level = 1
    @memo
    def f(x):
        return x + cfg.level
    """
    setup(ip, source, "f(2)")
    value, note = miss_after(ip, "cfg.level = 10", "f(2)")
    assert value == 12
    assert "cfg.level changed (1 -> 10)" in note


def test_implementation_registered_on_a_singledispatch_helper_misses(ip: Any) -> None:
    source = """
    import functools
    @functools.singledispatch
    def fmt(x):
        return 'obj'
    @fmt.register
    def _(x: int):
        return f'int {x}'
    @memo
    def show(x):
        return fmt(x)
    """
    setup(ip, source, "show(1)")
    change = "@fmt.register\ndef _(x: int):\n    return f'INT {x}'"
    value, _ = miss_after(ip, change, "show(1)")
    assert value == "INT 1"


# ----- user modules -----------------------------------------------------------------------


MODULE_SOURCE = "OFFSET = 1\n\ndef shift(x):\n    return x + OFFSET\n"


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A module ``ipc_guarded_mod`` in a project folder that is the working directory."""
    monkeypatch.chdir(tmp_path)
    source = tmp_path / "ipc_guarded_mod.py"
    source.write_text(MODULE_SOURCE)
    sys.path.insert(0, str(tmp_path))
    try:
        yield source
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("ipc_guarded_mod", None)


MODULE_USER = "import ipc_guarded_mod as mod\n@memo\ndef f(x):\n    return mod.shift(x)"


def test_rebound_attribute_of_a_user_module_misses(ip: Any, user_module: Path) -> None:
    setup(ip, MODULE_USER, "f(1)")
    value, note = miss_after(ip, "mod.OFFSET = 100", "f(1)")
    assert value == 101
    assert "global OFFSET (read by shift) changed (1 -> 100)" in note


def test_reloaded_user_module_misses_with_a_note_naming_the_function(
    ip: Any, user_module: Path
) -> None:
    setup(ip, MODULE_USER, "f(1)")
    user_module.write_text("OFFSET = 1\n\ndef shift(x):\n    return x + OFFSET * 1000\n")
    importlib.invalidate_caches()
    value, note = miss_after(ip, "import importlib\nimportlib.reload(mod)", "f(1)")
    assert value == 1001
    assert "the code of shift changed" in note


INNER_IMPORT = "@memo\ndef f(x):\n    import ipc_guarded_mod as m\n    return m.shift(x)"


def test_module_imported_inside_the_function_rebound_attribute_misses(
    ip: Any, user_module: Path
) -> None:
    setup(ip, "import ipc_guarded_mod as mod\n" + INNER_IMPORT, "f(1)")
    value, note = miss_after(ip, "mod.OFFSET = 100", "f(1)")
    assert value == 101
    assert "global OFFSET (read by shift) changed (1 -> 100)" in note


def test_module_imported_inside_the_function_imported_afresh_misses(
    ip: Any, user_module: Path
) -> None:
    setup(ip, INNER_IMPORT, "f(1)")
    user_module.write_text("OFFSET = 1\n\ndef shift(x):\n    return x + OFFSET * 1000\n")
    importlib.invalidate_caches()
    change = "import sys\ndel sys.modules['ipc_guarded_mod']"
    value, note = miss_after(ip, change, "f(1)")
    assert value == 1001
    assert "the code of shift changed" in note


def test_module_becoming_user_code_after_chdir_is_keyed_by_its_code(
    ip: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "ipc_moving_mod.py").write_text(
        "OFFSET = 1\n\ndef shift(x):\n    return x + OFFSET\n"
    )
    sys.path.insert(0, str(folder))
    try:
        source = "import ipc_moving_mod as mod\n@memo\ndef f(x):\n    return mod.shift(x)"
        setup(ip, source, "f(1)")  # outside the working directory: a library
        monkeypatch.chdir(folder)
        value, _ = miss_after(ip, "mod.OFFSET = 100", "f(1)")
        assert value == 101
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("ipc_moving_mod", None)


def test_module_becoming_user_code_by_user_paths_is_keyed_by_its_code(
    ip: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "ipc_src_mod.py").write_text(MODULE_SOURCE)
    sys.path.insert(0, str(folder))
    try:
        source = "import ipc_src_mod as mod\n@memo\ndef f(x):\n    return mod.shift(x)"
        setup(ip, source, "f(1)")  # outside the working directory: a library
        change = f"%config MemoMagics.user_paths = [{str(folder)!r}]\nmod.OFFSET = 100"
        value, _ = miss_after(ip, change, "f(1)")
        assert value == 101
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("ipc_src_mod", None)


# ----- call graphs of any depth -------------------------------------------------------------


def chain_source(depth: int) -> str:
    lines = [f"def h{depth}(x):\n    return x + LAST\n"]
    lines += [f"def h{i}(x):\n    return h{i + 1}(x)\n" for i in range(depth)]
    return "LAST = 1\n" + "".join(lines) + "@memo\ndef f(x):\n    return h0(x)\n"


def test_chain_of_a_thousand_helpers_is_keyed_without_recursion_error(ip: Any) -> None:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(3000)  # the program itself needs it to run the chain
    try:
        setup(ip, chain_source(1000), "f(1)")
        value, note = miss_after(ip, "def h1000(x):\n    return x + LAST * 2", "f(1)")
        assert value == 3
        assert "the code of h1000 changed" in note
    finally:
        sys.setrecursionlimit(limit)


def test_dict_version_tags_are_read_on_this_interpreter_when_its_layout_is_known() -> None:
    known = sys.implementation.name == "cpython" and (3, 11) <= sys.version_info[:2] <= (3, 13)
    assert versions.readable() is known


# ----- what the guards hold ---------------------------------------------------------------

RELEASE = """
import weakref
class Big:
    pass
data = Big()
seen = weakref.ref(data)
@memo
def f():
    return data is not None
"""


def test_memo_clear_lets_go_of_a_value_only_the_guards_still_hold(ip: Any) -> None:
    setup(ip, RELEASE, "f()")
    assert run_cell(ip, "data = None\nimport gc\ngc.collect()").error is None
    assert ip.user_ns["seen"]() is not None  # until the next call walks again
    assert run_cell(ip, "memo.clear()\ngc.collect()").error is None
    assert ip.user_ns["seen"]() is None


def test_cache_clear_lets_go_of_what_its_guards_hold(ip: Any) -> None:
    setup(ip, RELEASE, "f()")
    assert run_cell(ip, "data = None\nf.cache_clear()\nimport gc\ngc.collect()").error is None
    assert ip.user_ns["seen"]() is None


def test_memo_clear_magic_lets_go_of_what_the_guards_hold(ip: Any) -> None:
    setup(ip, RELEASE, "f()")
    assert run_cell(ip, "data = None\n%memo_clear\nimport gc\ngc.collect()").error is None
    assert ip.user_ns["seen"]() is None
