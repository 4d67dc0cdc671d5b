"""What a handler may ask of the hasher that calls it, as a protocol.

The handler table (:mod:`.handlers`) and the hasher (:mod:`.core`) both need this
type, and neither may import the other for it: the hasher consults the table, so
the table knows the hasher only by what it offers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar


class Nested(Protocol):
    """A hasher as a handler sees it (:class:`.core.Hasher` is the one there is)."""

    has_hash_funcs: bool

    def digest(self, value: Any, where: str = ..., param: str | None = ...) -> bytes: ...

    def digest_nested(self, value: Any) -> bytes: ...


# ``handler(value, hasher)``: the 16-byte digest of ``value``, or None to hash it by
# its state.
Handler = Callable[[Any, Nested], "bytes | None"]
# A handler written for a hasher class of its own (``hasher: Hasher``).
HasherT = TypeVar("HasherT", bound=Nested)
