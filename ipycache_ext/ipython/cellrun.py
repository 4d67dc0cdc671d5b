"""Running a ``%%memo`` cell: the cell's subject for the engine.

On a miss the cell runs and what it did is recorded (the names it bound or changed,
the names it deleted, its output in order, its last value); on a hit that record is
replayed.  Execution follows ``%%time``: transform the cell, parse, split off the
last expression, exec the body and eval the last expression in the user namespace.
It never calls ``shell.run_cell`` (that would fire the events again).
"""

from __future__ import annotations

import ast
import contextlib
import pickle
import re
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .. import errors, messages, notify
from ..admin import Explanation, explain
from ..deps import pathlike
from ..deps.cell import CellName, analyze, cell_name
from ..deps.declared import depends_on
from ..deps.usercode import is_user_callable
from ..engine.cached import Cached
from ..engine.mutation import fingerprint, never_mutated, was_mutated
from ..engine.subject import Policy, Subject
from ..engine.verify import Verification, verify
from ..errors import MemoError
from ..hashing.core import Hasher
from ..keys.cell import cell_owner, key_of_cell
from ..keys.key import CallKey
from ..parts import PartKind
from ..store.memory import Entry
from . import capture

_OPTION = re.compile(r"\s*(--(?:ttl|name|files)(?:=\S+|\s+\S+)|--[\w-]+)")


@dataclass(frozen=True)
class CellOptions:
    """The options of ``%%memo``, validated once by the magic."""

    allow_mutation: bool = False
    ttl: float | None = None
    quiet: bool = False
    name: str | None = None
    persist: bool = False
    files: tuple[str, ...] = ()  # declared dependencies (--files PATTERN)

    def flags(self) -> str:
        """The options that change what is stored, as flags (part of the cell's key)."""
        parts = []
        if self.allow_mutation:
            parts.append("--allow-mutation")
        if self.ttl is not None:
            parts.append(f"--ttl {self.ttl:g}")
        if self.name:
            parts.append(f"--name {self.name}")
        if self.persist:
            parts.append("--persist")
        parts += [f"--files {pattern}" for pattern in self.files]
        return " ".join(parts)

    def policy(self) -> Policy:
        persist = True if self.persist else None  # else follow MemoMagics.persist
        return Policy(self.ttl, None, persist, self.allow_mutation, self.quiet)


def split_statement(line: str) -> tuple[str, str]:
    """``%memo --quiet df = load(p)`` -> ("--quiet", "df = load(p)")."""
    options = []
    rest = line
    while True:
        match = _OPTION.match(rest)
        if match is None:
            break
        options.append(match.group(1))
        rest = rest[match.end() :]
    return " ".join(options), rest.strip()


def unquoted(pattern: str) -> str:
    """``"data/*.parquet"`` or ``'data/*.parquet'`` as the shell would pass it: IPython
    keeps a magic's quotes, and a pattern with them matches nothing."""
    if len(pattern) >= 2 and pattern[0] == pattern[-1] and pattern[0] in "'\"":
        return pattern[1:-1]
    return pattern


@dataclass
class CellRecord:
    """What a cell did on its miss, to be done again on a hit."""

    bindings: dict[str, Any]
    deleted: list[str]
    outputs: list[capture.Event]
    result: Any

    def unpicklable_parts(self) -> list[tuple[str, str]]:
        """``(variable, type)`` of the bindings pickle refuses (a file left open by
        ``with open(...) as f``): what to name when the record cannot be persisted."""
        refused = []
        for name, value in self.bindings.items():
            try:
                pickle.dumps(value, protocol=5, buffer_callback=lambda b: None)
            except Exception:
                refused.append((name, type(value).__name__))
        return refused


@dataclass
class CellRun:
    """One run of a cell: where it runs, what it is, and the namespace before it ran."""

    shell: Any
    source: str
    binds: tuple[str, ...]
    key: CallKey
    before: dict[str, Any] = field(default_factory=dict)
    used: frozenset[str] = frozenset()  # every name and attribute the source uses


def run_memo_cell(shell: Any, raw_cell: str, options: CellOptions) -> Any:
    """Replay the cell if its key is stored, else run it and store what it did."""
    __tracebackhide__ = True  # IPython shows the user's frames only
    cell, run = _prepare(shell, raw_cell, options)
    _last_cells.pop(cell.label, None)
    if len(_last_cells) >= _CELLS_KEPT:
        del _last_cells[next(iter(_last_cells))]
    _last_cells[cell.label] = (raw_cell, options)
    return cell.lookup(run.key, run, _execute, (shell, run.source, options.files), {})


def explain_memo_cell(shell: Any, raw_cell: str, options: CellOptions) -> Explanation:
    """``%%memo --explain``: would this cell hit now?  It does not run."""
    cell, run = _prepare(shell, raw_cell, options)
    return explain(cell, run.key, run, cell.label)


def verify_memo_cell(shell: Any, raw_cell: str, options: CellOptions) -> Verification:
    """Run the cell again and compare with its stored record (``%memo_verify``)."""
    __tracebackhide__ = True  # IPython shows the user's frames only
    cell, run = _prepare(shell, raw_cell, options)
    return verify(cell, run.key, run, _execute, (shell, run.source, options.files), {})


# The last cell run under each label, for ``%memo_verify LABEL`` (bounded).
_last_cells: dict[str, tuple[str, CellOptions]] = {}
_CELLS_KEPT = 256


def last_cell(label: str) -> tuple[str, CellOptions] | None:
    """The source and options of the last cell run as ``label`` (None: none this kernel)."""
    return _last_cells.get(label)


def _prepare(shell: Any, raw_cell: str, options: CellOptions) -> tuple[MemoCell, CellRun]:
    """The cell's engine (by its label) and its run, key computed."""
    source = transform(shell, raw_cell)
    facts = analyze(source)
    hasher = Hasher(subject=errors.Subject("cell", "the cell"))
    key = key_of_cell(facts, shell.user_ns, options.flags(), hasher)
    cell = MemoCell(cell_name(options.name, facts, raw_cell), options, hasher)
    used = frozenset(facts.reads).union(*facts.chains, (name for name, _ in facts.imported))
    return cell, CellRun(shell, source, facts.binds, key, used=used)


_STATIC_KEPT = 256
_static: dict[tuple[Any, ...], str] = {}


def transform(shell: Any, raw_cell: str) -> str:
    """``shell.transform_cell(raw_cell)``, its static part (``%magic``, ``!cmd``: the
    tokenizing that costs) remembered per cell text while the shell's transformers
    are the same ones.  The steps after it are IPython's, done again each time: a
    one-line cell's dynamic transforms depend on the namespace."""
    manager = shell.input_transformer_manager
    key = (
        raw_cell,
        manager,
        *manager.cleanup_transforms,
        None,
        *manager.line_transforms,
        None,
        *manager.token_transformers,
    )
    static = _static.get(key)
    if static is None:
        static = manager.transform_cell(raw_cell)
        if len(_static) >= _STATIC_KEPT:
            _static.clear()
        _static[key] = static
    if len(static.splitlines()) == 1:
        return str(shell.transform_cell(raw_cell))
    lines = static.splitlines(keepends=True)
    for step in shell.input_transformers_post:
        lines = step(lines)
    return "".join(lines)


def _execute(shell: Any, source: str, files: tuple[str, ...] = ()) -> Any:
    """Run transformed cell source in the user namespace, like ``%%time``; last value out.

    ``files`` (``--files``) are declared first, as the cell's dependencies."""
    __tracebackhide__ = True  # IPython shows the user's frames only
    depends_on(*files)
    tree = shell.compile.ast_parse(source)
    tree = shell.transform_ast(tree)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    # The number IPython shows for this cell (execution_count already counts the next).
    filename = shell.compile.cache(source, shell.displayhook.prompt_count)
    exec(shell.compile(tree, filename, "exec"), shell.user_global_ns, shell.user_ns)
    if last is None:
        return None
    return eval(shell.compile(last, filename, "eval"), shell.user_global_ns, shell.user_ns)


def _place(name: str) -> str:
    return messages.part_place(PartKind.VARIABLE, name, ())


class MemoCell(Cached[CellRun]):
    """A cell label's engine: entries are grouped by the label (``cell [df]``)."""

    def __init__(self, name: CellName, options: CellOptions, hasher: Hasher) -> None:
        label = messages.cell_label(name)
        policy = options.policy()
        subject = CellSubject(name, label, policy, hasher)
        super().__init__(cell_owner(name).stored, label, policy, subject)


class CellSubject(Subject[CellRun]):
    """What a cell is to the engine: a run records what it bound, deleted and showed;
    a hit replays that record.  Its misses do not nest: a ``@memo`` function missing
    inside the cell still gets its own note."""

    rerun_delivers = True  # a re-run bound the names and showed the output itself

    def __init__(self, name: CellName, label: str, policy: Policy, hasher: Hasher) -> None:
        super().__init__("cell", False, hasher)
        self.name = name
        self.label = label
        self.policy = policy

    def describe(self, call: CellRun) -> str:
        return self.label

    def names_used(self, call: CellRun) -> frozenset[str]:
        return call.used

    def values_used(self, call: CellRun) -> list[tuple[str, Any]]:
        ns = call.shell.user_ns
        return [(name, ns[name]) for name in sorted(call.used) if name in ns]

    def code_strings(self, call: CellRun) -> tuple[str, ...]:
        return pathlike.source_strings(call.source)

    @contextlib.contextmanager
    def running(self, call: CellRun) -> Iterator[list[capture.Event]]:
        ns = call.shell.user_ns
        call.before = {k: v for k, v in ns.items() if not k.startswith("_")}
        with capture.recording(call.shell) as events:
            yield events

    def stored_value(self, call: CellRun, value: Any, watch: list[capture.Event]) -> CellRecord:
        ns, before = call.shell.user_ns, call.before
        changed = [k for k, v in ns.items() if not k.startswith("_") and before.get(k, ns) is not v]
        names = dict.fromkeys([n for n in call.binds if n in ns] + changed)
        names.update(dict.fromkeys(self._mutated_reads(ns, call.key)))
        bindings = {name: ns[name] for name in names}
        deleted = [name for name in before if name not in ns]
        return CellRecord(bindings, deleted, watch, value)

    def _mutated_reads(self, ns: dict, key: CallKey) -> list[str]:
        """Notebook variables the cell changed in place, itself or through a function it
        called (``LOG.append`` in a helper): they are outputs of the cell too."""
        mutated = []
        for part in key.parts:
            if part.kind not in (PartKind.VARIABLE, PartKind.GLOBAL) or part.by_name:
                continue
            name = part.name
            if not name.isidentifier() or ns.get(name) is not part.value or name in mutated:
                continue
            try:
                if self.hasher.part(part.value) != part.data:
                    mutated.append(name)
            except Exception:
                mutated.append(name)
        return mutated

    def result_of(self, call: CellRun, stored: CellRecord) -> Any:
        return stored.result

    def fingerprint(self, stored: CellRecord) -> dict[str, bytes | None] | None:
        """Each bound value's digest (code and modules skipped)."""
        if self.policy.allow_mutation:
            return None
        digests: dict[str, bytes | None] = {}
        for name, value in stored.bindings.items():
            digests[name] = None
            if not (
                isinstance(value, types.ModuleType)
                or is_user_callable(value)
                or never_mutated(value)
            ):
                with contextlib.suppress(MemoError):
                    digests[name] = fingerprint(self.hasher, value, _place(name))
        return digests

    def deliver(self, call: CellRun, entry: Entry, loaded_from: str | None) -> Any:
        record: CellRecord = entry.value
        ns = call.shell.user_ns
        ns.update(record.bindings)
        for name in record.deleted:
            ns.pop(name, None)
        capture.replay(call.shell, record.outputs)
        if not self.policy.quiet:
            notify.emit(self._hit_note(record, loaded_from))
        return record.result

    def _hit_note(self, record: CellRecord, loaded_from: str | None) -> messages.Note:
        if loaded_from is not None:
            return messages.loaded_note(self.label, loaded_from)
        names = [n for n in record.bindings if not n.startswith("_")]
        said = not self.name.given and not self.name.more and names == list(self.name.shown)
        return messages.hit_note(self.label, [] if said else names)

    def check_mutation(self, call: CellRun, entry: Entry) -> None:
        record: CellRecord = entry.value
        for name, before in (entry.fingerprint or {}).items():
            if was_mutated(self.hasher, record.bindings[name], before, _place(name)):
                notify.emit(messages.mutated_variable_warning(name))

    def result_digest(self, stored: CellRecord) -> bytes:
        """The names the cell bound (code and modules by name) and its last value."""
        values = []
        for name, value in sorted(stored.bindings.items()):
            if isinstance(value, types.ModuleType) or is_user_callable(value):
                value = f"<{type(value).__name__} {getattr(value, '__qualname__', name)}>"
            values.append((name, value))
        return self.hasher.digest((tuple(values), stored.result), "the cell")

    def persist_refusal(self, stored: CellRecord) -> messages.Note | None:
        """A cell that defines code a new kernel could not restore is not persisted."""
        defined = [
            name
            for name, value in stored.bindings.items()
            if isinstance(value, (types.FunctionType, type))
            and getattr(value, "__module__", None) == "__main__"
        ]
        return messages.cell_not_persisted_warning(self.label, defined) if defined else None

    def unpicklable_warning(self, stored: CellRecord, exc: BaseException) -> messages.Note:
        return messages.unpicklable_variables_warning(self.label, stored.unpicklable_parts(), exc)
