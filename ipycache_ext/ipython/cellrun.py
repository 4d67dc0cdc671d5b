"""Running a ``%%memo`` cell in IPython: run and record on a miss, replay on a hit.

Execution follows ``%%time``: transform the cell, parse, split off the last
expression, exec the body and eval the last expression in the user namespace.  It
never calls ``shell.run_cell`` (that would fire the events again).
"""

from __future__ import annotations

import ast
import re
import time
import types
from typing import Any

from .. import messages, notify
from ..deps.cell import (
    CellRecord,
    analyze,
    binding_digests,
    cell_label,
    key_of_cell,
    mutated_names,
)
from ..errors import Subject
from ..hashing.core import Hasher
from ..keys import CallKey, snapshot, why_missed
from ..store import tier as persist
from ..store.memory import STORE, Entry
from . import capture

_OPTION = re.compile(r"\s*(--(?:ttl|name)(?:=\S+|\s+\S+)|--[\w-]+)")


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


def _execute(shell: Any, source: str) -> Any:
    """Run transformed cell source in the user namespace, like ``%%time``; last value out."""
    __tracebackhide__ = True  # IPython shows the user's frames only
    tree = shell.compile.ast_parse(source)
    tree = shell.transform_ast(tree)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    filename = shell.compile.cache(source, shell.execution_count)
    exec(shell.compile(tree, filename, "exec"), shell.user_global_ns, shell.user_ns)
    if last is None:
        return None
    return eval(shell.compile(last, filename, "eval"), shell.user_global_ns, shell.user_ns)


def _options_key(opts: Any) -> str:
    parts = []
    if opts.allow_mutation:
        parts.append("--allow-mutation")
    if opts.ttl is not None:
        parts.append(f"--ttl {opts.ttl:g}")
    if opts.name:
        parts.append(f"--name {opts.name}")
    if opts.persist:
        parts.append("--persist")
    return " ".join(parts)


def run_memo_cell(shell: Any, raw_cell: str, opts: Any) -> Any:
    """Replay the cell if its key is stored, else run it and store what it did."""
    __tracebackhide__ = True  # IPython shows the user's frames only
    source = shell.transform_cell(raw_cell)
    facts = analyze(source)
    hasher = Hasher(subject=Subject("cell", "the cell"))
    key = key_of_cell(facts, shell.user_ns, _options_key(opts), hasher)
    label = cell_label(opts.name, facts, raw_cell)
    owner = "cell:" + label
    entry = STORE.get(owner, key.digest)
    if entry is not None:
        return _replay_cell(shell, entry, owner, label, opts, hasher)
    tier = persist.tier() if (opts.persist or persist.Settings.default) else None
    if tier is None:
        return _run_and_store(shell, source, facts.binds, key, owner, label, opts, hasher, None)
    with tier.computing(owner, key.digest, label) as stored:
        if stored is not None:
            entry = Entry(stored, None, snapshot(key.parts), 0.0)
            STORE.put(owner, key.digest, entry, None)
            return _replay_cell(shell, entry, owner, label, opts, hasher, tier.backend.where)
        return _run_and_store(shell, source, facts.binds, key, owner, label, opts, hasher, tier)


def _cell_stats(owner: str, label: str) -> Any:
    """A cell's counters, made once it has run or replayed (a failing cell has none)."""
    stats = STORE.stats(owner, label)
    stats.kind = "cell"
    return stats


def _replay_cell(
    shell: Any,
    entry: Entry,
    owner: str,
    label: str,
    opts: Any,
    hasher: Hasher,
    loaded_from: str | None = None,
) -> Any:
    record: CellRecord = entry.value
    ns = shell.user_ns
    ns.update(record.bindings)
    for name in record.deleted:
        ns.pop(name, None)
    capture.replay(shell, record.outputs)
    stats = _cell_stats(owner, label)
    with STORE.lock:
        stats.hits += 1
        stats.last_parts = entry.parts
    if loaded_from is not None and not opts.quiet:
        notify.emit(messages.loaded_note(label, loaded_from))
    elif not opts.quiet:
        names = [n for n in record.bindings if not n.startswith("_")]
        said = label.removeprefix("cell [").removesuffix("]").split(", ")
        notify.emit(messages.hit_note(label, [] if names == said else names))
    if not opts.allow_mutation:
        for name in mutated_names(hasher, record):
            notify.emit(messages.mutated_variable_warning(name))
    return record.result


# Parts that name a module, the shell or a library object instead of hashing a value
# (see codedeps.add_value): they cannot have been mutated by the cell.
_KEYED_BY_NAME = (b"mod:", b"env:", b"lib:", b"?")


_READ_NAME = re.compile(r"^(?:variable|global) (\w+)(?: \(read by [^)]*\))?$")


def _mutated_reads(ns: dict, key: CallKey, hasher: Hasher) -> list[str]:
    """Notebook variables the cell changed in place, itself or through a function it
    called (``LOG.append`` in a helper): they are outputs of the cell too."""
    mutated = []
    for part in key.parts:
        match = _READ_NAME.match(part.label)
        if part.kind != "global" or match is None or part.data.startswith(_KEYED_BY_NAME):
            continue
        name = match.group(1)
        if ns.get(name) is not part.value or name in mutated:
            continue
        try:
            if hasher.part(part.value) != part.data:
                mutated.append(name)
        except Exception:
            mutated.append(name)
    return mutated


def _run_and_store(
    shell: Any,
    source: str,
    static_binds: tuple[str, ...],
    key: CallKey,
    owner: str,
    label: str,
    opts: Any,
    hasher: Hasher,
    tier: persist.Tier | None,
) -> Any:
    __tracebackhide__ = True  # IPython shows the user's frames only
    ns = shell.user_ns
    before = {k: v for k, v in ns.items() if not k.startswith("_")}
    started = time.perf_counter()
    with capture.recording(shell) as events:
        result = _execute(shell, source)
    seconds = time.perf_counter() - started
    changed = [k for k, v in ns.items() if not k.startswith("_") and before.get(k, ns) is not v]
    names = dict.fromkeys([n for n in static_binds if n in ns] + changed)
    names.update(dict.fromkeys(_mutated_reads(ns, key, hasher)))
    bindings = {name: ns[name] for name in names}
    deleted = [name for name in before if name not in ns]
    record = CellRecord(bindings, deleted, events, result)
    if not opts.allow_mutation:
        record.digests = binding_digests(hasher, bindings)
    parts = snapshot(key.parts)
    entry = Entry(record, None, parts, seconds)
    if opts.ttl is not None:
        entry.expires = time.monotonic() + opts.ttl
    stats = _cell_stats(owner, label)
    reasons = why_missed(stats.last_parts, parts, STORE.how_gone(owner, key.digest))
    STORE.put(owner, key.digest, entry, None)
    if tier is not None:
        _save_cell(tier, owner, key, record, opts, label)
    with STORE.lock:
        stats.misses += 1
        stats.last_parts = parts
        stats.last_reason = "; ".join(reasons)
    if not opts.quiet:
        notify.emit(messages.miss_note(label, seconds, reasons))
    return result


def _save_cell(
    tier: persist.Tier, owner: str, key: CallKey, record: CellRecord, opts: Any, label: str
) -> None:
    """Persist a cell's record unless it defines code a new kernel could not restore."""
    defined = [
        name
        for name, value in record.bindings.items()
        if isinstance(value, (types.FunctionType, type))
        and getattr(value, "__module__", None) == "__main__"
    ]
    if defined:
        notify.emit(messages.cell_not_persisted_warning(label, defined))
        return
    tier.save(owner, key.digest, record, opts.ttl, label)
