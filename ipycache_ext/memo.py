"""The ``@memo`` decorator: key -> lookup -> compute once -> remember -> check on hit."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import functools
import inspect
import threading
import time
import types
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from . import messages, notify
from .deps.code import short_name
from .errors import MemoOptionError, Subject, UnhashableTypeError, UserHashError
from .hashing.core import Hasher
from .keys import CallKey, CallShape, describe_call, key_of_call, snapshot, why_missed
from .mutation import fingerprint, was_mutated
from .store import tier as persist
from .store.memory import STORE, Entry
from .store.tier import Tier

# Results of these types cannot be mutated, so a hit need not re-hash them.
_IMMUTABLE = frozenset({int, float, complex, str, bytes, bool, type(None), range})


_nesting = threading.local()  # misses running on this thread, outermost first


def _no_store(owner: str, key: bytes, label: str) -> contextlib.nullcontext[None]:
    """Stands in for ``Tier.computing`` when nothing is persisted."""
    return contextlib.nullcontext(None)


class CacheInfo(NamedTuple):
    """Same fields as ``functools.lru_cache``'s."""

    hits: int
    misses: int
    maxsize: int | None
    currsize: int


def _check_options(max_entries: Any, ttl: Any, hash_funcs: Any) -> float | None:
    """Validate options early (at decoration) and return ttl in seconds."""
    if max_entries is not None and (
        not isinstance(max_entries, int) or isinstance(max_entries, bool) or max_entries < 1
    ):
        raise MemoOptionError(
            messages.bad_option_error("max_entries", max_entries, "None or an int >= 1")
        )
    if hash_funcs is not None and not isinstance(hash_funcs, dict):
        raise MemoOptionError(messages.bad_option_error("hash_funcs", hash_funcs, "a dict"))
    if ttl is None:
        return None
    if isinstance(ttl, _dt.timedelta):
        ttl = ttl.total_seconds()
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
        raise MemoOptionError(messages.bad_option_error("ttl", ttl, "seconds > 0 or a timedelta"))
    return float(ttl)


class MemoizedFunction:
    """A function whose results are reused while everything they depend on is unchanged."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        allow_output_mutation: bool = False,
        suppress_warning: bool = False,
        hash_funcs: dict | None = None,
        max_entries: int | None = None,
        ttl: float | _dt.timedelta | None = None,
        show_spinner: bool = True,
        persist: bool | None = None,
    ) -> None:
        fn = getattr(fn, "__memo_wrapped__", fn)
        if not isinstance(fn, types.FunctionType):
            raise MemoOptionError(messages.bad_option_error("function", fn, "a Python function"))
        if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
            raise MemoOptionError(messages.generator_function_error(fn.__qualname__))
        self._ttl = _check_options(max_entries, ttl, hash_funcs)
        functools.update_wrapper(self, fn)
        self.__memo_wrapped__ = fn  # functools.update_wrapper set __wrapped__ too
        self._name = short_name(fn)
        self._owner = f"{fn.__module__}.{fn.__qualname__}"
        self._identity = self._owner.encode()
        self._shape = CallShape(fn)
        self._hasher = Hasher(hash_funcs, subject=Subject("function", self._name))
        self._allow_mutation = allow_output_mutation
        self._suppress_warning = suppress_warning
        self._max_entries = max_entries
        self._show_spinner = show_spinner
        self._persist = persist
        self._is_async = inspect.iscoroutinefunction(fn)
        self._warned_unhashable = False
        self._ainflight: dict[bytes, asyncio.Future] = {}
        STORE.stats(self._owner, self._name).max_entries = max_entries

    def __repr__(self) -> str:
        return f"<memoized function {self._owner}>"

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return types.MethodType(self, instance)

    # ----- public API ------------------------------------------------------------------

    def cache_info(self) -> CacheInfo:
        stats = STORE.stats(self._owner, self._name)
        return CacheInfo(stats.hits, stats.misses, self._max_entries, STORE.count(self._owner))

    def cache_clear(self) -> None:
        STORE.clear(self._owner)

    # ----- the call --------------------------------------------------------------------

    def _key(self, args: tuple, kwargs: dict) -> CallKey:
        return key_of_call(
            self.__memo_wrapped__, self._identity, self._shape, self._hasher, args, kwargs
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # IPython shows the user's frames only
        if self._is_async:
            return self._acall(args, kwargs)
        key = self._key(args, kwargs)
        while True:
            entry = STORE.get(self._owner, key.digest)
            if entry is not None:
                return self._hit(entry, lambda: describe_call(self._name, args, kwargs))
            pending = STORE.claim(self._owner, key.digest)
            if pending is None:
                break
            pending.wait()
        try:
            # The miss runs in this frame (no helper in between): a recursive memoized
            # function costs two stack frames a level, the function's and this one.
            tier = self._tier()
            computing = _no_store if tier is None else tier.computing
            with computing(self._owner, key.digest, self._name) as stored:
                if stored is not None:
                    return self._adopt(key, stored, tier, args, kwargs)
                what = describe_call(self._name, args, kwargs)
                started = time.perf_counter()
                with self._running(what) as wrote:
                    value = self.__memo_wrapped__(*args, **kwargs)
                self._remember(key, value, time.perf_counter() - started, what, wrote[0], tier)
                return value
        finally:
            STORE.release(self._owner, key.digest)

    def _tier(self) -> Tier | None:
        wanted = persist.Settings.default if self._persist is None else self._persist
        return persist.tier() if wanted else None

    def _adopt(self, key: CallKey, stored: Any, tier: Tier, args: tuple, kwargs: dict) -> Any:
        """A value another kernel (or an earlier one) stored: it joins the memory tier."""
        entry = Entry(stored["value"], stored["digest"], stored["parts"], stored["seconds"])
        if self._ttl is not None:
            entry.expires = time.monotonic() + self._ttl
        STORE.put(self._owner, key.digest, entry, self._max_entries)
        stats = STORE.stats(self._owner, self._name)
        with STORE.lock:
            stats.hits += 1
            stats.last_parts = entry.parts
        what = describe_call(self._name, args, kwargs)
        notify.emit(messages.loaded_note(what, tier.backend.where))
        return entry.value

    async def _acall(self, args: tuple, kwargs: dict) -> Any:
        __tracebackhide__ = True  # IPython shows the user's frames only
        key = self._key(args, kwargs)
        while True:
            entry = STORE.get(self._owner, key.digest)
            if entry is not None:
                return self._hit(entry, lambda: describe_call(self._name, args, kwargs))
            pending = self._ainflight.get(key.digest)
            if pending is None:
                break
            await asyncio.shield(pending)
        future = asyncio.get_running_loop().create_future()
        self._ainflight[key.digest] = future
        try:
            tier = self._tier()
            stored = tier.load(self._owner, key.digest, self._name) if tier else None
            if tier is not None and stored is not None:
                return self._adopt(key, stored, tier, args, kwargs)
            what = describe_call(self._name, args, kwargs)
            started = time.perf_counter()
            with self._running(what) as wrote:
                value = await self.__memo_wrapped__(*args, **kwargs)
            self._remember(key, value, time.perf_counter() - started, what, wrote[0], tier)
            return value
        finally:
            del self._ainflight[key.digest]
            future.set_result(None)

    @contextlib.contextmanager
    def _running(self, what: str) -> Iterator[list[bool]]:
        """Context for a miss: the spinner (if wanted), the output watch, and the depth of
        nested misses (only the outermost one gets a note)."""
        _nesting.depth = getattr(_nesting, "depth", 0) + 1
        try:
            with contextlib.ExitStack() as stack:
                if self._show_spinner and _nesting.depth == 1:
                    stack.enter_context(notify.spinner(messages.running_note(what)))
                yield stack.enter_context(notify.watch_output())
        finally:
            _nesting.depth -= 1

    # ----- after the call --------------------------------------------------------------

    def _digest_of_result(self, value: Any) -> bytes | None:
        if self._allow_mutation or type(value) in _IMMUTABLE:
            return None
        try:
            found = fingerprint(self._hasher, value, "the result")
            problem = messages.unstable_result_warning(self._name, type(value).__name__)
        except (UnhashableTypeError, UserHashError) as err:
            found = None
            problem = messages.unhashable_result_warning(self._name, err)
        if found is None and not self._warned_unhashable:
            self._warned_unhashable = True
            notify.emit(problem)
        return found

    def _remember(
        self,
        key: CallKey,
        value: Any,
        seconds: float,
        what: str,
        wrote: bool,
        tier: Tier | None,
    ) -> None:
        parts = snapshot(key.parts)
        entry = Entry(value, self._digest_of_result(value), parts, seconds)
        entry.fingerprint_later = self._allow_mutation and type(value) not in _IMMUTABLE
        if tier is not None:
            payload = {"value": value, "digest": entry.value_digest, "parts": parts}
            payload["seconds"] = seconds
            tier.save(self._owner, key.digest, payload, self._ttl, self._name)
        if self._ttl is not None:
            entry.expires = time.monotonic() + self._ttl
        stats = STORE.stats(self._owner, self._name)
        reasons = why_missed(stats.last_parts, parts, STORE.how_gone(self._owner, key.digest))
        STORE.put(self._owner, key.digest, entry, self._max_entries)
        outermost = not getattr(_nesting, "depth", 0)
        with STORE.lock:
            stats.misses += 1
            if outermost:  # calls made inside a miss are not what the user compares with
                stats.last_parts = parts
                stats.last_reason = "; ".join(reasons)
        if outermost:
            notify.emit(messages.miss_note(what, seconds, reasons))
        if wrote and not self._suppress_warning:
            notify.emit(messages.output_warning(self._name))

    def _hit(self, entry: Entry, what: Callable[[], str]) -> Any:
        stats = STORE.stats(self._owner, self._name)
        with STORE.lock:
            stats.hits += 1
            if not getattr(_nesting, "depth", 0):
                stats.last_parts = entry.parts
        if self._allow_mutation:
            return entry.value
        if entry.fingerprint_later:
            entry.fingerprint_later = False
            entry.value_digest = self._digest_of_result(entry.value)
        elif was_mutated(self._hasher, entry.value, entry.value_digest, "the result"):
            notify.emit(messages.mutation_warning(what(), self._name))
        return entry.value


def memo(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    allow_output_mutation: bool = False,
    suppress_warning: bool = False,
    hash_funcs: dict | None = None,
    max_entries: int | None = None,
    ttl: float | _dt.timedelta | None = None,
    show_spinner: bool = True,
    persist: bool | None = None,
) -> Any:
    """Memoize ``fn`` on its arguments, the globals it reads and its code, transitively.

    Use as ``@memo`` or ``@memo(option=...)``.  ``persist=True`` also writes entries to
    the persistent store (None follows ``%config MemoMagics.persist``).
    ``memo.clear()`` empties the in-memory cache.
    """
    options = dict(
        allow_output_mutation=allow_output_mutation,
        suppress_warning=suppress_warning,
        hash_funcs=hash_funcs,
        max_entries=max_entries,
        ttl=ttl,
        show_spinner=show_spinner,
        persist=persist,
    )
    if fn is None:
        return lambda f: MemoizedFunction(f, **options)
    return MemoizedFunction(fn, **options)


def clear_all() -> None:
    """Empty the kernel-wide cache (every function and cell)."""
    STORE.clear()


memo.clear = clear_all  # type: ignore[attr-defined]
