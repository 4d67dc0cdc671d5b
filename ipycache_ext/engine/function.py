"""What a memoized function is to the engine: its :class:`~.subject.Subject`.

How a call reads in notes (``f(2, b=21)``), the spinner and output watch around a
miss, results that must not be stored (an iterator a hit would hand out used up), the
mutation check of a stored result, and the arguments of the last misses kept for
``%memo_verify NAME``.  The ``@memo`` front (:mod:`..memo`) builds it from its options.
"""

from __future__ import annotations

import functools
import io
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager
from typing import Any

from .. import messages, notify
from ..errors import UnhashableTypeError, UserHashError
from ..hashing.core import Hasher
from ..store.memory import Entry
from .mutation import fingerprint, never_mutated, private_copy, was_mutated
from .run import Spinning
from .subject import Subject

FunctionCall = tuple[tuple, dict]  # (args, kwargs)

# How many misses' arguments a function keeps to run again (up to twice that between
# trims).
RECALLED = 16

# Results of these types cannot be mutated, so a hit need not re-hash them.
_IMMUTABLE = frozenset({int, float, complex, str, bytes, bool, type(None), range})

# Containers: iterable many times over, never "used up" by reading them.
_CONTAINERS = frozenset({list, tuple, dict, set, frozenset, str, bytes, bytearray, range})


class FunctionSubject(Subject[FunctionCall]):
    """What a memoized function is to the engine: how a call reads in notes, the
    spinner and output watch around a miss, and the mutation check of its result."""

    def __init__(
        self,
        name: str,
        hasher: Hasher,
        *,
        spinner: bool | str = True,
        output_warned: bool = True,
        copy: bool = False,
        fingerprinted: bool = True,
    ) -> None:
        super().__init__("function", True, hasher)
        self.name = name
        self.spinner = spinner  # a str: the text shown while a miss runs
        self.output_warned = output_warned  # a run that prints is warned about
        self.copy = copy  # each caller gets a private copy of the result
        self.fingerprinted = fingerprinted  # a hit checks the result was not mutated
        self.hands_out_stored = not copy
        self.recalled: dict[bytes, FunctionCall] = {}
        self._warned_unhashable = False
        self._warned_iterator = False

    def describe(self, call: FunctionCall) -> str:
        return messages.describe_call(self.name, *call)

    def running(self, call: FunctionCall) -> AbstractContextManager[list[bool]]:
        """The spinner (outermost miss only) and the watch for output while it runs."""
        spinner = self.spinner
        if not (spinner and notify.spinning() and self.outermost_run()):
            return notify.OutputWatch()  # no spinner note to build: nothing shows it
        if isinstance(spinner, str):
            make = functools.partial(messages.spinner_text_note, spinner)
        else:
            make = functools.partial(self._running_note, call)
        return Spinning(notify.spinner(make), notify.OutputWatch())

    def _running_note(self, call: FunctionCall) -> messages.Note:
        """The note of a miss still running after the spinner's delay (built only then)."""
        return messages.running_note(self.describe(call))

    def after_miss(self, call: FunctionCall, stored: Any, watch: list[bool]) -> None:
        if watch[0] and self.output_warned:
            notify.emit(messages.output_warning(self.name))

    def not_storable(self, stored: Any) -> bool:
        """A generator, ``map``, an open file...: a hit would hand out an exhausted one."""
        if (
            type(stored) in _IMMUTABLE
            or type(stored) in _CONTAINERS
            or not isinstance(stored, (Iterator, AsyncIterator, io.IOBase))
        ):
            return False
        if not self._warned_iterator:
            self._warned_iterator = True
            type_name = type(stored).__name__
            notify.emit(messages.iterator_result_warning(self.name, type_name))
        return True

    def recall(self, digest: bytes, call: FunctionCall) -> None:
        """Keep the last misses' arguments (by reference) for ``%memo_verify NAME``."""
        recalled = self.recalled
        recalled[digest] = call
        if len(recalled) > 2 * RECALLED:
            self.recalled = dict(list(recalled.items())[-RECALLED:])

    def result_of(self, call: FunctionCall, stored: Any) -> Any:
        return private_copy(stored) if self.copy else stored

    def deliver(self, call: FunctionCall, entry: Entry, loaded_from: str | None) -> Any:
        if loaded_from is not None:
            notify.emit(messages.loaded_note(self.describe(call), loaded_from))
        return private_copy(entry.value) if self.copy else entry.value

    def fingerprint(self, stored: Any) -> bytes | None:
        if not self.fingerprinted or type(stored) in _IMMUTABLE or never_mutated(stored):
            return None
        try:
            found = fingerprint(self.hasher, stored, "the result")
            problem = messages.unstable_result_warning(self.name, type(stored).__name__)
        except (UnhashableTypeError, UserHashError) as err:
            found = None
            problem = messages.unhashable_result_warning(self.name, err)
        if found is None and not self._warned_unhashable:
            self._warned_unhashable = True
            notify.emit(problem)
        return found

    def check_mutation(self, call: FunctionCall, entry: Entry) -> None:
        if was_mutated(self.hasher, entry.value, entry.fingerprint, "the result"):
            notify.emit(messages.mutation_warning(self.describe(call), self.name))

    def result_digest(self, stored: Any) -> bytes:
        return self.hasher.digest(stored, "the result")

    def unpicklable_warning(self, stored: Any, exc: BaseException) -> messages.Note:
        return messages.unpicklable_warning(self.name, type(stored).__name__, exc)


__all__ = ["RECALLED", "FunctionCall", "FunctionSubject"]
