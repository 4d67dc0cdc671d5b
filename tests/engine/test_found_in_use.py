"""Cases found by driving a real kernel the way a user does: each once gave a stale hit,
a wrong note or a traceback.  Plain Python and a real InteractiveShell."""

from __future__ import annotations

import functools
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import Notes, run_cell

from ipycache_ext import memo


def miss_texts(notes: Notes) -> list[str]:
    return notes.texts("miss")


# ----- stale hits -----------------------------------------------------------------------


def test_helper_wrapped_in_lru_cache_is_traversed(notes: Notes) -> None:
    ns: dict[str, Any] = {"__name__": "__main__", "memo": memo, "functools": functools}
    exec(
        "@functools.lru_cache\ndef helper(x):\n    return x * 2\n"
        "@memo\ndef outer(x):\n    return helper(x) + 1\n",
        ns,
    )
    assert ns["outer"](10) == 21
    exec("@functools.lru_cache\ndef helper(x):\n    return x * 100\n", ns)
    assert ns["outer"](10) == 1001
    assert "the code of helper changed" in miss_texts(notes)[-1]


def test_private_class_attribute_is_part_of_the_key(notes: Notes) -> None:
    ns: dict[str, Any] = {"__name__": "__main__", "memo": memo}
    exec(
        "class Scaler:\n    _factor = 2\n    def scaled(self):\n        return self._factor\n"
        "@memo\ndef use(obj):\n    return obj.scaled()\n",
        ns,
    )
    scaler = ns["Scaler"]()
    assert ns["use"](scaler) == 2
    ns["Scaler"]._factor = 10
    assert ns["use"](scaler) == 10


def test_class_with_unhashable_bookkeeping_still_keys(notes: Notes) -> None:
    ns: dict[str, Any] = {"__name__": "__main__", "memo": memo, "threading": threading}
    exec(
        "import abc\nclass Base(abc.ABC):\n    _lock = threading.Lock()\n"
        "    @abc.abstractmethod\n    def go(self): ...\n"
        "class Impl(Base):\n    def go(self):\n        return 1\n"
        "@memo\ndef run(o):\n    return o.go()\n",
        ns,
    )
    assert ns["run"](ns["Impl"]()) == 1


def test_cell_reading_a_user_module_keys_on_what_it_reads(
    ip: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "qa_mod.py").write_text("CONST = 1\ndef helper(x):\n    return x * 10\n")
    run_cell(ip, "import importlib, qa_mod")
    cell = "%%memo\ncres = qa_mod.helper(2) + qa_mod.CONST\ncres"
    assert run_cell(ip, cell).result.result == 21
    (tmp_path / "qa_mod.py").write_text("CONST = 1\ndef helper(x):\n    return x * 100\n")
    run_cell(ip, "importlib.reload(qa_mod)")
    changed = run_cell(ip, cell)
    assert changed.result.result == 201
    assert "the code of helper changed" in changed.notes("cache miss")[0]
    run_cell(ip, "qa_mod.CONST = 7")
    again = run_cell(ip, cell)
    assert again.result.result == 207
    assert "variable qa_mod.CONST changed (1 -> 7)" in again.notes("cache miss")[0]


def test_lambda_parameter_does_not_hide_a_global_read_in_a_cell(ip: Any) -> None:
    run_cell(ip, "k = 3\nscores = [5, 1, 4, 2, 8]")
    cell = (
        "%%memo\ndef top_k(xs):\n    return sorted(xs, key=lambda k: -k)[:k]\n"
        "best = top_k(scores)\nbest"
    )
    assert run_cell(ip, cell).result.result == [8, 5, 4]
    run_cell(ip, "k = 1")
    assert run_cell(ip, cell).result.result == [8]


# ----- wrong or missing notes ---------------------------------------------------------------


def test_a_function_local_is_not_read_from_the_notebook(ip: Any) -> None:
    cell = "%%memo\ndef fit(data):\n    model = sum(data)\n    return model\nmodel = fit([1, 2, 3])"
    run_cell(ip, cell)
    assert run_cell(ip, cell).notes("cache hit")


def test_a_name_that_was_undefined_is_not_called_none(ip: Any) -> None:
    run_cell(ip, "flag = False")
    cell = "%%memo\nif flag:\n    v = 1\nout = v if flag else 0"
    run_cell(ip, cell)
    run_cell(ip, "v = 5")
    note = run_cell(ip, cell).notes("cache miss")[0]
    assert "variable v is now defined" in note and "None" not in note


def test_unhashable_result_warning_names_the_inner_type(notes: Notes) -> None:
    @memo
    def make() -> dict:
        return {"lock": threading.Lock(), "v": 1}

    make()
    [warning] = notes.texts("warning")
    assert "_thread.lock" in warning and "['lock']" in warning


def test_evicted_entry_is_named_as_the_reason(notes: Notes) -> None:
    @memo(max_entries=2)
    def me(x: int) -> int:
        return x

    for x in (1, 2, 3, 1):
        me(x)
    assert "evicted (max_entries)" in miss_texts(notes)[-1]


def test_expired_entry_is_named_as_the_reason(notes: Notes) -> None:
    @memo(ttl=0.01)
    def t(x: int) -> int:
        return x

    t(1)
    time.sleep(0.05)
    t(1)
    assert "expired (ttl)" in miss_texts(notes)[-1]


def test_cleared_cache_is_named_as_the_reason(notes: Notes) -> None:
    @memo
    def c(x: int) -> int:
        return x

    c(1)
    c.cache_clear()
    c(1)
    assert "cleared" in miss_texts(notes)[-1]


def test_nested_misses_of_a_recursive_function_give_one_note(notes: Notes) -> None:
    ns: dict[str, Any] = {"__name__": "__main__", "memo": memo}
    exec("@memo\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n", ns)
    assert ns["fib"](30) == 832040
    assert len(miss_texts(notes)) == 1
    assert ns["fib"](250) > 0  # two stack frames a level: deep recursion still fits


def test_keyword_order_of_var_kwargs_does_not_matter(notes: Notes, tally: Any) -> None:
    @memo
    def va(a: int, **kw: int) -> int:
        tally(a)
        return a + sum(kw.values())

    va(1, x=1, y=2)
    va(1, y=2, x=1)
    assert tally.runs == [1]


# ----- cells ------------------------------------------------------------------------------


def test_trailing_semicolon_hides_the_cell_result(ip: Any) -> None:
    cell = "%%memo\nsv = 42\nsv;"
    assert run_cell(ip, cell).result.result is None
    assert run_cell(ip, cell).result.result is None


def test_a_failing_cell_leaves_no_row_in_memo_info(ip: Any) -> None:
    run_cell(ip, "%%memo --name broken\npartial_val = 1 / 0")
    assert "broken" not in repr(ip.run_line_magic("memo_info", ""))


def test_memo_info_memory_does_not_count_imported_modules(ip: Any) -> None:
    run_cell(ip, "%%memo --name small\nimport numpy as np\ncoef = np.zeros(2)")
    row = next(
        line
        for line in repr(ip.run_line_magic("memo_info", "")).splitlines()
        if line.startswith("small")
    )
    assert " MB" not in row


def test_bad_ttl_message_names_the_cell_magic(ip: Any) -> None:
    cell = run_cell(ip, "%%memo --ttl -1\nx = 1")
    assert "%%memo option --ttl" in cell.stderr


# ----- second round ---------------------------------------------------------------------------


def test_callable_object_wrapping_a_function_is_keyed_by_its_state(notes: Notes) -> None:
    ns: dict[str, Any] = {"__name__": "__main__", "memo": memo, "functools": functools}
    exec(
        "class Scale:\n"
        "    def __init__(self, fn, k):\n"
        "        functools.update_wrapper(self, fn)\n"
        "        self.fn, self.k = fn, k\n"
        "    def __call__(self, x):\n"
        "        return self.fn(x) * self.k\n"
        "def base(x):\n    return x + 1\n"
        "sb = Scale(base, 2)\n"
        "@memo\ndef use(x):\n    return sb(x)\n",
        ns,
    )
    assert ns["use"](1) == 4
    ns["sb"].k = 10
    assert ns["use"](1) == 20


def test_singledispatch_implementations_are_traversed(notes: Notes) -> None:
    ns: dict[str, Any] = {"__name__": "__main__", "memo": memo, "functools": functools}
    exec(
        "@functools.singledispatch\ndef fmt(x):\n    return 'obj'\n"
        "@fmt.register\ndef _(x: int):\n    return f'int {x}'\n"
        "@memo\ndef show(x):\n    return fmt(x)\n",
        ns,
    )
    assert ns["show"](1) == "int 1"
    exec("@fmt.register\ndef _(x: int):\n    return f'INT {x}'\n", ns)
    assert ns["show"](1) == "INT 1"


def test_dataframe_attrs_are_part_of_its_digest() -> None:
    pd = pytest.importorskip("pandas")
    from ipycache_ext.hashing import hexdigest

    frame = pd.DataFrame({"a": [1, 2]})
    frame.attrs["unit"] = "m"
    before = hexdigest(frame)
    frame.attrs["unit"] = "km"
    assert hexdigest(frame) != before


def test_iterator_argument_is_refused_with_the_fixes(notes: Notes) -> None:
    from ipycache_ext import UnhashableTypeError

    @memo
    def consume(it: Any) -> list:
        return list(it)

    with pytest.raises(UnhashableTypeError) as caught:
        consume(iter([1, 2]))
    text = str(caught.value)
    assert "argument it" in text and "list" in text and "_it" in text and "hash_funcs" in text


def test_a_mutated_default_is_not_called_a_code_change(notes: Notes) -> None:
    ns: dict[str, Any] = {"__name__": "__main__", "memo": memo}
    exec(
        "@memo(allow_output_mutation=True)\n"
        "def md(x, acc=[]):\n    acc.append(x)\n    return len(acc)\n",
        ns,
    )
    ns["md"](1)
    ns["md"](1)
    note = miss_texts(notes)[-1]
    assert "defaults of md changed" in note and "code of md" not in note


def test_option_errors_are_one_line_memo_errors() -> None:
    from ipycache_ext import MemoOptionError

    for options in ({"ttl": -1}, {"max_entries": 0}, {"hash_funcs": {1: len}}):
        with pytest.raises(MemoOptionError):
            memo(**options)(lambda: 1)
    assert hasattr(MemoOptionError, "_render_traceback_")


def test_cell_keeps_changes_made_through_a_called_function(ip: Any) -> None:
    for _ in range(2):
        run_cell(ip, "LOG = []\ndef record(x):\n    LOG.append(x)\n    return x * 2")
        run_cell(ip, "%%memo\nrv = record(21)")
        assert ip.user_ns["LOG"] == [21] and ip.user_ns["rv"] == 42


def test_rerunning_common_cells_top_to_bottom_hits_the_second_time(
    ip: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "qa_star.py").write_text("def star_helper(x):\n    return x + 1\n")
    cells = [
        "%%memo\nfrom qa_star import *\ny = star_helper(1)",
        "%%memo\nfor i in range(3):\n    pass\nlast = i",
        "%%memo\ntry:\n    x = int('7')\nexcept ValueError:\n    x = None\nz = x",
        "%%memo\nif last > 1:\n    v = 1\nelse:\n    v = 2\nw = v",
    ]
    for cell in cells:
        assert run_cell(ip, cell).notes("cache miss")
    for cell in cells:
        assert run_cell(ip, cell).notes("cache hit"), cell


def test_persisting_a_cell_with_an_open_file_names_the_variable(ip: Any, tmp_path: Path) -> None:
    from ipycache_ext.config import SETTINGS
    from ipycache_ext.store import persistent

    SETTINGS.store, SETTINGS.secret_key = str(tmp_path / "store"), "k" * 32
    try:
        (tmp_path / "t.txt").write_text("hi")
        cell = run_cell(
            ip,
            f"%%memo --persist\nwith open({str(tmp_path / 't.txt')!r}) as f:\n    text = f.read()",
        )
        [warning] = cell.notes("warning")
        assert "f (a TextIOWrapper)" in warning and "del f" in warning
    finally:
        persistent.close()


def test_a_helper_exec_defined_without_a_module_name_is_keyed_by_its_code() -> None:
    # exec() in a fresh dict gives functions whose __module__ is None: their code
    # must still be keyed, or an edited helper hands out the old result.
    ns: dict[str, Any] = {"memo": memo}
    exec("def rows(path):\n    return 1\n@memo\ndef count(path):\n    return rows(path)\n", ns)
    assert ns["count"]("x") == 1
    exec("def rows(path):\n    return 2\n", ns)
    assert ns["count"]("x") == 2
