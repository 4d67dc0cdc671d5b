"""%%memo, %memo, %memo_info and %memo_clear in a real InteractiveShell.

A cell counts its runs in ``_runs``, a :class:`conftest.RunLog` whose pickled state is
empty: the counter is an input of the cell that appending to does not change.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import run_cell

LOAD = """
from conftest import RunLog
_runs = RunLog()
n = 3
def load(k):
    return list(range(k))
"""

CELL = """%%memo
_runs.append(1)
data = load(n)
print("loaded", len(data))
total = sum(data)
total
"""


def hits(cell: Any) -> list[str]:
    return cell.notes("cache hit")


def misses(cell: Any) -> list[str]:
    return cell.notes("cache miss")


def test_second_run_is_a_hit_that_restores_names_by_reference(ip: Any) -> None:
    run_cell(ip, LOAD)
    first = run_cell(ip, CELL)
    data = ip.user_ns["data"]
    run_cell(ip, "data = None; total = None")
    second = run_cell(ip, CELL)
    assert ip.user_ns["_runs"] == [1]
    assert ip.user_ns["data"] is data
    assert ip.user_ns["total"] == 3
    assert misses(first) and not hits(first)
    assert hits(second) and not misses(second)
    assert "data" in hits(second)[0] and "total" in hits(second)[0]


def test_last_expression_is_the_cell_result_on_miss_and_hit(ip: Any) -> None:
    run_cell(ip, LOAD)
    assert run_cell(ip, CELL).result.result == 3
    assert run_cell(ip, CELL).result.result == 3


def test_output_is_replayed_in_order_with_mime_types(ip: Any) -> None:
    cell = """%%memo
    import sys
    from IPython.display import HTML, display
    print("before")
    display(HTML("<b>table</b>"))
    print("to stderr", file=sys.stderr)
    display({"text/plain": "plain", "image/png": "iVBORw0KGgo="}, raw=True)
    """
    first = run_cell(ip, cell)
    second = run_cell(ip, cell)
    assert second.stdout == first.stdout == "before\n"
    assert second.stderr == first.stderr == "to stderr\n"
    bundles = [o.data for o in second.outputs if "cache" not in o.data.get("text/plain", "")]
    assert bundles == [o.data for o in first.outputs if "cache" not in o.data["text/plain"]]
    assert "text/html" in bundles[0] and bundles[1]["image/png"] == "iVBORw0KGgo="


def test_comment_and_formatting_edits_keep_the_entry(ip: Any) -> None:
    run_cell(ip, LOAD)
    run_cell(ip, CELL)
    edited = """%%memo
    # load the data (comment added)
    _runs.append( 1 )

    data = load( n )   # and a trailing comment
    print( "loaded", len(data) )
    total = sum(data)
    total
    """
    again = run_cell(ip, edited)
    assert ip.user_ns["_runs"] == [1]
    assert hits(again)


def test_changed_variable_misses_and_says_which(ip: Any) -> None:
    run_cell(ip, LOAD)
    run_cell(ip, CELL)
    run_cell(ip, "n = 4")
    cell = run_cell(ip, CELL)
    assert ip.user_ns["total"] == 6
    assert "variable n changed (3 -> 4)" in misses(cell)[0]


def test_changed_code_misses_and_says_the_cell_code_changed(ip: Any) -> None:
    run_cell(ip, LOAD)
    run_cell(ip, CELL)
    cell = run_cell(ip, CELL.replace("sum(data)", "sum(data) + 1"))
    assert ip.user_ns["total"] == 4
    assert "the cell's code changed" in misses(cell)[0]


def test_changed_called_function_misses_and_names_it(ip: Any) -> None:
    run_cell(ip, LOAD)
    run_cell(ip, CELL)
    run_cell(ip, "def load(k):\n    return list(range(k * 2))")
    cell = run_cell(ip, CELL)
    assert ip.user_ns["total"] == 15
    assert "the code of load changed" in misses(cell)[0]


def test_global_read_by_a_called_function_counts(ip: Any) -> None:
    run_cell(ip, "from conftest import RunLog\n_runs = RunLog()\nscale = 2")
    run_cell(ip, "def load(k):\n    return [i * scale for i in range(k)]")
    cell = "%%memo\n_runs.append(1)\nout = load(3)"
    run_cell(ip, cell)
    run_cell(ip, cell)
    assert ip.user_ns["_runs"] == [1]
    run_cell(ip, "scale = 3")
    third = run_cell(ip, cell)
    assert ip.user_ns["out"] == [0, 3, 6]
    assert "global scale (read by load) changed (2 -> 3)" in misses(third)[0]


def test_names_read_inside_functions_the_cell_defines_count(ip: Any) -> None:
    run_cell(ip, "from conftest import RunLog\n_runs = RunLog()\nk = 1")
    cell = "%%memo\n_runs.append(1)\ndef g():\n    return k + 1\nres = g()"
    run_cell(ip, cell)
    run_cell(ip, "k = 5")
    run_cell(ip, cell)
    assert ip.user_ns["res"] == 6
    assert ip.user_ns["_runs"] == [1, 1]


def test_name_bound_before_it_is_read_is_internal(ip: Any) -> None:
    cell = "%%memo\ninner = 10\nouter = inner * 2"
    run_cell(ip, cell)
    run_cell(ip, "inner = 99")
    again = run_cell(ip, cell)
    assert hits(again)
    assert ip.user_ns["inner"] == 10 and ip.user_ns["outer"] == 20


def test_name_bound_only_in_a_branch_is_still_read_afterwards(ip: Any) -> None:
    run_cell(ip, "flag = False\nv = 1")
    cell = "%%memo\nif flag:\n    v = 100\nout = v"
    run_cell(ip, cell)
    assert ip.user_ns["out"] == 1
    run_cell(ip, "v = 2")
    run_cell(ip, cell)
    assert ip.user_ns["out"] == 2


def test_every_kind_of_binding_is_restored(ip: Any) -> None:
    cell = """%%memo
    import json as js
    from os import path as osp
    a = 1
    a += 1
    for i in range(3):
        pass
    with open(__file__ if False else "/dev/null") as fh:
        pass
    def fn():
        return 1
    class K:
        pass
    (w := 7)
    """
    run_cell(ip, cell)
    names = ["js", "osp", "a", "i", "fh", "fn", "K", "w"]
    saved = {name: ip.user_ns[name] for name in names}
    run_cell(ip, "del " + ", ".join(names))
    again = run_cell(ip, cell)
    assert hits(again)
    for name in names:
        assert ip.user_ns[name] is saved[name], name


def test_deleted_names_are_deleted_again_on_a_hit(ip: Any) -> None:
    run_cell(ip, "old = 1")
    cell = "%%memo\nkeep = 5\ndel old"
    run_cell(ip, cell)
    run_cell(ip, "old = 1")
    again = run_cell(ip, cell)
    assert hits(again)
    assert "old" not in ip.user_ns


def test_a_variable_the_cell_mutates_in_place_is_restored(ip: Any) -> None:
    run_cell(ip, "items = [1, 2]")
    cell = "%%memo\nitems.append(3)\ncount = len(items)"
    run_cell(ip, cell)
    kept = ip.user_ns["items"]
    run_cell(ip, "items = [1, 2]")
    again = run_cell(ip, cell)
    assert hits(again)
    assert ip.user_ns["items"] is kept and ip.user_ns["count"] == 3


def test_ipython_syntax_inside_the_cell_works(ip: Any) -> None:
    cell = "%%memo\nlines = !echo hello\nw = %pwd\nfirst = lines[0]"
    run_cell(ip, cell)
    assert ip.user_ns["first"] == "hello"
    run_cell(ip, "first = None")
    again = run_cell(ip, cell)
    assert hits(again) and ip.user_ns["first"] == "hello"


def test_a_cell_that_raises_caches_nothing(ip: Any) -> None:
    run_cell(ip, "from conftest import RunLog\n_runs = RunLog()")
    cell = "%%memo\n_runs.append(1)\nx = 1 / 0"
    assert isinstance(run_cell(ip, cell).error, ZeroDivisionError)
    assert isinstance(run_cell(ip, cell).error, ZeroDivisionError)
    assert ip.user_ns["_runs"] == [1, 1]


def test_an_interrupted_cell_caches_nothing(ip: Any) -> None:
    run_cell(ip, "from conftest import RunLog\n_runs = RunLog()")
    cell = "%%memo\n_runs.append(1)\nx = 1\nraise KeyboardInterrupt"
    run_cell(ip, cell)
    run_cell(ip, cell)
    assert ip.user_ns["_runs"] == [1, 1]


def test_mutation_in_a_later_cell_is_warned_naming_the_variable(ip: Any) -> None:
    cell = "%%memo\nrows = [1, 2, 3]"
    run_cell(ip, cell)
    run_cell(ip, "rows.append(4)")
    again = run_cell(ip, cell)
    warnings = again.notes("warning")
    assert len(warnings) == 1
    assert "variable rows" in warnings[0] and "--allow-mutation" in warnings[0]
    assert "copy" in warnings[0]


def test_allow_mutation_skips_the_check(ip: Any) -> None:
    cell = "%%memo --allow-mutation\nrows = [1, 2, 3]"
    run_cell(ip, cell)
    run_cell(ip, "rows.append(4)")
    again = run_cell(ip, cell)
    assert hits(again) and not again.notes("warning")


def test_bad_option_is_a_one_line_usage_error_and_the_cell_does_not_run(ip: Any) -> None:
    run_cell(ip, "from conftest import RunLog\n_runs = RunLog()")
    cell = run_cell(ip, "%%memo --bogus\n_runs.append(1)")
    assert ip.user_ns["_runs"] == []
    assert "UsageError" in cell.stderr and "--bogus" in cell.stderr
    assert "Traceback" not in cell.stderr
    bad_ttl = run_cell(ip, "%%memo --ttl -1\n_runs.append(1)")
    assert ip.user_ns["_runs"] == [] and "UsageError" in bad_ttl.stderr


def test_help_shows_usage(ip: Any) -> None:
    cell = run_cell(ip, "%%memo?")
    shown = cell.stdout + "".join(cell.texts())
    for option in ("--allow-mutation", "--ttl", "--quiet", "--name"):
        assert option in shown


def test_one_statement_form(ip: Any) -> None:
    run_cell(ip, LOAD)
    run_cell(ip, "def loud(k):\n    print('loud ran')\n    return k * 2")
    first = run_cell(ip, "%memo df = loud(n)")
    second = run_cell(ip, "%memo df = loud(n)")
    assert ip.user_ns["df"] == 6
    assert first.stdout == second.stdout == "loud ran\n"
    assert misses(first) and hits(second)
    assert run_cell(ip, "%memo df").result.result == 6
    quiet = run_cell(ip, "%memo --quiet df = loud(n)")
    assert not quiet.notes("ipycache") and quiet.stdout == "loud ran\n"


def test_quiet_cell_shows_no_notes(ip: Any) -> None:
    cell = "%%memo --quiet\nq = 1"
    assert not run_cell(ip, cell).notes("ipycache")
    assert not run_cell(ip, cell).notes("ipycache")


def test_ttl_expires(ip: Any) -> None:
    run_cell(ip, "from conftest import RunLog\n_runs = RunLog()")
    cell = "%%memo --ttl 0.05\n_runs.append(1)"
    run_cell(ip, cell)
    run_cell(ip, "import time; time.sleep(0.1)")
    run_cell(ip, cell)
    assert ip.user_ns["_runs"] == [1, 1]


def test_notes_off_through_config(ip: Any) -> None:
    run_cell(ip, "%config MemoMagics.notes = False")
    cell = "%%memo\nz = 1"
    assert not run_cell(ip, cell).notes("cache")
    assert not run_cell(ip, cell).notes("cache")


def test_unhashable_read_is_one_clear_line_and_underscore_names_are_left_out(ip: Any) -> None:
    run_cell(ip, "import threading\nlock = threading.Lock()\n_lock = lock")
    bad = run_cell(ip, "%%memo\nheld = lock.locked()")
    shown = bad.stdout + bad.stderr
    assert "UnhashableTypeError" in shown and "variable lock" in shown and "_lock" in shown
    assert "Traceback" not in shown and "held" not in ip.user_ns
    good = run_cell(ip, "%%memo\nheld = _lock.locked()")
    assert good.error is None and ip.user_ns["held"] is False


def test_memo_info_lists_functions_and_cells(ip: Any) -> None:
    run_cell(ip, "@memo\ndef sq(x):\n    return x * x\nsq(2); sq(2)")
    run_cell(ip, "%%memo --name loader\nv = [1, 2, 3]")
    table = ip.run_line_magic("memo_info", "")
    text = repr(table)
    assert "sq" in text and "loader" in text
    row = next(line for line in text.splitlines() if line.startswith("sq"))
    assert row.split()[1:5] == ["function", "1", "1", "1"]
    assert "<table>" in table._repr_html_()


def test_memo_info_says_why_the_last_miss_missed_even_with_notes_off(ip: Any) -> None:
    run_cell(ip, "%config MemoMagics.notes = False")
    run_cell(ip, "SCALE = 3\n@memo\ndef sq(x):\n    return x * x * SCALE\nsq(2); sq(5); sq(7)")
    assert "argument x changed (5 -> 7)" in repr(ip.run_line_magic("memo_info", ""))
    run_cell(ip, "SCALE = 4\nsq(6)")
    assert "SCALE" in repr(ip.run_line_magic("memo_info", ""))


def test_memo_clear_one_or_all(ip: Any) -> None:
    run_cell(ip, "from conftest import RunLog\n_runs = RunLog()")
    a = "%%memo --name a\n_runs.append('a')"
    b = "%%memo --name b\n_runs.append('b')"
    for cell in (a, b):
        run_cell(ip, cell)
    run_cell(ip, "%memo_clear a")
    run_cell(ip, a)
    run_cell(ip, b)
    assert ip.user_ns["_runs"] == ["a", "b", "a"]
    run_cell(ip, "%memo_clear")
    run_cell(ip, b)
    assert ip.user_ns["_runs"] == ["a", "b", "a", "b"]
    unknown = run_cell(ip, "%memo_clear nope")
    assert "UsageError" in unknown.stderr and "nope" in unknown.stderr


def test_cell_key_ignores_ipython_history_names(ip: Any) -> None:
    cell = "%%memo\nr = 5\nr"
    run_cell(ip, cell)
    run_cell(ip, "123")
    assert hits(run_cell(ip, cell))


@pytest.mark.parametrize("statement", ["%memo", "%memo --quiet"])
def test_empty_statement_is_a_usage_error(ip: Any, statement: str) -> None:
    cell = run_cell(ip, statement)
    assert "UsageError" in cell.stderr
