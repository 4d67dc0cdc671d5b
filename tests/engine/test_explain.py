"""A dry run of a call or a cell (``f.explain``, ``%memo_explain``, ``%%memo --explain``),
removing the one entry of a call (``f.clear``, ``%memo_clear f(...)``) and the entries
of one function listed by ``%memo_info NAME``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from conftest import Notes, Tally, define, run_cell
from persist_support import forget_memory

from ipycache_ext.admin import Explanation
from ipycache_ext.messages import PREFIX, InfoTable

WOULD_HIT = f"[{PREFIX}] would hit"
WOULD_MISS = f"[{PREFIX}] would miss"


def multiply(ns: dict[str, Any], tally: Tally, **options: Any) -> Any:
    ns["tally"], ns["options"] = tally, options
    define(
        ns,
        """
        scale = 1

        @memo(**options)
        def f(a, b):
            tally((a, b))
            return [a * b * scale]
        """,
    )
    return ns["f"]


def why(text: str) -> str:
    """The reasons in a miss note (after its duration) or in a would-miss note."""
    found = re.search(r"(?: in [\d.]+ \S+| would run) \((.*)\)$", text)
    assert found is not None, text
    return found.group(1)


# ----- f.explain ------------------------------------------------------------------------------


def test_explain_before_any_call_says_it_would_miss_as_a_first_call(ns: dict, tally: Tally) -> None:
    f = multiply(ns, tally)
    found = f.explain(2, 21)
    assert not found.would_hit
    assert repr(found) == f"{WOULD_MISS}: f(2, 21) would run (first call)"


def test_explain_runs_nothing_and_counts_nothing(ns: dict, tally: Tally) -> None:
    f = multiply(ns, tally)
    f(2, 21)
    f.explain(2, 21)
    f.explain(2, 210)
    assert tally.runs == [(2, 21)]
    assert f.cache_info().hits == 0 and f.cache_info().misses == 1


def test_explain_after_a_call_says_would_hit_with_age_size_and_hits(ns: dict, tally: Tally) -> None:
    f = multiply(ns, tally)
    f(2, 21)
    f(2, 21)
    found = f.explain(2, 21)
    assert found.would_hit and found.where is None
    assert found.hits == 1 and found.size > 0 and found.age is not None
    assert repr(found).startswith(f"{WOULD_HIT}: f(2, 21) is stored in memory (stored ")
    assert repr(found).endswith(", 1 hit)")


def test_explain_says_which_argument_would_miss_in_the_miss_notes_words(
    ns: dict, tally: Tally, notes: Notes
) -> None:
    f = multiply(ns, tally)
    f(2, 21)
    found = f.explain(2, 210)
    assert repr(found) == f"{WOULD_MISS}: f(2, 210) would run (argument b changed (21 -> 210))"
    f(2, 210)
    assert why(notes.texts("miss")[-1]) == why(repr(found))


def test_explain_names_a_changed_global(ns: dict, tally: Tally, notes: Notes) -> None:
    f = multiply(ns, tally)
    f(2, 21)
    ns["scale"] = 10
    found = f.explain(2, 21)
    assert "global scale changed (1 -> 10)" in repr(found)
    f(2, 21)
    assert why(notes.texts("miss")[-1]) == why(repr(found))


def test_explanation_has_text_and_html_reprs(ns: dict, tally: Tally) -> None:
    f = multiply(ns, tally)
    found = f.explain(2, 21)
    assert isinstance(found, Explanation)
    assert "<b>would miss</b>" in found._repr_html_()
    assert "<code>f(2, 21)</code>" in found._repr_html_()


def test_explain_finds_an_entry_in_the_persistent_store_without_loading_it_into_memory(
    ns: dict, tally: Tally, store: Path
) -> None:
    f = multiply(ns, tally, persist=True)
    f(2, 21)
    forget_memory()  # as in a new kernel: only the store has it
    found = f.explain(2, 21)
    assert found.would_hit and found.where == str(store)
    assert repr(found).startswith(f"{WOULD_HIT}: f(2, 21) would be loaded from {store} (")
    assert f.cache_info().currsize == 0
    assert tally.runs == [(2, 21)]


def test_explain_says_validate_would_reject_the_entry(ns: dict, tally: Tally) -> None:
    ns["ok"] = True
    define(ns, "check = lambda value: ok")
    f = multiply(ns, tally, validate=ns["check"])
    f(2, 21)
    ns["ok"] = False
    assert repr(f.explain(2, 21)) == (
        f"{WOULD_MISS}: f(2, 21) would run (validate rejected its stored entry)"
    )


# ----- f.clear ----------------------------------------------------------------------------


def test_clear_with_arguments_removes_only_that_entry(ns: dict, tally: Tally) -> None:
    f = multiply(ns, tally)
    f(2, 21)
    f(2, 210)
    assert f.clear(2, b=21) is True
    assert f.clear(2, 21) is False
    f(2, 210)
    f(2, 21)
    assert tally.runs == [(2, 21), (2, 210), (2, 21)]


def test_clear_with_arguments_removes_the_persisted_entry_too(
    ns: dict, tally: Tally, store: Path
) -> None:
    f = multiply(ns, tally, persist=True)
    f(2, 21)
    f(2, 210)
    f.clear(2, 21)
    forget_memory()  # as in a new kernel
    f(2, 210)
    f(2, 21)
    assert tally.runs == [(2, 21), (2, 210), (2, 21)]


def test_cache_clear_still_removes_every_entry(ns: dict, tally: Tally) -> None:
    f = multiply(ns, tally)
    f(2, 21)
    f(2, 210)
    f.cache_clear()
    assert f.cache_info().currsize == 0


# ----- the magics ---------------------------------------------------------------------------


def shell_multiply(ip: Any) -> Tally:
    tally = Tally()
    ip.push({"tally": tally})
    cell = run_cell(
        ip,
        """
        @memo
        def f(a, b):
            tally((a, b))
            return [a * b]

        class Box:
            @memo
            def times(self, n):
                tally(n)
                return n * 2

        a, b = 2, 21
        """,
    )
    assert cell.error is None
    return tally


def test_memo_explain_evaluates_the_arguments_but_does_not_call(ip: Any) -> None:
    tally = shell_multiply(ip)
    run_cell(ip, "f(2, 21)")
    cell = run_cell(ip, "%memo_explain f(a, b=b * 10)")
    assert cell.error is None
    assert repr(cell.result.result) == (
        f"{WOULD_MISS}: f(2, b=210) would run (argument b changed (21 -> 210))"
    )
    assert tally.runs == [(2, 21)]


def test_memo_explain_says_would_hit_for_a_stored_call(ip: Any) -> None:
    shell_multiply(ip)
    run_cell(ip, "f(2, 21)")
    cell = run_cell(ip, "%memo_explain f(*[a], **{'b': b})")
    assert cell.result.result.would_hit


def test_memo_explain_of_a_method_takes_the_instance_as_an_argument(ip: Any) -> None:
    tally = shell_multiply(ip)
    run_cell(ip, "box = Box()\nbox.times(3)")
    cell = run_cell(ip, "%memo_explain box.times(3)")
    assert cell.result.result.would_hit
    assert tally.runs == [3]


def test_memo_explain_of_a_function_without_memo_is_a_one_line_error(ip: Any) -> None:
    shell_multiply(ip)
    cell = run_cell(ip, "%memo_explain len('abc')")
    assert "%memo_explain: len is not a @memo function" in cell.stderr


def test_memo_explain_of_something_not_a_call_is_a_one_line_error(ip: Any) -> None:
    shell_multiply(ip)
    cell = run_cell(ip, "%memo_explain f")
    assert "%memo_explain needs a call of a @memo function" in cell.stderr


def test_memo_explain_cell_runs_nothing_and_says_would_miss_then_would_hit(ip: Any) -> None:
    tally = shell_multiply(ip)
    body = "%%memo --explain\nz = tally(a) + b\n"
    first = run_cell(ip, body)
    assert repr(first.result.result) == f"{WOULD_MISS}: cell [z] would run (first call)"
    assert tally.runs == [] and "z" not in ip.user_ns
    run_cell(ip, "%%memo\nz = tally(a) + b\n")
    again = run_cell(ip, body)
    assert again.result.result.would_hit
    assert tally.runs == [2]


def test_memo_explain_cell_names_the_changed_variable(ip: Any) -> None:
    shell_multiply(ip)
    run_cell(ip, "%%memo\nz = a + b\n")
    run_cell(ip, "b = 22")
    cell = run_cell(ip, "%%memo --explain\nz = a + b\n")
    assert repr(cell.result.result) == (
        f"{WOULD_MISS}: cell [z] would run (variable b changed (21 -> 22))"
    )


def test_memo_clear_with_a_call_removes_only_that_entry(ip: Any) -> None:
    tally = shell_multiply(ip)
    run_cell(ip, "f(2, 21)\nf(2, 210)")
    cell = run_cell(ip, "%memo_clear f(a, b)")
    assert cell.notes(f"[{PREFIX}] cleared 1 entry of f(2, 21)")
    run_cell(ip, "f(2, 210)\nf(2, 21)")
    assert tally.runs == [(2, 21), (2, 210), (2, 21)]


def test_memo_clear_with_a_name_still_clears_the_whole_function(ip: Any) -> None:
    shell_multiply(ip)
    run_cell(ip, "f(2, 21)\nf(2, 210)")
    cell = run_cell(ip, "%memo_clear f")
    assert cell.notes(f"[{PREFIX}] cleared 2 entries of f")


def test_memo_info_with_a_name_lists_each_entry_with_its_arguments_age_hits_and_size(
    ip: Any,
) -> None:
    shell_multiply(ip)
    run_cell(ip, "f(2, 21)\nf(2, 21)\nf(2, 21)\nf(3, 4)")
    table = run_cell(ip, "%memo_info f").result.result
    assert isinstance(table, InfoTable)
    assert table.columns == ("entry", "age", "hits", "size", "ran in")
    by_inputs = {row[0]: row for row in table.rows}
    assert set(by_inputs) == {"a=2, b=21", "a=3, b=4"}
    assert by_inputs["a=2, b=21"][2] == "2"
    assert by_inputs["a=3, b=4"][2] == "0"
    assert by_inputs["a=2, b=21"][3].endswith("B")
    assert repr(table).splitlines()[0] == "f: 2 entries"


def test_memo_info_with_a_name_renders_as_an_html_table(ip: Any) -> None:
    shell_multiply(ip)
    run_cell(ip, "f(2, 21)")
    html = run_cell(ip, "%memo_info f").result.result._repr_html_()
    assert html.startswith("<table><caption>f: 1 entry</caption>")
    assert "<th>hits</th>" in html and "<td>a=2, b=21</td>" in html


def test_memo_info_of_a_cell_lists_the_variables_it_read(ip: Any) -> None:
    shell_multiply(ip)
    run_cell(ip, "%%memo\nz = a + b\n")
    table = run_cell(ip, "%memo_info cell [z]").result.result
    assert [row[0] for row in table.rows] == ["a=2, b=21"]


def test_memo_info_of_an_unknown_name_is_a_one_line_error(ip: Any) -> None:
    cell = run_cell(ip, "%memo_info nothing_here")
    assert "%memo_info: no memoized function or cell named 'nothing_here'" in cell.stderr
