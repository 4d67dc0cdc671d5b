"""What a cached thing (a function, a cell) tells the engine, as three roles.

The engine (:mod:`.cached`) decides *when* each step runs; a subject says *what* the
step means for it.  A function and a cell differ in three ways, one role each:

- :class:`Keying`: how a call is named in notes and what its code uses beyond its
  key's parts (a cell's namespace and string constants);
- :class:`Running`: the context around a miss's run, what it stores of what the run
  returned, and what the caller gets back;
- :class:`Result`: how a stored entry is handed out (a value, a replayed cell), its
  mutation check, and whether it may be persisted.

Every method has a body that does the plain thing, so a subject writes only what
differs.  :class:`Policy` holds the options every cached thing has (``validate``
included: a check of the stored value, not a method to override).  The engine reads
nothing of its subject but these roles and :class:`Subject`'s three fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .run import depth

if TYPE_CHECKING:
    from .. import messages
    from ..hashing.core import Hasher
    from ..store.memory import Entry

Call = TypeVar("Call")  # what one call carries to the roles: arguments, or a cell's run


@dataclass(frozen=True)
class Policy:
    """The options every cached thing has, validated by its front end."""

    ttl: float | None = None
    max_entries: int | None = None
    persist: bool | None = None  # None: follow ``%config MemoMagics.persist``
    allow_mutation: bool = False
    quiet: bool = False  # no miss/hit notes of its own (warnings still show)
    max_size: int | None = None  # bytes this function's entries may hold together
    verify_share: float | None = None  # None: follow ``%config MemoMagics.verify_share``
    validate: Callable[[Any], Any] | None = None  # False (or raising) drops an entry

    @property
    def checks_hits(self) -> bool:
        """Whether a memory hit needs more than its files checked: ``validate``, or an
        own share of hits to re-run.  If not, a hit is found and counted in one step."""
        return self.validate is not None or bool(self.verify_share)


class Keying(Generic[Call]):
    """How a call is named, and what its code uses that the key's parts do not show."""

    def describe(self, call: Call) -> str:
        """What ran, for notes (``f(2, b=21)``, ``cell [df]``)."""
        raise NotImplementedError

    def names_used(self, call: Call) -> Iterable[str]:
        """Names the cached code uses beyond its functions' code objects (a cell's)."""
        return ()

    def values_used(self, call: Call) -> Iterable[tuple[str, Any]]:
        """``(name, value)`` the code reads beyond its key's parts (a cell's namespace)."""
        return ()

    def code_strings(self, call: Call) -> Iterable[str]:
        """String constants that may name files (:mod:`..deps.pathlike`)."""
        return ()


class Running(Generic[Call]):
    """A miss's run: its context, what is stored of it, and what the caller gets."""

    def running(self, call: Call) -> AbstractContextManager[Any]:
        """Context around a miss's run; what it yields is passed to :meth:`stored_value`."""
        raise NotImplementedError

    def stored_value(self, call: Call, value: Any, watch: Any) -> Any:
        """What to store for a run that returned ``value`` (a result, or a cell's record)."""
        return value

    def not_storable(self, stored: Any) -> bool:
        """True for a value that must not be stored at all (an iterator a hit would hand
        out used up): the miss returns it and stores nothing; this method says why."""
        return False

    def after_miss(self, call: Call, stored: Any, watch: Any) -> None:
        """Warnings about the run itself (it printed output, ...)."""

    def recall(self, digest: bytes, call: Call) -> None:
        """Keep what a miss was called with, so ``%memo_verify NAME`` can run it again."""

    def result_of(self, call: Call, stored: Any) -> Any:
        """What a miss returns, given what it stored."""
        return stored


class Result(Generic[Call]):
    """A stored entry: how a hit hands it out, checks it, and whether it persists.

    ``hands_out_stored``: a memory hit returns ``entry.value`` itself, so the hit path
    skips :meth:`deliver`.  ``rerun_delivers``: a re-run (``verify_share``) already did
    what a hit delivers (a cell bound its names and showed its output)."""

    hands_out_stored = False
    rerun_delivers = False

    def deliver(self, call: Call, entry: Entry, loaded_from: str | None) -> Any:
        """Hand a stored entry back to the caller (replaying a cell), notes included."""
        return entry.value

    def fingerprint(self, stored: Any) -> Any:
        """What the mutation check compares later (None: nothing to check)."""
        return None

    def check_mutation(self, call: Call, entry: Entry) -> None:
        """Warn if the stored value changed since :meth:`fingerprint`."""

    def result_digest(self, stored: Any) -> bytes:
        """What ``verify`` compares a stored and a new result by."""
        raise NotImplementedError

    def persist_refusal(self, stored: Any) -> messages.Note | None:
        """A warning if this value must not be persisted (then it is not)."""
        return None

    def unpicklable_warning(self, stored: Any, exc: BaseException) -> messages.Note:
        """The warning when pickling ``stored`` for the persistent store failed."""
        raise NotImplementedError


class Subject(Keying[Call], Running[Call], Result[Call]):
    """A function or a cell as the engine sees it: the three roles, its ``kind``
    ("function", "cell") for messages, the ``hasher`` its key and checks use, and
    whether its misses ``nest`` (a function called inside another miss gets no note of
    its own: the outer miss is what the user ran)."""

    def __init__(self, kind: str, nests: bool, hasher: Hasher) -> None:
        self.kind = kind
        self.nests = nests
        self.hasher = hasher

    def outermost_run(self) -> bool:
        """True inside :meth:`running` of a miss that no other miss encloses."""
        return depth.get() == 1 or not self.nests


__all__ = ["Call", "Policy", "Keying", "Running", "Result", "Subject"]
