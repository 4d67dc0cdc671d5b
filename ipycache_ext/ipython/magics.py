"""The thin IPython layer: settings as traitlets, notes in the cell, load and unload.

``%config MemoMagics.notes = False`` turns the miss/hit notes off for the kernel
(warnings stay); ``%config MemoMagics.spinner_delay = 2.0`` sets when a long miss
starts showing what is running; ``MemoMagics.persist``, ``.store``, ``.max_disk_bytes``
and ``.secret_key`` configure the persistent store.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Float, Int, List, TraitError, Unicode, Union, observe, validate

from .. import messages, notify
from ..admin import Explanation, clear_all, clear_one, entry_facts
from ..config import SETTINGS, parse_budget
from ..deps import usercode
from ..errors import UnknownStoreError
from ..memo import memo
from ..store import owners as persisted
from ..store import persistent
from ..store.backends.registry import check_location
from ..store.memory import STORE
from ..store.sizes import approx_size
from .calls import is_call, memoized_call
from .cellrun import CellOptions, explain_memo_cell, run_memo_cell, split_statement, unquoted
from .clearing import clear_flags, clear_store, cleared, listing, named, store_table
from .sink import CellSink, show
from .spinner import Spinner
from .verifying import verify_line


class _Secret(str):
    """The team secret as the trait holds it: what ``%config MemoMagics.secret_key``
    and the trait's repr show is masked, as a Redis password is; the key itself is
    unchanged for the store that signs with it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(messages.REDACTED)


@magics_class
class MemoMagics(Magics):
    """ipycache_ext's magics and kernel-wide settings."""

    notes = Bool(
        True, help="Show the cache miss/hit notes in cell output (warnings always show)."
    ).tag(config=True)
    spinner_delay = Float(
        1.0, min=0.0, help="Seconds a cache miss runs before the cell shows what is running."
    ).tag(config=True)

    persist = Bool(
        False, help="Write every @memo/%%memo entry to the persistent store by default."
    ).tag(config=True)
    store = Unicode(
        "",
        help="Persistent store: a directory, redis://host:port/db, s3://bucket/prefix, or "
        "dir|s3://... (a local read-through cache of a team store). Empty: $IPYCACHE_DIR "
        "or the user cache directory.",
    ).tag(config=True)
    max_disk_bytes = Int(
        4 << 30,
        min=1,
        help="Size bound of a directory store or an S3 prefix (least recently used out).",
    ).tag(config=True)
    user_paths = List(
        Unicode(),
        help="Folders besides the working directory whose code is yours (traversed, so "
        "editing it makes results miss), e.g. a src/ next to the notebooks.",
    ).tag(config=True)
    secret_key = Unicode(
        "", help="Shared key that signs persisted entries (a team store). Empty: per-user key."
    ).tag(config=True)
    track_files = Bool(
        True,
        help="Files a cached function or cell reads (and directories it lists) join its "
        "key: a changed file is a miss naming it.",
    ).tag(config=True)

    max_memory = Union(
        [Int(), Float(), Unicode()],
        default_value="25%",
        help="Memory all cached results may hold together: bytes (1000000000), a size "
        '("1GB", "512 MiB"), or a share of RAM ("25%"); "" for no bound. Least recently '
        "used out, results of earlier code first; a result bigger than this is returned "
        "but not kept.",
    ).tag(config=True)

    s3_endpoint = Unicode(
        "",
        help="Endpoint of a non-AWS S3 server (http allowed on 127.0.0.1). Empty: "
        "$AWS_ENDPOINT_URL or AWS.",
    ).tag(config=True)

    store_timeout = Float(
        2.0, min=0.01, help="Seconds a remote (Redis, S3) store may stay silent in a call."
    ).tag(config=True)
    store_retry_seconds = Float(
        30.0, min=0.0, help="Seconds a failed remote store is skipped (memory or dir| only)."
    ).tag(config=True)

    verify_share = Float(0.0, min=0.0, max=1.0, help=messages.VERIFY_SHARE_HELP).tag(config=True)
    # Each trait is mirrored into the one settings object the engine reads.
    _MIRRORED = {
        "notes": "notes",
        "spinner_delay": "spinner_delay",
        "persist": "persist",
        "store": "store",
        "max_disk_bytes": "max_disk_bytes",
        "secret_key": "secret_key",
        "store_timeout": "store_timeout",
        "store_retry_seconds": "store_retry_seconds",
        "user_paths": "user_paths",
        "track_files": "track_files",
        "max_memory": "max_memory",
        "s3_endpoint": "s3_endpoint",
        "verify_share": "verify_share",
    }

    @classmethod
    def class_get_trait_help(cls, trait: Any, inst: Any = None, helptext: Any = None) -> str:
        """``%config MemoMagics`` shows each trait's current value: never the secret."""
        if trait.name == "secret_key" and inst is not None and inst.secret_key:
            shown = super().class_get_trait_help(trait, None, helptext)
            return f"{shown}\n    Current: {messages.REDACTED!r}"
        return super().class_get_trait_help(trait, inst, helptext)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        for trait in self._MIRRORED:
            self._mirror(trait, getattr(self, trait))

    @validate("max_memory")
    def _valid_budget(self, proposal: dict) -> int | float | str:
        try:
            parse_budget(proposal["value"])
        except ValueError:
            raise TraitError(messages.bad_memory_budget_error(proposal["value"])) from None
        return proposal["value"]

    @validate("store")
    def _valid_store(self, proposal: dict) -> str:
        try:
            check_location(proposal["value"])
        except UnknownStoreError as unknown:
            raise TraitError(str(unknown)) from None
        return str(proposal["value"])

    @validate("secret_key")
    def _masked_secret(self, proposal: dict) -> str:
        value = proposal["value"]
        return _Secret(value) if value else value

    @observe(*_MIRRORED)
    def _setting_changed(self, change: dict) -> None:
        self._mirror(change["name"], change["new"])

    def _mirror(self, trait: str, value: Any) -> None:
        if trait in ("store", "secret_key", "s3_endpoint"):
            value = value or None  # empty: the default location / the per-user key
        elif trait == "user_paths":
            value = tuple(value)
        setattr(SETTINGS, self._MIRRORED[trait], value)
        if trait == "s3_endpoint":
            from ..store import persistent as tier

            tier.close()  # the opened store was made for the old endpoint

    @magic_arguments()
    @argument(
        "--allow-mutation",
        action="store_true",
        help="Don't re-hash restored variables on a hit (no mutation warning).",
    )
    @argument("--ttl", type=float, default=None, help="Seconds an entry stays valid.")
    @argument("--quiet", action="store_true", help="No miss/hit note for this cell.")
    @argument("--name", default=None, help="Label of the cell in notes and %%memo_info.")
    @argument(
        "--persist",
        action="store_true",
        help="Also keep the entry in the persistent store (survives restarts, shared).",
    )
    @argument(
        "--explain",
        action="store_true",
        help="Don't run: say whether the cell would hit, or which inputs changed.",
    )
    @argument(
        "--files",
        action="append",
        default=[],
        metavar="PATTERN",
        help="A file or glob the cell depends on that Python's open does not see "
        "(pyarrow, polars, HDF5 readers); quoted or not, repeatable.",
    )
    @line_cell_magic
    def memo(self, line: str, cell: str | None = None) -> Any:
        """Run a cell (or, as %memo, one statement) only when what it reads changed.

        On a hit the cell does not run: the names it bound are bound again to the
        stored objects, its output is replayed and its last value is the result.
        The key is the cell's code (comments and formatting don't count), the
        values of the names it reads before binding them (those starting with _
        too), the code of the user functions it uses, and the options.

            %%memo [--allow-mutation] [--ttl SECONDS] [--quiet] [--name LABEL] [--persist]
                   [--explain] [--files PATTERN]
            %memo [options] <statement>

        With --explain the cell does not run: the result says "would hit" (with the
        entry's age and size) or "would miss" and why, as the miss note would.
        """
        __tracebackhide__ = True  # IPython shows the user's frames only
        if cell is None:
            options_text, cell = split_statement(line)
            if not cell.strip():
                raise UsageError(messages.empty_statement_error())
        else:
            options_text = line
        parsed = parse_argstring(self.memo, options_text)
        if parsed.ttl is not None and parsed.ttl <= 0:
            raise UsageError(messages.bad_cell_option_error("--ttl", parsed.ttl, "seconds > 0"))
        files = tuple(unquoted(pattern) for pattern in parsed.files)  # IPython keeps quotes
        options = CellOptions(
            parsed.allow_mutation, parsed.ttl, parsed.quiet, parsed.name, parsed.persist, files
        )
        if parsed.explain:
            return explain_memo_cell(self.shell, cell, options)
        result = run_memo_cell(self.shell, cell, options)
        return None if cell.rstrip().endswith(";") else result  # `;` hides it, as usual

    @line_magic
    def memo_explain(self, line: str = "") -> Explanation:
        """Would this call of a @memo function hit?  ``%memo_explain f(2, b=21)``.

        The function and its arguments are evaluated in the notebook; the function is
        not called.  The answer is "would hit" (where, age, size) or "would miss" and
        why, worded as the miss note would be.  For a cell: ``%%memo --explain``.
        """
        fn, args, kwargs = memoized_call(self.shell, line, "memo_explain")
        return fn.explain(*args, **kwargs)

    @line_magic
    def memo_verify(self, line: str = "") -> None:
        """``%memo_verify f(2, 21)`` or ``NAME`` (a function's entries made here, a label's
        last cell): run again; "fresh", or "STALE" naming what the key cannot see."""
        verify_line(self.shell, line.strip(), self._owners_named)

    @line_magic
    def memo_info(self, line: str = "") -> messages.InfoTable | messages.StoreTable:
        """Table of every memoized function and cell: entries, hits, misses, memory.

        %memo_info           this kernel's cache
        %memo_info NAME      that function's or cell's entries: inputs, age, hits,
                             size and how long each took to run
        %memo_info --store   what the persistent store holds, per function or cell
        """
        if line.strip() == "--store":
            return store_table()
        name = line.strip().strip("\"'")
        if name:
            return self._entry_table(name)
        rows: list[tuple[str, ...]] = []
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
                    str(len({s.path for e in entries for s in e.files if not s.is_dir})),
                    messages.reasons_text(stats.last_reasons),
                )
            )
        return messages.InfoTable(rows)

    def _entry_table(self, name: str) -> messages.InfoTable:
        owners = self._owners_named(name, "memo_info")
        now = time.time()
        rows = [entry_facts(entry, now).row() for owner in owners for entry in STORE.entries(owner)]
        outdated = sum(stats.evicted_outdated for owner, stats in STORE.owners() if owner in owners)
        touched = tuple(t for owner, s in STORE.owners() if owner in owners for t in s.unseen)
        title = messages.entry_heading(name, len(rows), outdated, touched)
        return messages.InfoTable(rows, messages.ENTRY_COLUMNS, title)

    def _owners_named(self, name: str, magic: str = "memo_clear") -> list[str]:
        """The owners ``name`` stands for (a label, an owner, a function's short name)."""
        matches = [owner for owner, stats in STORE.owners() if named(name, owner, stats.label)]
        if not matches:
            known = sorted(stats.label for _, stats in STORE.owners())
            raise UsageError(messages.unknown_cache_name(name, known, magic))
        return matches

    @line_magic
    def memo_clear(self, line: str = "") -> None:
        """Empty the whole cache, one function or cell (a NAME from %memo_info), or the
        one entry of a call, in memory and in the persistent store when one is in use.

            %memo_clear [NAME]            memory, and those persisted entries
            %memo_clear f(2, 21)          the one entry of that call
            %memo_clear --memory [NAME]   memory only: persisted entries are kept
            %memo_clear --store [NAME]    the persistent store only: all of it, or NAME's
        """
        flags, text = clear_flags(line.strip())
        if flags == {"--store", "--memory"}:
            raise UsageError(messages.clear_flags_error())
        if "--store" in flags:
            clear_store(text.strip("\"'"))
            return
        store = "--memory" not in flags
        if is_call(text):
            fn, args, kwargs = memoized_call(self.shell, text, "memo_clear")
            removed = clear_one(fn, fn._key(args, kwargs), store)
            notify.emit(cleared(fn.describe((args, kwargs)), int(removed), store))
            return
        name = text.strip("\"'")  # %memo_clear "cell [df]" works too
        tier = persistent.in_use() if store else None
        if not name:
            known = {owner for owner, _ in STORE.owners()}
            notify.emit(cleared(messages.EVERYTHING, clear_all(), store))
            persisted.clear_and_say(tier, known, messages.EVERYTHING)
            return
        matches = {owner for owner, stats in STORE.owners() if named(name, owner, stats.label)}
        if not matches and tier is not None:
            stored = listing(tier, "memo_clear")[0]
            matches = {p.owner for p in stored if named(name, p.owner, p.label)}
        if not matches:
            known_names = sorted(stats.label for _, stats in STORE.owners())
            raise UsageError(messages.unknown_cache_name(name, known_names))
        count = sum(len(STORE.entries(owner)) for owner in matches)
        for owner in matches:
            STORE.clear(owner)
        notify.emit(cleared(name, count, store))
        persisted.clear_and_say(tier, matches, name)


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


_loaded: dict[int, dict[str, Any]] = {}


def load(shell: Any) -> None:
    """Register the magics, route notes into cells and put ``memo`` in the namespace."""
    if id(shell) in _loaded:
        return
    usercode.set_starting_folder(getattr(shell, "starting_dir", None))
    magics = MemoMagics(shell=shell)
    shell.register_magics(magics)
    probe = _display_probe(shell)
    sink = CellSink(show)
    notify.set_sink(sink)
    notify.set_spinner(Spinner)
    shell.events.register("pre_run_cell", sink.cell_started)
    shell.events.register("post_run_cell", sink.cell_finished)
    notify.add_display_probe(probe)
    existing = shell.user_ns.get("memo", memo)
    added_memo = "memo" not in shell.user_ns
    if existing is not memo:
        notify.emit(messages.name_taken_note("memo"))
    elif added_memo:
        shell.push({"memo": memo}, interactive=False)
    _loaded[id(shell)] = {"magics": magics, "probe": probe, "memo": added_memo, "sink": sink}


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
    shell.configurables[:] = [c for c in shell.configurables if c is not magics]
    notify.remove_display_probe(state["probe"])
    sink = state["sink"]
    for event, callback in (
        ("pre_run_cell", sink.cell_started),
        ("post_run_cell", sink.cell_finished),
    ):
        with contextlib.suppress(ValueError):
            shell.events.unregister(event, callback)
    notify.set_sink(None)
    notify.set_spinner(None)
    if state["memo"] and shell.user_ns.get("memo") is memo:
        del shell.user_ns["memo"]
        shell.user_ns_hidden.pop("memo", None)
