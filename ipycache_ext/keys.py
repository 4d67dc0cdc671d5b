"""The key of a call: what it depends on, as labelled parts, and one digest of them.

The parts (``argument b``, ``global cfg.threshold``, ``code of inner_func``) are kept
with the entry, so a later miss can say which of them changed.
"""

from __future__ import annotations

import functools
import inspect
import struct
from collections.abc import Callable, Iterator
from typing import Any

import xxhash

from . import messages
from .deps.code import MISSING_DATA, Deps, Part, collect, short_name
from .errors import UnhashableTypeError
from .hashing.core import Hasher

_pack_len = struct.Struct("<I").pack
_SCALARS = frozenset({int, float, str, bool, bytes, type(None), tuple, list, dict})
_NO_DEFAULT = inspect.Parameter.empty


class CallShape:
    """How to bind a function's arguments quickly, and which ones to leave out.

    The common case (positional-or-keyword parameters only) is bound by hand, which
    costs a fraction of ``Signature.bind``; anything else goes through ``bind``.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.signature = inspect.signature(fn)
        params = list(self.signature.parameters.values())
        self.simple = all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params)
        self.names = [p.name for p in params]
        self.defaults = {p.name: p.default for p in params if p.default is not _NO_DEFAULT}
        self.kept = [not n.startswith("_") for n in self.names]

    def bind(self, args: tuple, kwargs: dict) -> list[tuple[str, Any]]:
        """``(name, value)`` for every parameter that counts, defaults applied."""
        if self.simple and len(args) <= len(self.names):
            out = []
            from_kwargs = 0
            for i, name in enumerate(self.names):
                if i < len(args):
                    value = args[i]
                elif name in kwargs:
                    value = kwargs[name]
                    from_kwargs += 1
                elif name in self.defaults:
                    value = self.defaults[name]
                else:
                    break
                if self.kept[i]:
                    out.append((name, value))
            else:
                if from_kwargs == len(kwargs):
                    return out
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        kept = []
        for name, value in bound.arguments.items():
            if name.startswith("_"):
                continue
            if self.signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
                value = dict(sorted(value.items()))  # f(x=1, y=2) is f(y=2, x=1)
            kept.append((name, value))
        return kept


class CallKey:
    """A call's digest and the parts it was made of."""

    __slots__ = ("digest", "parts")

    def __init__(self, digest: bytes, parts: list[Part]) -> None:
        self.digest = digest
        self.parts = parts


def digest_parts(identity: bytes, parts: list[Part]) -> bytes:
    """One digest of the labels and the length-prefixed data of every part."""
    chunks = [identity]
    for part in parts:
        chunks += (_label_bytes(part.label), _pack_len(len(part.data)), part.data)
    return xxhash.xxh3_128_digest(b"".join(chunks))


@functools.lru_cache(maxsize=4096)
def _label_bytes(label: str) -> bytes:
    """A label as it enters a key (labels repeat from call to call: encode them once)."""
    return label.encode() + b"\0"


def key_of_call(
    fn: Callable[..., Any],
    identity: bytes,
    shape: CallShape,
    hasher: Hasher,
    args: tuple,
    kwargs: dict,
) -> CallKey:
    """Key of ``fn(*args, **kwargs)``: its code and reads (transitively) and its arguments."""
    deps = Deps(hasher)
    for name, value in shape.bind(args, kwargs):
        label = f"argument {name}"
        if type(value) not in _SCALARS and isinstance(value, Iterator):
            type_name = f"{type(value).__module__}.{type(value).__qualname__}"
            text = messages.iterator_argument_error(name, type_name, short_name(fn))
            raise UnhashableTypeError(text, type_name, label)
        deps.parts.append(Part(label, "arg", hasher.part(value, label, name), value))
    collect(deps, fn, (short_name(fn),))
    return CallKey(digest_parts(identity, deps.parts), deps.parts)


def describe_call(name: str, args: tuple, kwargs: dict) -> str:
    """``f(2, b=21)`` with short reprs, for notes."""
    shown = [messages.short_repr(a) for a in args]
    shown += [f"{k}={messages.short_repr(v)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(shown)})"


def snapshot(parts: list[Part]) -> dict[str, tuple[str, bytes, str]]:
    """What an entry keeps of its parts: kind, bytes and a short repr, by label."""
    return {p.label: (p.kind, p.data, _shown(p)) for p in parts}


def _shown(part: Part) -> str:
    if part.kind == "code":
        return ""
    if part.data == MISSING_DATA:
        return messages.UNDEFINED
    return messages.short_repr(part.value)


def why_missed(
    before: dict[str, tuple[str, bytes, str]] | None,
    now: dict[str, tuple[str, bytes, str]],
    gone: str | None = None,
) -> list[str]:
    """Readable reasons a key differs from the last one seen for the same function.

    ``gone`` says how this very key's entry went (expired, evicted, cleared): an
    expired or evicted entry explains the miss better than a comparison with the
    previous call; a clear does when no call was made since.
    """
    if gone is not None and (gone != "cleared" or before is None):
        return [messages.reason_gone(gone)]
    if before is None:
        return [messages.reason_first_call()]
    reasons = []
    for label, (kind, data, shown) in now.items():
        old = before.get(label)
        if old is not None and old[1] == data:
            continue
        if kind == "cell":
            reasons.append(messages.reason_cell_code())
            continue
        if kind == "option":
            reasons.append(messages.reason_option(shown))
            continue
        if kind == "code":
            if old is not None:
                reasons.append(messages.reason_dep_code(label.removeprefix("code of ")))
            continue
        old_shown = None if old is None else old[2]
        if kind == "arg":
            reasons.append(
                messages.reason_argument(label.removeprefix("argument "), old_shown, shown)
            )
        else:
            reasons.append(messages.reason_global(label, old_shown, shown))
    for label, (kind, _, _) in before.items():
        if label not in now and kind != "code":
            reasons.append(messages.reason_dep_removed(label))
    return reasons or [messages.reason_no_entry()]
