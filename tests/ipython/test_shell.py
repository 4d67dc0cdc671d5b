"""@memo inside a real IPython InteractiveShell: loading and unloading the extension,
settings, notes as display_data, notebook-style edits across cells, one-line errors."""

from __future__ import annotations

import copy
from typing import Any

from conftest import Tally, run_cell
from hypothesis import assume, given, settings
from strategies import same, values

import ipycache_ext
from ipycache_ext import memo
from ipycache_ext.config import SETTINGS
from ipycache_ext.ipython.magics import MemoMagics
from ipycache_ext.messages import PREFIX

MISS = f"[{PREFIX}] cache miss"
WARNING = f"[{PREFIX}] warning"


def with_tally(shell: Any) -> Tally:
    tally = Tally()
    shell.push({"tally": tally})
    return tally


# ----- loading and unloading --------------------------------------------------------------


def test_load_ext_registers_the_magics(ip: Any) -> None:
    manager = ip.magics_manager
    assert "MemoMagics" in manager.registry
    for kind, names in MemoMagics.magics.items():
        for name in names:
            assert name in manager.magics[kind], f"%{name} ({kind}) is not registered"


def test_load_ext_makes_memo_settings_configurable(ip: Any) -> None:
    ip.run_line_magic("config", "MemoMagics.spinner_delay = 0.25")
    assert ip.magics_manager.registry["MemoMagics"].spinner_delay == 0.25
    assert SETTINGS.spinner_delay == 0.25


def test_load_ext_puts_memo_into_the_user_namespace(ip: Any) -> None:
    assert ip.user_ns["memo"] is memo


def test_memo_in_the_namespace_is_usable_without_an_import(ip: Any) -> None:
    tally = with_tally(ip)
    cell = run_cell(ip, "@memo\ndef f(x):\n    return tally(x)\nf(1)\nf(1)")
    assert cell.error is None
    assert tally.runs == [1]


def memo_settings_objects(shell: Any) -> list[Any]:
    return [c for c in shell.configurables if isinstance(c, MemoMagics)]


def test_load_ext_twice_is_idempotent(ip: Any) -> None:
    loaded = ip.magics_manager.registry["MemoMagics"]
    settings_before = memo_settings_objects(ip)
    ip.run_line_magic("load_ext", "ipycache_ext")
    ipycache_ext.load_ipython_extension(ip)
    assert ip.magics_manager.registry["MemoMagics"] is loaded
    assert memo_settings_objects(ip) == settings_before
    cell = run_cell(ip, "@memo\ndef f(x):\n    return x\nf(1)")
    assert len(cell.notes(MISS)) == 1


def test_unload_ext_removes_memo_from_the_user_namespace(ip: Any) -> None:
    ip.run_line_magic("unload_ext", "ipycache_ext")
    assert "memo" not in ip.user_ns


def test_unload_ext_unregisters_the_magics(ip: Any) -> None:
    ip.run_line_magic("unload_ext", "ipycache_ext")
    manager = ip.magics_manager
    assert "MemoMagics" not in manager.registry
    for kind, names in MemoMagics.magics.items():
        for name in names:
            assert name not in manager.magics[kind], f"%{name} ({kind}) is still registered"


def test_unload_ext_removes_the_settings_object(ip: Any) -> None:
    loaded = ip.magics_manager.registry["MemoMagics"]
    ip.run_line_magic("unload_ext", "ipycache_ext")
    assert loaded not in ip.configurables


def test_unload_ext_sends_notes_back_to_stderr(ip: Any) -> None:
    ip.run_line_magic("unload_ext", "ipycache_ext")
    cell = run_cell(ip, "from ipycache_ext import memo\n@memo\ndef f(x):\n    return x\nf(1)")
    assert cell.notes(MISS) == []
    assert MISS in cell.stderr


def test_unload_ext_keeps_a_memo_the_user_imported_before_loading(bare_shell: Any) -> None:
    run_cell(bare_shell, "from ipycache_ext import memo")
    bare_shell.run_line_magic("load_ext", "ipycache_ext")
    bare_shell.run_line_magic("unload_ext", "ipycache_ext")
    assert bare_shell.user_ns.get("memo") is memo


def test_unload_ext_keeps_a_user_variable_named_memo(bare_shell: Any) -> None:
    run_cell(bare_shell, "memo = 'my notes'")
    bare_shell.run_line_magic("load_ext", "ipycache_ext")
    bare_shell.run_line_magic("unload_ext", "ipycache_ext")
    assert bare_shell.user_ns.get("memo") == "my notes"


def test_extension_loads_again_after_unload(ip: Any) -> None:
    ip.run_line_magic("unload_ext", "ipycache_ext")
    ip.run_line_magic("load_ext", "ipycache_ext")
    assert ip.user_ns["memo"] is memo
    cell = run_cell(ip, "@memo\ndef f(x):\n    return x\nf(1)")
    assert len(cell.notes(MISS)) == 1


def test_memo_import_works_in_a_cell_without_the_extension(bare_shell: Any) -> None:
    tally = with_tally(bare_shell)
    cell = run_cell(
        bare_shell,
        "from ipycache_ext import memo\n@memo\ndef f(x):\n    return tally(x)\nf(1)\nf(1)",
    )
    assert cell.error is None
    assert tally.runs == [1]


# ----- %config MemoMagics.notes -----------------------------------------------------------


def test_notes_false_turns_miss_notes_off(ip: Any) -> None:
    run_cell(ip, "%config MemoMagics.notes = False")
    cell = run_cell(ip, "@memo\ndef f(x):\n    return x\nf(1)\nf(2)")
    assert cell.notes(MISS) == []
    assert MISS not in cell.stdout + cell.stderr


def test_notes_false_still_shows_the_output_warning(ip: Any) -> None:
    run_cell(ip, "%config MemoMagics.notes = False")
    cell = run_cell(ip, "@memo\ndef f(x):\n    print(x)\n    return x\nf(1)")
    assert len(cell.notes(WARNING)) == 1


def test_notes_false_still_shows_the_mutation_warning(ip: Any) -> None:
    run_cell(ip, "%config MemoMagics.notes = False")
    run_cell(ip, "@memo\ndef f(n):\n    return list(range(n))\nf(3).append(1)")
    cell = run_cell(ip, "f(3)")
    assert len(cell.notes(WARNING)) == 1


def test_notes_true_turns_miss_notes_back_on(ip: Any) -> None:
    run_cell(ip, "%config MemoMagics.notes = False")
    run_cell(ip, "%config MemoMagics.notes = True")
    cell = run_cell(ip, "@memo\ndef f(x):\n    return x\nf(1)")
    assert len(cell.notes(MISS)) == 1


def test_notes_setting_reaches_the_engine(ip: Any) -> None:
    run_cell(ip, "%config MemoMagics.notes = False")
    assert SETTINGS.notes is False


# ----- notes and warnings in cells --------------------------------------------------------


def test_miss_note_is_displayed_with_text_and_html(ip: Any) -> None:
    cell = run_cell(ip, "@memo\ndef f(x):\n    return x\nf(1)")
    [note] = [o for o in cell.outputs if MISS in o.data.get("text/plain", "")]
    assert "f(1)" in note.data["text/plain"]
    assert "\n" not in note.data["text/plain"].strip()
    assert "text/html" in note.data


def test_miss_note_goes_to_display_not_to_stdout(ip: Any) -> None:
    cell = run_cell(ip, "@memo\ndef f(x):\n    return x\nf(1)")
    assert MISS not in cell.stdout
    assert MISS not in cell.stderr


def test_hit_shows_no_miss_note(ip: Any) -> None:
    run_cell(ip, "@memo\ndef f(x):\n    return x\nf(1)")
    cell = run_cell(ip, "f(1)")
    assert cell.notes(MISS) == []


def test_miss_note_says_which_argument_changed(ip: Any) -> None:
    run_cell(ip, "@memo\ndef f(x):\n    return x\nf(1)")
    [note] = run_cell(ip, "f(2)").notes(MISS)
    assert "argument x changed (1 -> 2)" in note


def test_output_warning_when_memoized_function_displays(ip: Any) -> None:
    cell = run_cell(
        ip,
        "from IPython.display import display\n"
        "@memo\ndef f(x):\n    display('a table')\n    return x\nf(1)",
    )
    assert len(cell.notes(WARNING)) == 1
    assert any("a table" in text for text in cell.texts())


def test_output_warning_when_memoized_function_prints(ip: Any) -> None:
    cell = run_cell(ip, "@memo\ndef f(x):\n    print('rows', x)\n    return x\nf(1)")
    assert "rows 1" in cell.stdout
    [warning] = cell.notes(WARNING)
    assert "suppress_warning=True" in warning


def test_suppress_warning_silences_the_display_warning(ip: Any) -> None:
    cell = run_cell(
        ip,
        "from IPython.display import display\n"
        "@memo(suppress_warning=True)\ndef f(x):\n    display('a table')\n    return x\nf(1)",
    )
    assert cell.notes(WARNING) == []


def test_cell_that_displays_around_a_quiet_function_gets_no_warning(ip: Any) -> None:
    cell = run_cell(
        ip,
        "from IPython.display import display\n"
        "@memo\ndef f(x):\n    return x\ndisplay('before')\nf(1)\ndisplay('after')",
    )
    assert cell.notes(WARNING) == []


def test_mutation_warning_in_a_later_cell(ip: Any) -> None:
    run_cell(ip, "@memo\ndef f(n):\n    return list(range(n))\nrows = f(3)")
    run_cell(ip, "rows.append(99)")
    cell = run_cell(ip, "again = f(3)")
    [warning] = cell.notes(WARNING)
    assert "copy.deepcopy" in warning
    assert ip.user_ns["again"] is ip.user_ns["rows"]


# ----- notebook edits across cells --------------------------------------------------------


def test_redefining_a_function_with_only_comments_changed_hits(ip: Any) -> None:
    tally = with_tally(ip)
    run_cell(ip, "@memo\ndef f(x):\n    return tally(x * 2)\nf(4)")
    run_cell(ip, "# tuned\n\n@memo\ndef f(x):\n    # doubled\n    return tally(x * 2)  # ok\nf(4)")
    assert tally.runs == [8]


def test_redefining_a_function_with_a_changed_body_misses(ip: Any) -> None:
    tally = with_tally(ip)
    run_cell(ip, "@memo\ndef f(x):\n    return tally(x * 2)\nf(4)")
    cell = run_cell(ip, "@memo\ndef f(x):\n    return tally(x * 3)\nf(4)")
    assert tally.runs == [8, 12]
    assert "code of f changed" in cell.notes(MISS)[0]


def test_changed_inner_function_in_another_cell_misses_outer(ip: Any) -> None:
    tally = with_tally(ip)
    run_cell(ip, "def helper(x):\n    return x + 1")
    run_cell(ip, "@memo\ndef outer(x):\n    return tally(helper(x))\nouter(1)")
    run_cell(ip, "def helper(x):\n    return x + 100")
    cell = run_cell(ip, "outer(1)")
    assert tally.runs == [2, 101]
    assert "code of helper changed" in cell.notes(MISS)[0]


def test_changed_global_in_another_cell_misses(ip: Any) -> None:
    tally = with_tally(ip)
    run_cell(ip, "factor = 2\n@memo\ndef f(x):\n    return tally(x * factor)\nf(5)")
    run_cell(ip, "factor = 3")
    cell = run_cell(ip, "f(5)")
    assert tally.runs == [10, 15]
    assert "global factor" in cell.notes(MISS)[0]


def test_changed_attribute_in_another_cell_misses_and_unrelated_one_hits(ip: Any) -> None:
    tally = with_tally(ip)
    run_cell(
        ip,
        "class Cfg:\n    threshold = 0.5\n    label = 'a'\ncfg = Cfg()\n"
        "@memo\ndef f(xs):\n    return tally([x for x in xs if x > cfg.threshold])\n"
        "f([0.1, 0.9])",
    )
    run_cell(ip, "cfg.label = 'b'\nf([0.1, 0.9])")
    run_cell(ip, "cfg.threshold = 0.0\nf([0.1, 0.9])")
    assert tally.runs == [[0.9], [0.1, 0.9]]


def test_async_memoized_function_awaited_in_cells_runs_once(ip: Any) -> None:
    tally = with_tally(ip)
    run_cell(
        ip,
        "import asyncio\n@memo\nasync def fetch(x):\n    await asyncio.sleep(0)\n"
        "    return tally(x)",
    )
    first = run_cell(ip, "a = await fetch(1)")
    second = run_cell(ip, "b = await fetch(1)")
    assert first.error is None and second.error is None
    assert ip.user_ns["a"] == ip.user_ns["b"] == 1
    assert tally.runs == [1]


def test_hash_funcs_by_main_qualified_name_in_cells(ip: Any) -> None:
    tally = with_tally(ip)
    run_cell(
        ip,
        "import threading\n"
        "class Conn:\n    def __init__(self, url):\n"
        "        self.url = url\n        self.lock = threading.Lock()\n"
        "@memo(hash_funcs={'__main__.Conn': lambda c: c.url})\n"
        "def rows(conn):\n    return tally(conn.url)",
    )
    cell = run_cell(ip, "rows(Conn('a'))\nrows(Conn('a'))\nrows(Conn('b'))")
    assert cell.error is None
    assert tally.runs == ["a", "b"]


def test_positional_and_keyword_calls_share_one_entry_in_cells(ip: Any) -> None:
    tally = with_tally(ip)
    run_cell(ip, "@memo\ndef f(a, b):\n    return tally((a, b))")
    run_cell(ip, "f(2, 21)\nf(2, b=21)\nf(a=2, b=21)")
    assert tally.runs == [(2, 21)]


# ----- errors -----------------------------------------------------------------------------


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_unhashable_argument_error_renders_as_one_line(ip: Any) -> None:
    run_cell(ip, "import threading\n@memo\ndef query(conn):\n    return 1")
    cell = run_cell(ip, "query(threading.Lock())")
    assert type(cell.error).__name__ == "UnhashableTypeError"
    [line] = error_lines(cell.stdout + cell.stderr)
    assert line.startswith("UnhashableTypeError: ")
    assert "argument conn" in line
    assert "Traceback" not in cell.stdout + cell.stderr


def test_unhashable_global_error_renders_as_one_line(ip: Any) -> None:
    cell = run_cell(
        ip, "import threading\ndb = threading.Lock()\n@memo\ndef query():\n    return db\nquery()"
    )
    [line] = error_lines(cell.stdout + cell.stderr)
    assert line.startswith("UnhashableTypeError: ")
    assert "global db" in line


def test_user_hash_error_renders_as_one_line(ip: Any) -> None:
    cell = run_cell(
        ip,
        "class Conn:\n    pass\n"
        "def broken(c):\n    raise ValueError('no url')\n"
        "@memo(hash_funcs={Conn: broken})\ndef query(conn):\n    return 1\n"
        "query(Conn())",
    )
    assert type(cell.error).__name__ == "UserHashError"
    [line] = error_lines(cell.stdout + cell.stderr)
    assert line.startswith("UserHashError: ")
    assert "Conn" in line


def test_error_in_a_cell_caches_nothing(ip: Any) -> None:
    tally = with_tally(ip)
    run_cell(ip, "import threading\n@memo\ndef query(conn):\n    return tally(1)")
    run_cell(ip, "query(threading.Lock())")
    assert tally.runs == []
    assert ip.user_ns["query"].cache_info().currsize == 0


def test_function_error_shows_a_normal_traceback(ip: Any) -> None:
    run_cell(ip, "@memo\ndef f(x):\n    return 1 / x")
    cell = run_cell(ip, "f(0)")
    assert isinstance(cell.error, ZeroDivisionError)
    assert "Traceback" in cell.stdout or "ZeroDivisionError" in cell.stdout


# ----- property-based, through the shell --------------------------------------------------


@settings(max_examples=40)
@given(values, values)
def test_property_shell_hits_for_a_deep_copy_and_misses_for_a_changed_value(
    ip: Any, value: Any, other: Any
) -> None:
    assume(not same(value, other))
    if "f" not in ip.user_ns:
        with_tally(ip)
        run_cell(ip, "%config MemoMagics.notes = False")
        run_cell(
            ip, "import copy\n@memo(allow_output_mutation=True)\ndef f(x):\n    return tally(x)"
        )
    ip.push({"v": value, "w": other, "v_copy": copy.deepcopy(value)})
    cell = run_cell(ip, "r1 = f(v)\nr2 = f(v_copy)\nr3 = f(w)")
    assert cell.error is None
    ns = ip.user_ns
    assert ns["r1"] == ns["r2"]
    assert ns["r3"] != ns["r1"]


@settings(max_examples=25)
@given(values)
def test_property_shell_value_built_in_a_cell_hits_its_deep_copy(ip: Any, value: Any) -> None:
    if "g" not in ip.user_ns:
        with_tally(ip)
        run_cell(ip, "%config MemoMagics.notes = False")
        run_cell(
            ip,
            "import copy\nfrom dataclasses import dataclass\n"
            "@dataclass\nclass Rec:\n    payload: object\n"
            "@memo(allow_output_mutation=True)\ndef g(rec):\n    return tally(rec)",
        )
    ip.push({"v": value})
    cell = run_cell(ip, "a = g(Rec(v))\nb = g(copy.deepcopy(Rec(v)))")
    assert cell.error is None
    assert ip.user_ns["a"] is ip.user_ns["b"]
