"""``@memo(validate=...)``, ``@memo(copy=True)``, ``show_spinner`` as text, and
Streamlit's legacy ``st.cache`` option names: the seed tutorial's code runs with
``st.cache`` replaced by ``memo`` and nothing else changed."""

from __future__ import annotations

import contextlib
import sys
import time
import types
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import Notes, Tally, define, run_cell
from st_cache_tutorial import SNIPPETS

from ipycache_ext import MemoOptionError, memo, notify
from ipycache_ext.messages import PREFIX, Note

MISS = f"[{PREFIX}] cache miss"
WARNING = f"[{PREFIX}] warning"


# ----- validate ---------------------------------------------------------------------------


def connect(ns: dict, tally: Tally, check: Any) -> Any:
    ns.update(tally=tally, check=check)
    define(
        ns,
        """
        @memo(validate=check, allow_output_mutation=True)
        def connect(url):
            tally(url)
            return {"url": url, "open": True}
        """,
    )
    return ns["connect"]


def test_validate_is_called_with_the_cached_value_on_a_hit(ns: dict, tally: Tally) -> None:
    seen: list[Any] = []
    f = connect(ns, tally, lambda value: seen.append(value) or True)
    first = f("db")
    assert seen == []  # a miss is not validated: it was just computed
    assert f("db") is first
    assert seen == [first]
    assert tally.runs == ["db"]


def test_validate_returning_false_recomputes_and_the_miss_note_says_so(
    ns: dict, tally: Tally, notes: Notes
) -> None:
    f = connect(ns, tally, lambda value: value["open"])
    stale = f("db")
    stale["open"] = False  # the connection went away
    fresh = f("db")
    assert fresh is not stale and fresh["open"]
    assert tally.runs == ["db", "db"]
    assert notes.texts("miss")[-1].endswith("(validate rejected its stored entry)")
    assert f("db") is fresh


def test_validate_raising_recomputes(ns: dict, tally: Tally) -> None:
    def check(value: Any) -> bool:
        raise ConnectionError("gone")

    f = connect(ns, tally, check)
    f("db")
    f("db")
    assert tally.runs == ["db", "db"]


def test_validate_that_is_not_callable_is_an_option_error() -> None:
    with pytest.raises(MemoOptionError, match=r"option validate=True is not valid"):
        memo(validate=True)


# ----- copy -------------------------------------------------------------------------------


def loader(ns: dict, tally: Tally, make: str) -> Any:
    ns["tally"] = tally
    define(
        ns,
        f"""
        import numpy as np
        import pandas as pd

        @memo(copy=True)
        def load(n):
            tally(n)
            return {make}
        """,
    )
    return ns["load"]


def test_copy_hands_each_caller_its_own_deep_copy(ns: dict, tally: Tally, notes: Notes) -> None:
    load = loader(ns, tally, '{"rows": [[n]]}')
    first = load(1)
    first["rows"][0].append("mine")
    second = load(1)
    assert second == {"rows": [[1]]}
    second["rows"].clear()
    assert load(1) == {"rows": [[1]]}
    assert tally.runs == [1]
    assert not notes.of("warning")  # no mutation check needed, no warning


def test_copy_of_a_numpy_array_is_a_new_array_with_equal_values(ns: dict, tally: Tally) -> None:
    load = loader(ns, tally, "np.arange(n)")
    first = load(5)
    first[:] = -1
    second = load(5)
    assert isinstance(second, np.ndarray) and second is not first
    assert second.tolist() == [0, 1, 2, 3, 4]


def test_copy_of_a_dataframe_is_a_deep_copy(ns: dict, tally: Tally) -> None:
    load = loader(ns, tally, 'pd.DataFrame({"x": range(n)})')
    first = load(3)
    first.loc[0, "x"] = 99
    second = load(3)
    assert isinstance(second, pd.DataFrame) and second is not first
    assert second["x"].tolist() == [0, 1, 2]


def test_copy_stores_no_fingerprint_so_a_hit_rehashes_nothing(ns: dict, tally: Tally) -> None:
    from ipycache_ext.store.memory import STORE

    load = loader(ns, tally, "[n]")
    load(1)
    (entry,) = STORE.entries(load.owner)
    assert entry.fingerprint is None


def test_copy_that_is_not_a_bool_is_an_option_error() -> None:
    with pytest.raises(MemoOptionError, match=r"option copy='deep' is not valid"):
        memo(copy="deep")


# ----- show_spinner, Streamlit's option names --------------------------------------------------


@contextlib.contextmanager
def spinners_shown() -> Iterator[list[Note]]:
    shown: list[Note] = []

    @contextlib.contextmanager
    def spinner(make: Callable[[], Note], delay: float) -> Iterator[None]:
        shown.append(make())
        yield

    notify.set_spinner(spinner)
    try:
        yield shown
    finally:
        notify.set_spinner(None)


def test_show_spinner_text_is_what_a_running_miss_shows(ns: dict, tally: Tally) -> None:
    ns["tally"] = tally
    define(ns, '@memo(show_spinner="Loading data...")\ndef f(x):\n    return tally(x)\n')
    with spinners_shown() as shown:
        ns["f"](1)
    assert [n.text for n in shown] == [f"[{PREFIX}] Loading data..."]


def test_suppress_st_warning_is_accepted_for_suppress_warning(ns: dict, notes: Notes) -> None:
    define(ns, "@memo(suppress_st_warning=True)\ndef f(x):\n    print('ran')\n    return x\n")
    ns["f"](1)
    assert not notes.of("warning")
    assert ns["f"].options.suppress_warning is True


def test_streamlit_names_of_the_same_meaning_are_accepted() -> None:
    f = memo(
        persist=False,
        hash_funcs={},
        max_entries=3,
        ttl=60,
        show_spinner=False,
        allow_output_mutation=True,
        suppress_st_warning=True,
    )(lambda x: x)
    assert f.options.max_entries == 3 and f.options.ttl == 60.0


def test_an_alias_and_its_own_name_together_are_an_option_error() -> None:
    with pytest.raises(MemoOptionError, match="suppress_st_warning=... is another name for"):
        memo(suppress_warning=True, suppress_st_warning=True)


def test_experimental_allow_widgets_is_an_error_naming_the_supported_options() -> None:
    with pytest.raises(MemoOptionError) as raised:
        memo(experimental_allow_widgets=True)
    text = str(raised.value)
    assert text.startswith("@memo has no option experimental_allow_widgets=...: the options are")
    for name in ("allow_output_mutation", "validate", "copy", "suppress_st_warning"):
        assert name in text


# ----- the seed tutorial, st.cache replaced by memo ---------------------------------------


class StandIn(types.ModuleType):
    """A ``streamlit`` module for the tutorial's ``st.write`` and ``st.slider``: write
    prints (so a cached function that writes gets the output warning unless it is
    suppressed), slider returns the value a user picked."""

    def __init__(self) -> None:
        super().__init__("streamlit")
        self.picked = 9

    def write(self, *args: Any) -> None:
        print(*args)

    def slider(self, label: str, low: int, high: int) -> int:
        return self.picked


@pytest.fixture
def seed_app(ip: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tally]:
    """The tutorial's ``streamlit`` and a ``time.sleep`` that records instead of
    sleeping: each sleep is one run of ``expensive_computation``."""
    monkeypatch.setitem(sys.modules, "streamlit", StandIn())
    sleeps = Tally()
    monkeypatch.setattr(time, "sleep", sleeps)
    yield sleeps


def test_the_seed_tutorial_runs_with_st_cache_replaced_by_memo(seed_app: Tally, ip: Any) -> None:
    snippets = [s.replace("st.cache", "memo") for s in SNIPPETS]
    assert len(snippets) == 9 and all("st.cache" not in s for s in snippets)
    # Each snippet is the app after one edit (an argument, the body, an inner
    # function); the tutorial then reruns it (presses R), which is a hit.  The first
    # snippet has no cache: it sleeps on both runs.
    for number, snippet in enumerate(snippets):
        before = len(seed_app)
        first = run_cell(ip, snippet)
        rerun = run_cell(ip, snippet)
        assert first.error is None and rerun.error is None, snippet
        assert len(seed_app) - before == (2 if number == 0 else 1), snippet
        if number:
            assert first.notes(MISS) and not rerun.notes(MISS), snippet
        assert not any(WARNING in t and "writes output" in t for t in first.texts())
    # The last snippet mutates the cached dict: the rerun says so.
    assert any("was mutated" in t for t in rerun.texts())
    assert ip.user_ns["res"] == {"output": "result was manually mutated"}
