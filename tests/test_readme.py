"""Every code block of the README runs, in order, in one real IPython shell, as a reader
pasting them into the cells of a new notebook would run them.

Why a shell of our own rather than pytest-markdown-docs, pytest-examples or mktestdocs: those
run each block as plain Python (``exec``), and the README's blocks are notebook cells.
``%load_ext``, ``%%memo`` and ``%memo_explain`` are IPython syntax that plain Python rejects,
and the blocks build on each other as cells of one notebook do. So each block is one
``run_cell`` of the session's ``InteractiveShell``, in a fresh working folder, with the
persistent store in a temporary folder.

The info string of each fence says what the block is. ``python`` blocks run. ``text`` blocks
show output and are not code. A code block that must not run says so (``bash no-run``: shell
commands; ``python no-run``: a line of a config file): those are counted against
``NOT_RUN``, so none is skipped silently. A comment in a block that quotes a note
(``# [ipycache] ...``) must match a note the block showed, in order; ``...`` stands for any
text, and durations and ages (``1.00 s``, ``3 min ago``) match any value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import REPO, run_cell

README = REPO / "README.md"
FENCE = re.compile(r"^```(.*)$")
# The blocks that say they must not run: the install commands, the profile line, `make`.
NOT_RUN = 3
PROMPT = re.compile(r"^Out\[\d+\]: ")
KNOWN = {"python", "text", "bash"}
DURATION = re.compile(r"\d+(?:\.\d+)? (?:µs|ms|s|min|h)\b")


@dataclass(frozen=True)
class Block:
    """One fenced block of the README."""

    line: int  # where its fence opens, 1-based
    language: str
    runs: bool
    code: str

    def quoted_notes(self) -> list[str]:
        """The notes the block's comments say it shows, in order."""
        return [
            line.split("#", 1)[1].strip()
            for line in self.code.splitlines()
            if line.lstrip().startswith("# [ipycache]")
        ]


def blocks_of(markdown: str) -> list[Block]:
    found: list[Block] = []
    lines = markdown.splitlines()
    at = 0
    while at < len(lines):
        opened = FENCE.match(lines[at])
        if not opened:
            at += 1
            continue
        words = opened.group(1).split()
        end = lines.index("```", at + 1)
        language = words[0] if words else ""
        runs = language == "python" and "no-run" not in words[1:]
        found.append(Block(at + 1, language, runs, "\n".join(lines[at + 1 : end]) + "\n"))
        at = end + 1
    return found


def note_pattern(quoted: str) -> re.Pattern[str]:
    """A quoted note as a pattern: ``...`` is any text, a duration or age any value."""
    pattern = ""
    for piece in re.split(r"(\.\.\.|" + DURATION.pattern + ")", quoted):
        if piece == "...":
            pattern += ".*?"
        elif DURATION.fullmatch(piece):
            pattern += DURATION.pattern
        else:
            pattern += re.escape(piece)
    return re.compile(pattern)


@dataclass
class Ran:
    block: Block
    error: BaseException | None
    shown: list[str]  # the notes and text it displayed or printed, in order


@pytest.fixture(scope="module")
def pasted(session_shell: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Ran]]:
    """Every runnable block, run in order as one notebook's cells."""
    from ipycache_ext import config, memo
    from ipycache_ext.store import persistent

    folder = tmp_path_factory.mktemp("readme")
    with pytest.MonkeyPatch.context() as mp:
        for name in ("IPYCACHE_STORE", "IPYCACHE_SECRET"):
            mp.delenv(name, raising=False)
        mp.setenv("IPYCACHE_DIR", str(folder / "store"))
        mp.setenv("IPYCACHE_KEY_FILE", str(folder / "secret.key"))
        work = folder / "notebook"
        work.mkdir()
        mp.chdir(work)
        config.reset()
        persistent.close()
        ran = []
        for block in blocks_of(README.read_text()):
            if block.runs:
                cell = run_cell(session_shell, block.code)
                printed = [*cell.stdout.splitlines(), *cell.stderr.splitlines()]
                # A cell's value is printed after its prompt (Out[3]: ...), as a notebook shows it.
                shown = [*cell.texts(), *(PROMPT.sub("", line) for line in printed)]
                ran.append(Ran(block, cell.error, shown))
        yield ran
        if "ipycache_ext" in session_shell.extension_manager.loaded:
            session_shell.run_line_magic("unload_ext", "ipycache_ext")
        session_shell.config.pop("MemoMagics", None)
        session_shell.reset(new_session=False)
        memo.clear()
        persistent.close()
        config.reset()


def test_every_readme_code_block_runs_or_says_it_does_not() -> None:
    blocks = blocks_of(README.read_text())
    unmarked = [b.line for b in blocks if b.language not in KNOWN]
    assert not unmarked, f"README blocks at lines {unmarked} have no known info string"
    not_run = [b for b in blocks if b.language != "text" and not b.runs]
    assert len(not_run) == NOT_RUN, (
        f"{len(not_run)} README code blocks do not run (lines {[b.line for b in not_run]}), "
        f"{NOT_RUN} expected: make a new block run, or say why it cannot and count it"
    )


def test_readme_blocks_run_in_a_shell_without_error(pasted: list[Ran]) -> None:
    failed = [(r.block.line, repr(r.error)) for r in pasted if r.error is not None]
    assert len(pasted) >= 10 and not failed, failed


def test_notes_the_readme_quotes_are_the_ones_its_blocks_show(pasted: list[Ran]) -> None:
    missing = []
    for ran in pasted:
        shown = iter(ran.shown)
        for quoted in ran.block.quoted_notes():
            pattern = note_pattern(quoted)
            if not any(pattern.fullmatch(line.strip()) for line in shown):
                missing.append((ran.block.line, quoted, ran.shown))
    assert not missing, missing


def test_a_readme_block_marked_no_run_is_told_from_one_that_runs() -> None:
    [shell, config, code, output] = blocks_of(
        "```bash no-run\nmake\n```\n```python no-run\nc.X = 1\n```\n"
        "```python\nx = 1\n```\n```text\n[ipycache] note\n```\n"
    )
    assert (shell.runs, config.runs, code.runs, output.runs) == (False, False, True, False)
    assert (code.line, code.code) == (7, "x = 1\n")


def test_a_quoted_note_matches_any_duration_and_elided_text() -> None:
    pattern = note_pattern("[ipycache] cache miss: ran f(1) in 1.00 s (file a.csv changed ...)")
    assert pattern.fullmatch("[ipycache] cache miss: ran f(1) in 17 ms (file a.csv changed (x))")
    assert not pattern.fullmatch("[ipycache] cache miss: ran f(2) in 17 ms (file a.csv changed)")


def test_readme_has_no_path_to_a_missing_file() -> None:
    text = README.read_text()
    linked = re.findall(r"\]\(((?!https?:)[^)#]+)\)", text)
    assert linked and not [p for p in linked if not (REPO / p).exists()]


def test_readme_names_no_issue_number() -> None:
    assert not re.search(r"(?<![\w&])#\d+\b", README.read_text())
