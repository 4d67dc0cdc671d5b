"""The thin IPython layer: settings as traitlets, notes in the cell, load and unload.

``%config MemoMagics.notes = False`` turns the miss/hit notes off for the kernel
(warnings stay); ``%config MemoMagics.spinner_delay = 2.0`` sets when a long miss
starts showing what is running.
"""

from __future__ import annotations

import ast
import contextlib
import contextvars
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display
from traitlets import Bool, Float, observe

from . import capture, messages, notify
from .cells import (
    CellRecord,
    analyze,
    binding_digests,
    cell_label,
    key_of_cell,
    mutated_names,
)
from .hashing import Hasher
from .keys import CallKey, snapshot, why_missed
from .memo import memo
from .messages import Note
from .store import STORE, Entry, approx_size


def _show(note: Note) -> None:
    display({"text/plain": note.text, "text/html": note.html}, raw=True)


@contextlib.contextmanager
def _spinner(note: Note, delay: float) -> Iterator[None]:
    """Show ``note`` if the body is still running after ``delay`` seconds, then blank it."""
    shown: list[Any] = []
    context = contextvars.copy_context()

    def show() -> None:
        notify.emit_silently(lambda: shown.append(_display_with_id(note)))

    timer = threading.Timer(delay, context.run, args=(show,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()
        for handle in shown:
            if handle is not None:
                notify.emit_silently(lambda h=handle: h.update({"text/plain": ""}, raw=True))


def _display_with_id(note: Note) -> Any:
    return display({"text/plain": note.text, "text/html": note.html}, raw=True, display_id=True)


@magics_class
class MemoMagics(Magics):
    """ipycache_ext's magics and kernel-wide settings."""

    notes = Bool(
        True, help="Show the cache miss/hit notes in cell output (warnings always show)."
    ).tag(config=True)
    spinner_delay = Float(
        1.0, help="Seconds a cache miss runs before the cell shows what is running."
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        notify.Settings.notes = self.notes
        notify.Settings.spinner_delay = self.spinner_delay

    @magic_arguments()
    @argument(
        "--allow-mutation",
        action="store_true",
        help="Don't re-hash restored variables on a hit (no mutation warning).",
    )
    @argument("--ttl", type=float, default=None, help="Seconds an entry stays valid.")
    @argument("--quiet", action="store_true", help="No miss/hit note for this cell.")
    @argument("--name", default=None, help="Label of the cell in notes and %%memo_info.")
    @line_cell_magic
    def memo(self, line: str, cell: str | None = None) -> Any:
        """Run a cell (or, as %memo, one statement) only when what it reads changed.

        On a hit the cell does not run: the names it bound are bound again to the
        stored objects, its output is replayed and its last value is the result.
        The key is the cell's code (comments and formatting don't count), the
        values of the names it reads before binding them (names starting with _
        are left out), the code of the user functions it uses, and the options.

            %%memo [--allow-mutation] [--ttl SECONDS] [--quiet] [--name LABEL]
            %memo [options] <statement>
        """
        if cell is None:
            options_text, cell = _split_statement(line)
            if not cell.strip():
                raise UsageError(messages.empty_statement_error())
        else:
            options_text = line
        opts = parse_argstring(self.memo, options_text)
        if opts.ttl is not None and opts.ttl <= 0:
            raise UsageError(messages.bad_option_error("--ttl", opts.ttl, "seconds > 0"))
        return run_memo_cell(self.shell, cell, opts)

    @line_magic
    def memo_info(self, line: str = "") -> messages.InfoTable:
        """Table of every memoized function and cell: entries, hits, misses, memory."""
        rows = []
        for owner, stats in STORE.owners():
            entries = STORE.entries(owner)
            held = sum(approx_size(e.value) for e in entries)
            rows.append(
                (
                    stats.label,
                    stats.kind,
                    str(len(entries)),
                    str(stats.hits),
                    str(stats.misses),
                    messages.size(held),
                    stats.last_reason,
                )
            )
        return messages.InfoTable(rows)

    @line_magic
    def memo_clear(self, line: str = "") -> None:
        """Empty the whole cache, or (with a NAME from %memo_info) one function or cell."""
        name = line.strip()
        if not name:
            count = sum(len(STORE.entries(owner)) for owner, _ in STORE.owners())
            STORE.clear()
            notify.emit(messages.cleared_note("every function and cell", count))
            return
        matches = [
            owner
            for owner, stats in STORE.owners()
            if name in (stats.label, owner, owner.rsplit(".", 1)[-1])
        ]
        if not matches:
            known = sorted(stats.label for _, stats in STORE.owners())
            raise UsageError(messages.unknown_cache_name(name, known))
        count = sum(len(STORE.entries(owner)) for owner in matches)
        for owner in matches:
            STORE.clear(owner)
        notify.emit(messages.cleared_note(name, count))

    @observe("notes")
    def _notes_changed(self, change: dict) -> None:
        notify.Settings.notes = bool(change["new"])

    @observe("spinner_delay")
    def _delay_changed(self, change: dict) -> None:
        notify.Settings.spinner_delay = float(change["new"])


def _display_probe(shell: Any) -> Callable[[Callable[[], None]], Any]:
    """A context factory that calls ``seen()`` whenever the cell displays something."""

    @contextlib.contextmanager
    def probe(seen: Callable[[], None]) -> Iterator[None]:
        pub = shell.display_pub
        had_own = "publish" in vars(pub)
        original = pub.publish

        def publish(*args: Any, **kwargs: Any) -> Any:
            if not notify.emitting():
                seen()
            return original(*args, **kwargs)

        pub.publish = publish
        try:
            yield
        finally:
            if had_own:
                pub.publish = original
            else:
                with contextlib.suppress(AttributeError):
                    del pub.publish

    return probe


# ----- %%memo: run a cell, or replay it ------------------------------------------------

_OPTION = re.compile(r"\s*(--(?:ttl|name)(?:=\S+|\s+\S+)|--[\w-]+)")


def _split_statement(line: str) -> tuple[str, str]:
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


def _cell_id(shell: Any) -> str | None:
    """Jupyter's id of the running cell, when the front end sends one."""
    kernel = getattr(shell, "kernel", None)
    try:
        parent = kernel.get_parent() if kernel is not None else None
    except Exception:
        return None
    if isinstance(parent, dict):
        cell_id = parent.get("metadata", {}).get("cellId")
        return str(cell_id) if cell_id else None
    return None


def _execute(shell: Any, source: str) -> Any:
    """Run transformed cell source in the user namespace, like ``%%time``; last value out."""
    tree = shell.compile.ast_parse(source)
    tree = shell.transform_ast(tree)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    filename = shell.compile.cache(source)
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
    return " ".join(parts)


def run_memo_cell(shell: Any, raw_cell: str, opts: Any) -> Any:
    """Replay the cell if its key is stored, else run it and store what it did."""
    source = shell.transform_cell(raw_cell)
    facts = analyze(source)
    hasher = Hasher(owner="the cell", for_cell=True)
    key = key_of_cell(facts, shell.user_ns, _options_key(opts), hasher)
    label = cell_label(opts.name, facts, source)
    owner = "cell:" + (opts.name or _cell_id(shell) or label)
    stats = STORE.stats(owner, label)
    stats.kind = "cell"
    entry = STORE.get(owner, key.digest)
    if entry is not None:
        return _replay_cell(shell, entry, stats, label, opts, hasher)
    return _run_and_store(shell, source, facts.binds, key, owner, label, opts, hasher)


def _replay_cell(
    shell: Any, entry: Entry, stats: Any, label: str, opts: Any, hasher: Hasher
) -> Any:
    record: CellRecord = entry.value
    ns = shell.user_ns
    ns.update(record.bindings)
    for name in record.deleted:
        ns.pop(name, None)
    capture.replay(shell, record.outputs)
    with STORE.lock:
        stats.hits += 1
        stats.last_parts = entry.parts
    if not opts.quiet:
        notify.emit(messages.hit_note(label, list(record.bindings)))
    if not opts.allow_mutation:
        for name in mutated_names(hasher, record):
            notify.emit(messages.mutated_variable_warning(name))
    return record.result


def _mutated_reads(ns: dict, key: CallKey, hasher: Hasher) -> list[str]:
    """Variables the cell read and changed in place: they are outputs of the cell too."""
    mutated = []
    for part in key.parts:
        name = part.label.removeprefix("variable ")
        if part.kind != "global" or name == part.label or ns.get(name) is not part.value:
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
) -> Any:
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
    stats = STORE.stats(owner, label)
    reasons = why_missed(stats.last_parts, parts)
    STORE.put(owner, key.digest, entry, None)
    with STORE.lock:
        stats.misses += 1
        stats.last_parts = parts
        stats.last_reason = "; ".join(reasons)
    if not opts.quiet:
        notify.emit(messages.miss_note(label, seconds, reasons))
    return result


_loaded: dict[int, dict[str, Any]] = {}


def load(shell: Any) -> None:
    """Register the magics, route notes into cells and put ``memo`` in the namespace."""
    if id(shell) in _loaded:
        return
    magics = MemoMagics(shell=shell)
    shell.register_magics(magics)
    shell.configurables.append(magics)
    probe = _display_probe(shell)
    notify.set_sink(_show)
    notify.set_spinner(_spinner)
    notify.add_display_probe(probe)
    added_memo = shell.user_ns.get("memo") is not memo
    if added_memo:
        shell.push({"memo": memo}, interactive=False)
    _loaded[id(shell)] = {"magics": magics, "probe": probe, "memo": added_memo}


def unload(shell: Any) -> None:
    """Remove everything :func:`load` added."""
    state = _loaded.pop(id(shell), None)
    if state is None:
        return
    magics = state["magics"]
    manager = shell.magics_manager
    for kind, names in magics.magics.items():
        for name in names:
            manager.magics[kind].pop(name, None)
    manager.registry.pop(type(magics).__name__, None)
    if magics in shell.configurables:
        shell.configurables.remove(magics)
    notify.remove_display_probe(state["probe"])
    notify.set_sink(None)
    notify.set_spinner(None)
    if state["memo"] and shell.user_ns.get("memo") is memo:
        del shell.user_ns["memo"]
        shell.user_ns_hidden.pop("memo", None)
