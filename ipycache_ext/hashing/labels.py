"""Where a value sits inside the value being hashed, as an error has to say it
(``argument cfg['pool'][0]``): the walk keeps labels and words them only on an error."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from .. import messages
from ..errors import Subject, UnhashableTypeError, UserHashError

# Where a child sits in its container: "" / "{...}", or (kind, index/key/attribute),
# turned into text only when an error has to say where it happened.
Label = str | tuple[str, Any]
Walker = Generator[tuple[Label, Any], bytes, bytes]
LOCATED = (UnhashableTypeError, UserHashError)


def label_text(label: Label) -> str:
    if isinstance(label, str):
        return label
    kind, arg = label
    if kind == "[]":
        return f"[{arg}]"
    if kind == ".":
        return f".{arg}"
    text = f"[{messages.short_repr(arg)}]"
    return text + " (key)" if kind == "key" else text


def prefix(err: UnhashableTypeError | UserHashError, labels: list[Label]) -> None:
    """Put the path of ``labels`` in front of where ``err`` happened."""
    err.where = "".join(label_text(label) for label in labels) + err.where


def placed(
    err: UnhashableTypeError, subject: Subject, where: str, param: str | None
) -> UnhashableTypeError:
    """``err`` (raised with a place relative to the value) placed in the value that was
    hashed (``where``, ``param``) and given the ``subject`` it belongs to."""
    return UnhashableTypeError(
        type_name=err.type_name,
        where=where + err.where,
        param=param,
        subject=subject,
        endless=err.endless,
        collect_first=err.collect_first,
        convert_with=err.convert_with,
    )


def placed_user(err: UserHashError, subject: Subject, where: str) -> UserHashError:
    """:func:`placed` for a ``hash_funcs`` entry's error."""
    return UserHashError(
        err.entry,
        type_name=err.type_name,
        where=where + err.where,
        subject=subject,
        cause=err.cause or err,
    )
