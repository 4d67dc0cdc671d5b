"""The process's one audit hook, compiled where the package was built with a C compiler
and written in Python where it was not: both must see the same events.

Each check runs in a fresh Python process (a hook, once installed, stays for the life of
the process): one importing the compiled hook, one where it cannot be imported, as on a
machine without a compiler.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILT = any(
    (ROOT / "ipycache_ext" / "deps").glob("_audit" + sysconfig.get_config_var("EXT_SUFFIX"))
)

# Put first in a child: ``None`` in sys.modules makes ``import ipycache_ext.deps._audit`` fail.
WITHOUT_COMPILED = "import sys; sys.modules['ipycache_ext.deps._audit'] = None\n"


def run_child(source: str, kind: str, cwd: Path) -> str:
    """Run ``source`` in a new Python with the given hook; its stdout, or the test fails."""
    prefix = WITHOUT_COMPILED if kind == "python" else ""
    done = subprocess.run(
        [sys.executable, "-c", prefix + textwrap.dedent(source)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


KINDS = [
    pytest.param("compiled", marks=pytest.mark.skipif(not BUILT, reason="not built here")),
    "python",
]


def test_the_build_made_the_compiled_hook_for_this_python() -> None:
    """The test environment installs the package with a compiler at hand (gcc and the
    Python headers): a build that stopped compiling it would go unseen otherwise, each
    ``open()`` a few per cent slower."""
    assert BUILT, "ipycache_ext/deps/_audit*.so is missing: `pip install -e .` did not compile it"


@pytest.mark.parametrize("kind", KINDS)
def test_each_hook_reports_its_own_kind(kind: str, tmp_path: Path) -> None:
    out = run_child(
        "from ipycache_ext.deps import usercode\nprint(usercode.hook_kind())", kind, tmp_path
    )
    assert out.split() == [kind]


@pytest.mark.parametrize("kind", KINDS)
def test_a_file_changed_between_calls_is_a_miss_naming_it_with_either_hook(
    kind: str, tmp_path: Path
) -> None:
    out = run_child(
        """
        from pathlib import Path
        from ipycache_ext import memo, notify
        notify.set_sink(lambda note: print("NOTE", note))
        Path("data.txt").write_text("1")
        @memo
        def load():
            with open("data.txt") as fh:
                return fh.read()
        print("VALUE", load())
        print("VALUE", load())
        Path("data.txt").write_text("22")
        print("VALUE", load())
        """,
        kind,
        tmp_path,
    )
    values = [line.split()[1] for line in out.splitlines() if line.startswith("VALUE")]
    assert values == ["1", "1", "22"]
    notes = [line for line in out.splitlines() if line.startswith("NOTE")]
    assert len(notes) == 2, out
    assert "data.txt changed" in notes[1]


@pytest.mark.parametrize("kind", KINDS)
def test_a_change_of_directory_and_a_code_assignment_move_the_epoch_with_either_hook(
    kind: str, tmp_path: Path
) -> None:
    (tmp_path / "sub").mkdir()
    out = run_child(
        """
        import os
        from ipycache_ext.deps import usercode
        usercode.watch()
        def f():
            return 1
        before = usercode.epoch
        os.chdir("sub")
        after_cd = usercode.epoch
        f.__code__ = (lambda: 2).__code__
        print(after_cd - before, usercode.epoch - after_cd, usercode.working_directory())
        """,
        kind,
        tmp_path,
    )
    moved_by_cd, moved_by_code, cwd = out.split()
    assert int(moved_by_cd) >= 1 and int(moved_by_code) >= 1
    assert cwd == str(tmp_path / "sub")


@pytest.mark.skipif(not BUILT, reason="not built here")
def test_the_compiled_hook_forwards_routed_events_only_while_a_recorder_is_active(
    tmp_path: Path,
) -> None:
    out = run_child(
        """
        import sys
        from ipycache_ext.deps import _audit
        seen = []
        active = []
        _audit.install(lambda event, args: seen.append((event, args)), ["t.always"])
        _audit.route(["t.routed"], active)
        sys.audit("t.always", 1)
        sys.audit("t.routed", 2)
        active.append(None)
        sys.audit("t.routed", 3)
        sys.audit("t.other", 4)
        active.pop()
        sys.audit("t.routed", 5)
        print(seen)
        """,
        "compiled",
        tmp_path,
    )
    assert out.strip() == "[('t.always', (1,)), ('t.routed', (3,))]"


@pytest.mark.skipif(not BUILT, reason="not built here")
def test_an_error_in_the_forwarded_hook_fails_the_audited_call_as_a_python_hook_would(
    tmp_path: Path,
) -> None:
    out = run_child(
        """
        import sys
        from ipycache_ext.deps import _audit
        def refuse(event, args):
            raise PermissionError(event)
        _audit.install(refuse, ["t.refused"])
        try:
            sys.audit("t.refused")
        except PermissionError as error:
            print("refused", error)
        sys.audit("t.other")
        print("other passed")
        """,
        "compiled",
        tmp_path,
    )
    assert out.split("\n")[:2] == ["refused t.refused", "other passed"]


@pytest.mark.skipif(not BUILT, reason="not built here")
def test_a_tracer_does_not_step_into_the_forwarded_hook(tmp_path: Path) -> None:
    """As CPython calls a Python hook: a debugger or coverage run never sees it."""
    out = run_child(
        """
        import sys
        from ipycache_ext.deps import _audit
        traced = []
        def forwarded(event, args):
            pass
        def tracer(frame, event, arg):
            traced.append(frame.f_code.co_name)
        _audit.install(forwarded, ["t.always"])
        sys.settrace(tracer)
        sys.audit("t.always")
        sys.settrace(None)
        print("forwarded" in traced)
        """,
        "compiled",
        tmp_path,
    )
    assert out.strip() == "False"


@pytest.mark.skipif(not BUILT, reason="not built here")
def test_bad_event_lists_are_refused_with_a_readable_error(tmp_path: Path) -> None:
    out = run_child(
        """
        from ipycache_ext.deps import _audit
        for call in (
            lambda: _audit.install(print, [1]),
            lambda: _audit.install(print, ["x" * 64]),
            lambda: _audit.install(print, [str(n) for n in range(49)]),
            lambda: _audit.install(1, []),
            lambda: _audit.route([], ()),
        ):
            try:
                call()
            except (TypeError, ValueError) as error:
                print(type(error).__name__, error)
        """,
        "compiled",
        tmp_path,
    )
    lines = out.splitlines()
    assert len(lines) == 5, out
    assert lines[0].startswith("ValueError") and "str" in lines[0]
    assert lines[3] == "TypeError install(): forward_to must be callable"
    assert lines[4] == "TypeError route(): active must be a list"
