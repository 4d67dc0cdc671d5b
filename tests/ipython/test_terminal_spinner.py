"""In terminal IPython a display can never be updated: the "running" note of a long
miss is written on the terminal's line and erased when the miss ends, so no spinner
line stays above the result.  A real ``ipython`` process on a real pseudo-terminal."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator

import pexpect
import pytest
from conftest import REPO

from ipycache_ext.ipython.spinner import ERASE_LINE

PROMPT = r"In \[\d+\]: "


@pytest.fixture(scope="module")
def terminal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pexpect.spawn]:
    """``ipython`` (simple prompt, no colours) on a pseudo-terminal, the extension loaded:
    one process for this module's tests (it takes seconds to start)."""
    tmp_path = tmp_path_factory.mktemp("terminal")
    child = pexpect.spawn(
        sys.executable,
        ["-m", "IPython", "--simple-prompt", "--no-banner", "--colors=NoColor", "--quick"],
        cwd=str(REPO),
        env={"IPYTHONDIR": str(tmp_path / "ipython"), "PATH": "/usr/bin:/bin", "TERM": "xterm"},
        encoding="utf-8",
        timeout=60,
    )
    child.expect(PROMPT)
    for line in (
        "%load_ext ipycache_ext",
        "%config MemoMagics.spinner_delay = 0.1",
        "import time",
        'exec("@memo\\ndef slow(x):\\n    time.sleep(0.8)\\n    return x * 2")',
        "exec(\"@memo\\ndef talks(x):\\n    time.sleep(0.8)\\n    print('said', x)\\n"
        '    return x")',
    ):
        child.sendline(line)
        child.expect(PROMPT)
    yield child
    child.sendline("exit")
    child.expect(pexpect.EOF)


def test_the_terminal_spinner_erases_its_line_when_the_miss_ends(
    terminal: pexpect.spawn,
) -> None:
    terminal.sendline("slow(21)")
    terminal.expect(PROMPT)
    shown = terminal.before
    running = shown.index("[ipycache] running slow(21) ...")
    erased = shown.index(ERASE_LINE, running)
    assert re.search(r"Out\[\d+\]: 42", shown[erased:])
    assert "cache miss: ran slow(21)" in shown[erased:]


def test_output_of_the_running_miss_is_written_on_a_line_of_its_own(
    terminal: pexpect.spawn,
) -> None:
    terminal.sendline("talks(5)")
    terminal.expect(PROMPT)
    shown = terminal.before
    running = shown.index("[ipycache] running talks(5) ...")
    assert ERASE_LINE + "said 5\r\n" in shown[running:]  # erased, then the output
