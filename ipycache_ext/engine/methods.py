"""``@memo`` on a method: the cache's methods bound to the instance.

``functools`` would hand ``E().foo.clear(1)`` to the memoized function as ``clear(1)``:
a bound method forwards attribute reads to its function unbound.  A memoized function
defined in a class body is therefore wrapped in :class:`MemoMethod`, whose instances
give a :class:`BoundMemo`: calling it, and its ``explain``, ``clear`` and ``verify``,
pass the instance as ``self``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..messages import Explanation
    from .verify import Verification


def in_class_body(fn: Callable[..., Any]) -> bool:
    """True for a function defined in a class body (a method): ``E.foo``, and
    ``outer.<locals>.E.foo``, not ``outer.<locals>.foo``."""
    parts = fn.__qualname__.split(".")
    return len(parts) > 1 and parts[-2] != "<locals>"


class MemoMethod:
    """``@memo`` on a method: on an instance it gives a :class:`BoundMemo`, whose
    ``explain``, ``clear`` and ``verify`` take the instance as ``self`` (a plain bound
    method would hand them the arguments without it).  On the class it is the memoized
    function itself (``E.foo(e, 1)``, ``E.foo.explain(e, 1)``)."""

    def __init__(self, front: Callable[..., Any], fn: Callable[..., Any]) -> None:
        functools.update_wrapper(self, front)  # its cache methods, __memo__, name, doc
        self.__wrapped__ = fn
        self.__memo_front__ = front

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self.__memo_front__
        return BoundMemo(self.__memo_front__, instance)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # IPython shows the user's frames only
        return self.__memo_front__(*args, **kwargs)

    def __repr__(self) -> str:
        return repr(self.__memo_front__)


class BoundMemo:
    """A memoized method bound to its instance: called, explained, cleared and verified
    with ``self`` first."""

    __slots__ = ("__func__", "__self__")

    def __init__(self, front: Callable[..., Any], instance: Any) -> None:
        self.__func__ = front
        self.__self__ = instance

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # IPython shows the user's frames only
        return self.__func__(self.__self__, *args, **kwargs)

    def explain(self, *args: Any, **kwargs: Any) -> Explanation:
        return self.__func__.explain(self.__self__, *args, **kwargs)  # type: ignore[attr-defined]

    def clear(self, *args: Any, **kwargs: Any) -> bool:
        return self.__func__.clear(self.__self__, *args, **kwargs)  # type: ignore[attr-defined]

    def verify(self, *args: Any, **kwargs: Any) -> Verification:
        return self.__func__.verify(self.__self__, *args, **kwargs)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__func__, name)

    @property
    def __signature__(self) -> inspect.Signature:
        """The method's signature without ``self``, as a bound method's."""
        found = inspect.signature(self.__func__)
        return found.replace(parameters=list(found.parameters.values())[1:])

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, BoundMemo)
            and other.__func__ is self.__func__
            and other.__self__ is self.__self__
        )

    def __hash__(self) -> int:
        return hash((id(self.__func__), id(self.__self__)))

    def __repr__(self) -> str:
        return f"<bound memoized method {self.__func__.__qualname__} of {self.__self__!r}>"
