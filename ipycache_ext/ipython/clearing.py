"""The clears and the store listing behind ``%memo_clear`` and ``%memo_info --store``:
which flags a clear was given, what it says it removed, and the persistent store's
entries by function or cell (a store that does not answer is one line, not the client
library's traceback)."""

from __future__ import annotations

from IPython.core.error import UsageError

from .. import messages, notify
from ..store import owners as persisted
from ..store import persistent

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


def cleared(what: str, count: int, store: bool) -> messages.Note:
    return (
        messages.cleared_note(what, count) if store else messages.cleared_memory_note(what, count)
    )


def named(name: str, owner: str, label: str) -> bool:
    return name in (label, owner, owner.rsplit(".", 1)[-1])


def open_store() -> persistent.Tier:
    found = persistent.tier(True)
    if found is None:
        raise UsageError(messages.no_store_error())
    return found


def clear_store(name: str) -> None:
    """``%memo_clear --store [NAME]``: the persistent store's entries (all, or NAME's)."""
    tier = open_store()
    if not name:
        try:
            count = persisted.clear_store(tier)
        except Exception as exc:
            persisted.say_unreachable(tier, messages.EVERYTHING, exc)
            return
        notify.emit(messages.cleared_store_note(messages.EVERYTHING, count, tier.backend.where))
        return
    found = listing(tier, "memo_clear")[0]
    matches = {p.owner for p in found if named(name, p.owner, p.label)}
    if not matches:
        raise UsageError(messages.unknown_stored_name(name, sorted(p.label for p in found)))
    persisted.clear_and_say(tier, matches, name)


def store_table() -> messages.StoreTable:
    """``%memo_info --store``: what the persistent store holds, per function or cell."""
    tier = open_store()
    found, unknown = listing(tier, "memo_info")
    listed = [(p.label, p.kind, str(len(p.entries))) for p in found]
    return messages.StoreTable(tier.backend.where, listed, unknown)


def listing(tier: persistent.Tier, magic: str) -> tuple[list[persisted.Persisted], int]:
    """:func:`.owners.listing`, or a one-line UsageError when the store does not answer."""
    try:
        return persisted.listing(tier)
    except Exception as exc:
        where = tier.backend.where
        raise UsageError(messages.store_unreachable_error(magic, where, exc)) from None
