"""The thin IPython layer: settings as traitlets, notes in the cell, load and unload.

``%config MemoMagics.notes = False`` turns the miss/hit notes off for the kernel
(warnings stay); ``%config MemoMagics.spinner_delay = 2.0`` sets when a long miss
starts showing what is running; ``MemoMagics.persist``, ``.store``, ``.max_disk_bytes``
and ``.secret_key`` configure the persistent store.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import observe, validate

from .. import admin, messages, notify
from ..deps import usercode
from ..errors import CacheLookupError
from ..memo import memo
from .calls import is_call, memoized_call
from .cellrun import CellOptions, explain_memo_cell, run_memo_cell, split_statement, unquoted
from .settings import apply, magic_settings, proposed, setting_traits, trait_help_masked
from .sink import CellSink, show
from .spinner import Spinner
from .verifying import verify_line


@magics_class
class MemoMagics(Magics):
    """ipycache_ext's magics and kernel-wide settings (one trait per setting that
    :mod:`ipycache_ext.config` declares, mirrored into ``config.SETTINGS``)."""

    # Made from config's table, so default, bounds and help are declared once.
    locals().update(setting_traits())

    @classmethod
    def class_get_trait_help(cls, trait: Any, inst: Any = None, helptext: Any = None) -> str:
        """``%config MemoMagics`` shows each trait's current value: never the secret."""
        if inst is not None and trait_help_masked(trait.name, getattr(inst, trait.name)):
            shown = super().class_get_trait_help(trait, None, helptext)
            return f"{shown}\n    Current: {messages.REDACTED!r}"
        return super().class_get_trait_help(trait, inst, helptext)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        for name in magic_settings():
            apply(name, getattr(self, name))

    @validate(*magic_settings())
    def _checked(self, proposal: dict) -> Any:
        return proposed(proposal["trait"].name, proposal["value"])

    @observe(*magic_settings())
    def _setting_changed(self, change: dict) -> None:
        apply(change["name"], change["new"])

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
    def memo_explain(self, line: str = "") -> messages.Explanation:
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
        verify_line(self.shell, line.strip(), owners_named)

    @line_magic
    def memo_info(self, line: str = "") -> messages.InfoTable | messages.StoreTable:
        """Table of every memoized function and cell: entries, hits, misses, memory.

        %memo_info           this kernel's cache
        %memo_info NAME      that function's or cell's entries: inputs, age, hits,
                             size and how long each took to run
        %memo_info --store   what the persistent store holds, per function or cell
        """
        name = line.strip().strip("\"'")
        with usage_errors():
            if line.strip() == "--store":
                return admin.store_table()
            return admin.entry_table(name) if name else admin.info_table()

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
        store = "--memory" not in flags
        name = text.strip("\"'")  # %memo_clear "cell [df]" works too
        with usage_errors():
            if "--store" in flags:
                admin.clear_store(name)
            elif is_call(text):
                fn, args, kwargs = memoized_call(self.shell, text, "memo_clear")
                admin.clear_call(fn, fn._key(args, kwargs), fn.describe((args, kwargs)), store)
            elif name:
                admin.clear_named(name, store)
            else:
                admin.clear_memo(store=store, say=True)


_CLEAR_FLAGS = ("--store", "--memory")


def clear_flags(text: str) -> tuple[set[str], str]:
    """``%memo_clear``'s leading flags, and the NAME or call after them."""
    flags: set[str] = set()
    while True:
        head, _, rest = text.partition(" ")
        if head not in _CLEAR_FLAGS:
            return flags, text
        flags.add(head)
        text = rest.strip()


@contextlib.contextmanager
def usage_errors() -> Iterator[None]:
    """A name the cache does not hold, or a store that does not answer, is one line."""
    try:
        yield
    except CacheLookupError as refused:
        raise UsageError(str(refused)) from None


def owners_named(name: str, magic: str) -> list[str]:
    with usage_errors():
        return admin.owners_named(name, magic)


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
