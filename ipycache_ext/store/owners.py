"""Which function or cell each persisted entry belongs to, so the persistent store can
be listed (``%memo_info --store``) and cleared by function or cell (``f.cache_clear()``,
``%memo_clear NAME``, ``memo.clear()``), not only as a whole.

An entry's name is a digest of its owner and key (:meth:`Tier.entry_key`): the owner
cannot be read back from it.  So each saved entry gets a small index record beside it,
``idx-<entry name>``, holding its owner and label (JSON, never unpickled) with the
entry's ttl.  An index record whose entry is gone (evicted, expired, rejected) is
dropped when the store is next listed or cleared; an entry without one (written by an
older version) is listed as unknown and only ``%memo_clear --store`` removes it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from .. import messages, notify
from ..parts import Owner
from .backends.base import INDEX_PREFIX
from .index import read
from .persistent import Tier


@dataclass
class Persisted:
    """What the store holds for one owner: its label and its entries' names.  ``owner``
    is the owner as the stores name it (:attr:`~ipycache_ext.parts.Owner.stored`)."""

    owner: str
    label: str
    entries: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """A function's or a cell's entries (read from the structured owner)."""
        return Owner.read(self.owner).kind.value


def listing(tier: Tier) -> tuple[list[Persisted], int]:
    """Every owner with entries in the store, and how many entries have no owner known."""
    backend = tier.backend
    entries = set(backend.keys())
    found: dict[str, Persisted] = {}
    owned: set[str] = set()
    for name in sorted(backend.index_names()):
        entry = name[len(INDEX_PREFIX) :]
        owner_label = read(backend, name)
        if entry not in entries or owner_label is None:
            with contextlib.suppress(Exception):
                backend.delete(name)  # its entry is gone: the record is stale
            continue
        owner, label = owner_label
        found.setdefault(owner, Persisted(owner, label)).entries.append(entry)
        owned.add(entry)
    return sorted(found.values(), key=lambda p: p.label), len(entries - owned)


def clear_owners(tier: Tier, owners: set[str]) -> int:
    """Delete the persisted entries of ``owners``; how many there were."""
    if not owners:
        return 0
    count = 0
    for persisted in listing(tier)[0]:
        if persisted.owner in owners:
            for entry in persisted.entries:
                tier.backend.delete(entry)
                tier.backend.delete(INDEX_PREFIX + entry)
                count += 1
    return count


def clear_store(tier: Tier) -> int:
    """Delete every entry of the store and its index (locks of running kernels stay).
    A store that can tell its own entries from objects that only bear an entry's name
    (``owned``: an S3 prefix others may write into) deletes only its own."""
    names = tier.backend.owned(tier.backend.keys())
    for name in names:
        tier.backend.delete(name)
    for name in tier.backend.index_names():
        tier.backend.delete(name)
    return len(names)


def clear_and_say(tier: Tier | None, owner_names: set[str], what: str) -> int:
    """:func:`clear_owners` with a note saying how many went (or the store's fault)."""
    if tier is None:
        return 0
    try:
        count = clear_owners(tier, owner_names)
    except Exception as exc:
        say_unreachable(tier, what, exc)
        return 0
    notify.emit(messages.cleared_store_note(what, count, tier.backend.where))
    return count


def say_unreachable(tier: Tier, what: str, exc: BaseException) -> None:
    """A clear that could not reach the store says so (always: the user asked for it)."""
    notify.emit(messages.clear_unreachable_warning(what, tier.backend.where, exc))
    tier.fault_said()
