"""``c.InteractiveShellApp.extensions = ["ipycache_ext"]`` in an IPython profile loads
the extension in every new kernel and terminal IPython, as the README's Quick start says."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from kernels import Kernel

PROFILE_LINE = 'c.InteractiveShellApp.extensions = ["ipycache_ext"]\n'
PROBE = (
    "ip = get_ipython()\n"
    "print('memo' in ip.user_ns, 'memo' in ip.magics_manager.magics['cell'],"
    " 'memo_explain' in ip.magics_manager.magics['line'])\n"
)


@pytest.fixture
def ipython_dir(tmp_path: Path) -> dict[str, str]:
    """An environment whose IPython directory has a default profile with the line."""
    profile = tmp_path / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_config.py").write_text(PROFILE_LINE)
    return {**os.environ, "IPYTHONDIR": str(tmp_path / "ipython")}


@pytest.fixture
def kernel(ipython_dir: dict[str, str], tmp_path: Path) -> Iterator[Kernel]:
    k = Kernel(cwd=tmp_path, env=ipython_dir)
    yield k
    k.stop()


def test_a_kernel_started_with_the_profile_line_has_memo_and_its_magics(kernel: Kernel) -> None:
    outputs = kernel.run(PROBE)
    assert [o.get("text") for o in outputs if o["type"] == "stream"] == ["True True True\n"]


def test_a_kernel_with_the_profile_line_memoizes_at_once(kernel: Kernel) -> None:
    outputs = kernel.run("@memo\ndef f(x):\n    return x * 2\nf(21)")
    texts = [o["data"]["text/plain"] for o in outputs if o["type"] == "display_data"]
    assert any(t.startswith("[ipycache] cache miss: ran f(21)") for t in texts)


def test_terminal_ipython_with_the_profile_line_has_memo_and_its_magics(
    ipython_dir: dict[str, str], tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "IPython", "--HistoryManager.hist_file=:memory:", "-c", PROBE],
        env=ipython_dir,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("True True True")
