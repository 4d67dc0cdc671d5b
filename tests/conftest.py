"""Shared fixtures: a clean cache per test, notes collected in plain Python, and one
IPython shell for the whole session with the extension loaded and unloaded per test."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from ipycache_ext import config, memo, notify
from ipycache_ext.messages import Note

# The Redis server fixtures (``server``, ``redis_store``) for every test module.
pytest_plugins = ["redis_support"]

REPO = Path(__file__).resolve().parent.parent

settings.register_profile(
    "ipycache",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ipycache"))

# Modules of tests marked ``tensors``: they import torch and jax at the top, so where
# ``-m "not tensors"`` leaves their tests out (a Python with no torch 2.13.0 wheel) the
# modules are not imported either.
TENSOR_MODULES = frozenset({"test_hashing_tensors.py", "test_tensors_memo.py"})


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.name in TENSOR_MODULES and "not tensors" in (
        config.getoption("markexpr") or ""
    ):
        return True
    return None


@pytest.fixture(autouse=True)
def clean_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts with an empty store, default settings and the repo as cwd.

    The cwd matters: user code is code in files under it.
    """
    monkeypatch.chdir(REPO)
    config.reset()
    memo.clear()
    yield
    memo.clear()
    config.reset()


class Tally:
    """Records each run of a memoized body: ``tally(x)`` appends ``x`` to ``tally.runs``.

    Its pickle state is empty, so it hashes the same whatever it has recorded: a body
    that reads it (as a global or closure variable) keeps its key.
    """

    def __init__(self) -> None:
        self.runs: list[Any] = []

    def __call__(self, *what: Any) -> int:
        self.runs.append(what[0] if len(what) == 1 else what)
        return len(self.runs)

    def __len__(self) -> int:
        return len(self.runs)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Tally, ())


class RunLog(list):
    """A list a ``%%memo`` cell appends to each time it runs (``_runs.append(1)``).

    A cell's inputs include every name it reads: its pickled state is empty, so the
    entries appended do not change the cell's key.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (RunLog, ())


@pytest.fixture
def tally() -> Tally:
    return Tally()


class Notes(list):
    """The notes the engine emitted, in order."""

    def of(self, kind: str) -> list[Note]:
        return [n for n in self if n.kind == kind]

    def texts(self, kind: str) -> list[str]:
        return [n.text for n in self.of(kind)]


@pytest.fixture
def notes() -> Iterator[Notes]:
    collected = Notes()
    notify.set_sink(collected.append)
    yield collected
    notify.set_sink(None)


def define(namespace: dict[str, Any], source: str) -> dict[str, Any]:
    """Run ``source`` in ``namespace`` the way a notebook cell would, and return it."""
    exec(compile(textwrap.dedent(source), "<cell>", "exec", dont_inherit=True), namespace)
    return namespace


@pytest.fixture
def ns() -> dict[str, Any]:
    """A fresh notebook-like namespace (module ``__main__``) with ``memo`` in it."""
    return {"__name__": "__main__", "memo": memo}


# ----- the IPython shell ------------------------------------------------------------------


@dataclass
class Cell:
    """What running one cell produced."""

    result: Any
    stdout: str
    stderr: str
    outputs: list[Any]

    @property
    def error(self) -> BaseException | None:
        return self.result.error_before_exec or self.result.error_in_exec

    def texts(self) -> list[str]:
        """text/plain of every display_data the cell published, in order."""
        return [o.data.get("text/plain", "") for o in self.outputs]

    def notes(self, marker: str) -> list[str]:
        return [t for t in self.texts() if marker in t]


@pytest.fixture(scope="session")
def session_shell() -> Iterator[Any]:
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    yield shell
    InteractiveShell.clear_instance()


def run_cell(shell: Any, code: str) -> Cell:
    """Run ``code`` as a cell, capturing stdout, stderr and displayed outputs."""
    from IPython.utils.capture import capture_output

    with capture_output(display=True) as captured:
        result = shell.run_cell(textwrap.dedent(code), store_history=True)
    return Cell(result, captured.stdout, captured.stderr, captured.outputs)


@pytest.fixture
def bare_shell(session_shell: Any) -> Iterator[Any]:
    """The session shell without the extension; reset afterwards."""
    yield session_shell
    if "ipycache_ext" in session_shell.extension_manager.loaded:
        session_shell.run_line_magic("unload_ext", "ipycache_ext")
    session_shell.config.pop("MemoMagics", None)
    session_shell.reset(new_session=False)


@pytest.fixture
def ip(bare_shell: Any) -> Iterator[Any]:
    """The session shell with ``%load_ext ipycache_ext`` done."""
    bare_shell.run_line_magic("load_ext", "ipycache_ext")
    yield bare_shell


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh directory store and per-user key file under ``tmp_path``; persisted
    entries go there (``persist=True``)."""
    from ipycache_ext.store import persistent as persist

    for name in ("IPYCACHE_STORE", "IPYCACHE_DIR", "IPYCACHE_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IPYCACHE_KEY_FILE", str(tmp_path / "config" / "secret.key"))
    location = tmp_path / "store"
    persist.close()
    config.SETTINGS.store = str(location)
    yield location
    persist.close()  # the settings are reset by clean_cache
