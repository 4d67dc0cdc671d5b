"""The ``@memo`` decorator: typed options and a thin front over the engine.

Sync and async functions take the same path (:class:`~ipycache_ext.engine.cached.Cached`);
a function's key (arguments, code and reads) is made here, and what a function is to
the engine (its spinner, output watch and mutation check) is its
:class:`~ipycache_ext.engine.function.FunctionSubject`, built from the options.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import inspect
import types
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from . import errors, messages
from .admin import Explanation, clear_memo, clear_one, clear_owners, explain
from .deps.usercode import short_name
from .engine.cached import Cached
from .engine.function import FunctionCall, FunctionSubject
from .engine.methods import MemoMethod, in_class_body
from .engine.subject import Policy
from .engine.verify import Verification, verify
from .errors import MemoOptionError
from .hashing.core import Hasher
from .keys.call import CallKeys, CallShape, function_owner
from .keys.key import CallKey
from .store.memory import STORE

# The latest engine of each memoized function (``%memo_verify NAME`` finds it there).
ENGINES: weakref.WeakValueDictionary[str, MemoizedFunction] = weakref.WeakValueDictionary()

# Streamlit's legacy ``st.cache`` names for options that mean the same here; its other
# names of the same meaning (persist, hash_funcs, max_entries, ttl, show_spinner,
# allow_output_mutation) are this decorator's own names already.
ALIASES = {"suppress_st_warning": "suppress_warning"}


class CacheInfo(NamedTuple):
    """Same fields as ``functools.lru_cache``'s."""

    hits: int
    misses: int
    maxsize: int | None
    currsize: int


@dataclass(frozen=True)
class MemoOptions:
    """The options of ``@memo``, validated once, when the function is decorated."""

    allow_output_mutation: bool = False
    suppress_warning: bool = False
    hash_funcs: dict | None = None
    max_entries: int | None = None
    ttl: float | _dt.timedelta | None = None
    show_spinner: bool | str = True  # a str: the text shown while a miss runs
    persist: bool | None = None
    validate: Callable[[Any], Any] | None = None
    copy: bool = False
    max_size: int | None = None  # bytes this function's entries may hold in memory
    verify_share: float | None = None  # None: follow %config MemoMagics.verify_share

    def __post_init__(self) -> None:
        self._check_types()
        share = self.verify_share  # type(...): True is not a share
        if share is not None and (type(share) not in (int, float) or not 0 <= share <= 1):
            raise MemoOptionError(messages.bad_option_error("verify_share", share, "0 to 1"))
        if self.copy and self.allow_output_mutation:
            raise MemoOptionError(messages.copy_and_mutation_error())
        ttl = self.ttl
        for name in ("max_entries", "max_size"):
            bound = getattr(self, name)
            if bound is not None and (
                not isinstance(bound, int) or isinstance(bound, bool) or bound < 1
            ):
                raise MemoOptionError(messages.bad_option_error(name, bound, "None or an int >= 1"))
        if self.hash_funcs is not None and not isinstance(self.hash_funcs, dict):
            raise MemoOptionError(
                messages.bad_option_error("hash_funcs", self.hash_funcs, "a dict")
            )
        if ttl is None:
            return
        if isinstance(ttl, _dt.timedelta):
            ttl = ttl.total_seconds()
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
            raise MemoOptionError(
                messages.bad_option_error("ttl", self.ttl, "seconds > 0 or a timedelta")
            )
        object.__setattr__(self, "ttl", float(ttl))  # always seconds from here on

    def _check_types(self) -> None:
        flags = ("allow_output_mutation", "suppress_warning", "copy")
        for name in flags:
            if not isinstance(getattr(self, name), bool):
                raise MemoOptionError(
                    messages.bad_option_error(name, getattr(self, name), "True or False")
                )
        if not isinstance(self.show_spinner, (bool, str)):
            raise MemoOptionError(
                messages.bad_option_error("show_spinner", self.show_spinner, "a bool or a str")
            )
        if self.persist is not None and not isinstance(self.persist, bool):
            raise MemoOptionError(
                messages.bad_option_error("persist", self.persist, "None, True or False")
            )
        if self.validate is not None and not callable(self.validate):
            raise MemoOptionError(
                messages.bad_option_error("validate", self.validate, "a function of the value")
            )

    @classmethod
    def of(cls, options: dict[str, Any]) -> MemoOptions:
        """Options from keyword arguments, Streamlit's names translated (:data:`ALIASES`);
        an unknown name is a one-line error naming the supported ones."""
        known = [f.name for f in dataclasses.fields(cls)]
        named: dict[str, Any] = {}
        for given, value in options.items():
            name = ALIASES.get(given, given)
            if name not in known:
                raise MemoOptionError(messages.unknown_option_error(given, known, list(ALIASES)))
            if name in named:
                raise MemoOptionError(messages.option_given_twice_error(given, name))
            named[name] = value
        return cls(**named)

    def policy(self) -> Policy:
        ttl = self.ttl
        assert ttl is None or isinstance(ttl, float)
        return Policy(
            ttl,
            self.max_entries,
            self.persist,
            self.allow_output_mutation,
            max_size=self.max_size,
            verify_share=None if self.verify_share is None else float(self.verify_share),
            validate=self.validate,
        )


class MemoizedFunction(Cached[FunctionCall]):
    """A function whose results are reused while everything they depend on is unchanged."""

    subject: FunctionSubject

    def __init__(self, fn: Callable[..., Any], options: MemoOptions | None = None) -> None:
        options = options or MemoOptions()  # validated: a one-line error if not
        fn = getattr(fn, "__memo_wrapped__", fn)
        _check_function(fn)
        functools.update_wrapper(self, fn)
        self.__memo_wrapped__ = fn  # functools.update_wrapper set __wrapped__ too
        self._name = name = short_name(fn)
        owner = function_owner(fn)
        hasher = Hasher(options.hash_funcs, subject=errors.Subject("function", name))
        subject = FunctionSubject(
            name,
            hasher,
            spinner=options.show_spinner,
            output_warned=not options.suppress_warning,
            copy=options.copy,
            fingerprinted=not (options.allow_output_mutation or options.copy),
        )
        super().__init__(owner.stored, name, options.policy(), subject)
        self.options = options
        self._keys = CallKeys(fn, owner, CallShape(fn), hasher)
        self._is_async = inspect.iscoroutinefunction(fn)
        ENGINES[owner.stored] = self
        self.stats()

    # What functools.update_wrapper does not copy, read from the function itself so
    # ``f.__defaults__`` and ``inspect.signature(f)`` are the function's.
    @property
    def __defaults__(self) -> tuple | None:
        return self.__memo_wrapped__.__defaults__

    @property
    def __kwdefaults__(self) -> dict | None:
        return self.__memo_wrapped__.__kwdefaults__

    @property
    def __signature__(self) -> inspect.Signature:
        return inspect.signature(self.__memo_wrapped__)

    @property
    def recalled(self) -> dict[bytes, FunctionCall]:
        """The last misses' arguments, for ``%memo_verify NAME``."""
        return self.subject.recalled

    def __repr__(self) -> str:
        return f"<memoized function {self.owner}>"

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return types.MethodType(self, instance)

    # ----- public API ------------------------------------------------------------------

    def describe(self, call: FunctionCall) -> str:
        """``f(2, b=21)``: a call as notes name it."""
        return self.subject.describe(call)

    def cache_info(self) -> CacheInfo:
        stats = self.stats()
        return CacheInfo(stats.hits, stats.misses, self.policy.max_entries, STORE.count(self.owner))

    def cache_clear(self, *, store: bool = True) -> None:
        """Empty this function's entries: in memory, and in the persistent store when
        it persists (a note says how many persisted entries went, or that the store
        could not be reached).  ``store=False`` empties memory only: the next call
        loads its result from the store, if it is there."""
        self.subject.recalled.clear()
        self._keys.forget()
        clear_owners({self.owner}, self._name, store=store, persist=self.policy.persist)

    def explain(self, *args: Any, **kwargs: Any) -> Explanation:
        """Would ``f(*args, **kwargs)`` hit now?  A dry run: the key is computed, nothing
        runs or is counted; a miss says why, as its miss note would."""
        call = (args, kwargs)
        return explain(self, self._key(args, kwargs), call, self.describe(call))

    def clear(self, *args: Any, **kwargs: Any) -> bool:
        """Remove the one entry for these arguments (memory, and the persistent store
        when this function persists); True if memory held one."""
        return clear_one(self, self._key(args, kwargs))

    def verify(self, *args: Any, **kwargs: Any) -> Verification:
        """Is the stored ``f(*args, **kwargs)`` what a run gives now?  It runs again (not
        counted), compared by digest; a stale result is replaced.  Says and returns it."""
        if self._is_async:
            raise MemoOptionError(messages.verify_async_error(self._name))
        call = (args, kwargs)
        return verify(self, self._key(args, kwargs), call, self.__memo_wrapped__, args, kwargs)

    # ----- the call --------------------------------------------------------------------

    def _key(self, args: tuple, kwargs: dict) -> CallKey:
        return self._keys.key(args, kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # IPython shows the user's frames only
        if self._is_async:
            return self.alookup(
                self._key(args, kwargs), (args, kwargs), self.__memo_wrapped__, args, kwargs
            )
        return self.lookup(
            self._keys.key(args, kwargs), (args, kwargs), self.__memo_wrapped__, args, kwargs
        )


def _check_function(fn: Any) -> None:
    """``@memo`` takes a plain Python function (not a generator function, a partial, or
    a classmethod/staticmethod it sits above): else a one-line error saying why."""
    if isinstance(fn, (classmethod, staticmethod)):
        inner = short_name(fn.__func__)
        raise MemoOptionError(messages.memo_above_descriptor_error(type(fn).__name__, inner))
    if isinstance(fn, functools.partial):
        raise MemoOptionError(messages.memo_on_partial_error(short_name(fn.func)))
    if not isinstance(fn, types.FunctionType):
        raise MemoOptionError(messages.bad_option_error("function", fn, "a Python function"))
    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        is_async = inspect.isasyncgenfunction(fn)
        raise MemoOptionError(messages.generator_function_error(short_name(fn), is_async))


def memo(fn: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Memoize ``fn`` on its arguments, the globals it reads and its code, transitively.

    Use as ``@memo`` or ``@memo(option=...)``; the options are :class:`MemoOptions`
    (``allow_output_mutation``, ``suppress_warning``, ``hash_funcs``, ``max_entries``,
    ``ttl``, ``show_spinner``, ``persist``, ``validate``, ``copy``); Streamlit's
    ``suppress_st_warning`` is accepted for ``suppress_warning``.  ``persist=True``
    also writes entries to the persistent store (None follows ``%config
    MemoMagics.persist``).
    ``memo.clear()`` empties the in-memory cache, and the persisted entries of every
    function and cell this kernel has seen; ``memo.clear(store=False)`` the memory only.
    """
    checked = MemoOptions.of(options)
    if fn is None:
        return lambda f: front(MemoizedFunction(f, checked))
    return front(MemoizedFunction(fn, checked))


def front(engine: MemoizedFunction) -> Callable[..., Any]:
    """The plain function ``@memo`` hands back, calling ``engine``.

    Calling an object with a Python ``__call__`` costs CPython two recursion levels,
    a function one: through this front a recursive memoized function costs three
    frames a level (front, lookup, body), so it recurses as deep as plain code can
    with a third of its stack.  It carries the function's name, docstring, defaults
    and signature, the cache's methods (``cache_info``, ``cache_clear``, ``explain``,
    ``clear``) and ``__memo__``, the engine itself.
    """
    fn = engine.__memo_wrapped__
    if engine._is_async:
        engine_key, alookup = engine._key, engine.alookup

        def memoized(*args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True  # IPython shows the user's frames only
            return alookup(engine_key(args, kwargs), (args, kwargs), fn, args, kwargs)

    else:
        key_of, lookup = engine._keys.key, engine.lookup

        def memoized(*args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True  # IPython shows the user's frames only
            return lookup(key_of(args, kwargs), (args, kwargs), fn, args, kwargs)

    functools.update_wrapper(memoized, fn)
    found: Any = memoized
    found.__memo__ = engine
    found.__memo_wrapped__ = fn
    found.__defaults__, found.__kwdefaults__ = fn.__defaults__, fn.__kwdefaults__
    found.owner, found.label, found.options = engine.owner, engine.label, engine.options
    found.cache_info, found.cache_clear = engine.cache_info, engine.cache_clear
    found.explain, found.clear, found.verify = engine.explain, engine.clear, engine.verify
    if in_class_body(fn):
        return MemoMethod(memoized, fn)
    return memoized


def engine_of(value: Any) -> MemoizedFunction | None:
    """The engine behind a memoized function (or the engine itself), else None."""
    if isinstance(value, MemoizedFunction):
        return value
    found = getattr(value, "__memo__", None)
    return found if isinstance(found, MemoizedFunction) else None


memo.clear = clear_memo  # type: ignore[attr-defined]
