"""The key of a call or a cell: what it depends on, as structured parts, and one digest.

The parts are kept with the entry (as a :data:`~ipycache_ext.parts.Snapshot`), so a
later miss can say which of them changed (:mod:`.why`).  A function's calls are keyed
through :mod:`.call` (which walks the code once and reuses it on guards), a cell's
through :mod:`.cell`; both digest their parts here.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Iterable
from typing import Any

import xxhash

from ..deps.native import VALUE_KINDS
from ..deps.pathlike import Named, function_strings
from ..parts import Owner, OwnerKind, Part, PartKind, Snapshot, part_id
from .shown import snapshot

pack_len = struct.Struct("<I").pack

# What every cell's digest starts with: a cell's entries are told apart by its owner
# (the stores' names), not by its key.
CELL_IDENTITY = b"cell"


class CallKey:
    """A call's (or cell's) digest and the parts it was made of (made when first
    asked for: a hit needs the digest only)."""

    __slots__ = ("digest", "_parts", "_make", "_source")

    def __init__(
        self,
        digest: bytes,
        parts: list[Part] | None = None,
        make: Callable[[Any], list[Part]] | None = None,
        source: Any = None,
    ) -> None:
        self.digest = digest
        self._parts = parts
        self._make = make
        self._source = source

    @property
    def parts(self) -> list[Part]:
        if self._parts is None:
            assert self._make is not None
            self._parts = self._make(self._source)
        return self._parts

    def snapshot(self) -> Snapshot:
        """What an entry keeps of these parts (see :func:`.shown.snapshot`)."""
        return snapshot(self.parts)

    def named(self) -> Named:
        """What the key's values and code name that may be files (see
        :mod:`..deps.pathlike`): asked on every miss."""
        return named_in(self.parts)


def identity_of(owner: Owner) -> bytes:
    """What an owner's key digests start with: a function's ``module.qualname``, so
    two functions called alike have different keys; :data:`CELL_IDENTITY` for a cell.
    Persisted entries are named by these digests: the bytes must never change."""
    return CELL_IDENTITY if owner.kind is OwnerKind.CELL else owner.name.encode()


def named_in(parts: Iterable[Part]) -> Named:
    """:meth:`CallKey.named` of ``parts``: the values they hold and the constants of
    the code they name."""
    named = Named()
    functions = []
    for part in parts:
        if part.kind is PartKind.CODE:
            functions.append(part.value)
        elif not part.by_name and part.kind in VALUE_KINDS:
            named.add_value(part.value)
    named.add_strings(function_strings(functions))
    return named


def digest_parts(identity: bytes, parts: list[Part]) -> bytes:
    """One digest of the ids and the length-prefixed data of every part."""
    chunks = [identity]
    for part in parts:
        chunks += (id_bytes(part.kind, part.name, part.via), pack_len(len(part.data)), part.data)
    return xxhash.xxh3_128_digest(b"".join(chunks))


@functools.lru_cache(maxsize=4096)
def id_bytes(kind: PartKind, name: str, via: tuple[str, ...]) -> bytes:
    """A part's id as it enters a key (ids repeat from call to call: encode them once)."""
    return "\x1f".join(part_id(kind, name, via)).encode() + b"\0"


def part_chunk(part: Part) -> bytes:
    """What one part adds to a key's digest (see :func:`digest_parts`)."""
    return id_bytes(part.kind, part.name, part.via) + pack_len(len(part.data)) + part.data
