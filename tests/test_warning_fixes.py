"""Every warning ends with its fix: each message function of ``ipycache_ext.messages``
that makes a warning is called with every kind of case it words differently, and its
text must end with a "Fix:" paragraph (what the user can do, or that nothing is
needed)."""

from __future__ import annotations

import importlib
import inspect
import itertools
import pkgutil
from collections.abc import Iterator
from typing import Any

import pytest

from ipycache_ext import messages
from ipycache_ext.deps.unseen import Channel, Touch
from ipycache_ext.errors import UnhashableTypeError
from ipycache_ext.messages.base import warning_note
from ipycache_ext.parts import PartKind, part_id

# Values for a parameter by its name: the cases a message words differently.
BY_NAME: dict[str, list[Any]] = {
    "kind": ["function", "cell", *importlib.import_module("ipycache_ext.messages.store")._REJECTED],
    "problem": ["short", "readable", "owner"],
    "path": ["", "/home/me/.config/ipycache_ext/secret.key"],
    "reason": ["owner", "mode"],
    "max_size": [None, 10],
    "refused": [[("model", "Booster")], []],
}
# Values for the other parameters by their annotation.
BY_TYPE: dict[str, Any] = {
    "str": "data/sales.csv",
    "int": 1000,
    "float": 1.5,
    "bool": True,
    "object": 42,
    "BaseException": OSError(28, "No space left on device"),
    "PartId": part_id(PartKind.GLOBAL, "threshold", ("f",)),
    "list[str]": ["helper"],
    "tuple[str, ...]": ("redis", "s3"),
    "int | None": 100,
    "str | None": "/tmp/store",
    "float | None": 2.5,
    "list[Reason]": [],
    "dict[str, int]": {"argument x changed": 3},
    "list[tuple[str, str]]": [("model", "Booster")],
    "tuple[Touch, ...]": tuple(
        Touch(channel, "socket.connect", "127.0.0.1:80") for channel in Channel
    ),
    "Located": UnhashableTypeError(type_name="socket", where="x"),  # the error, read as fields
}


def message_functions() -> Iterator[Any]:
    """Every function of every module of ``ipycache_ext.messages`` that returns a Note."""
    for module in pkgutil.iter_modules(messages.__path__):
        found = importlib.import_module(f"{messages.__name__}.{module.name}")
        for _, fn in inspect.getmembers(found, inspect.isfunction):
            returns_note = inspect.signature(fn).return_annotation == "Note"
            if fn.__module__ == found.__name__ and returns_note and fn is not warning_note:
                yield fn  # warning_note itself is the building block: its text is given


def cases(fn: Any) -> Iterator[dict[str, Any]]:
    params = inspect.signature(fn).parameters.values()
    choices = []
    for p in params:
        if p.name in BY_NAME:
            choices.append([(p.name, v) for v in BY_NAME[p.name]])
        elif p.annotation in BY_TYPE:
            choices.append([(p.name, BY_TYPE[p.annotation])])
        else:
            assert p.default is not p.empty, f"no sample for {fn.__name__}({p.name}: ...)"
    for chosen in itertools.product(*choices):
        yield dict(chosen)


def warnings_made() -> list[tuple[str, str]]:
    """(function and case, text) of every warning the message functions make."""
    made = []
    for fn in message_functions():
        for case in cases(fn):
            note = fn(**case)
            if isinstance(note, messages.Note) and note.kind == "warning":
                made.append((f"{fn.__name__}({case})", note.text))
    return made


WARNINGS = warnings_made()


def test_the_walk_reaches_every_warning_function() -> None:
    names = {made.split("(", 1)[0] for made, _ in WARNINGS}
    assert {"mutated_variable_warning", "store_fault_warning", "output_warning"} <= names
    assert {"clear_unreachable_warning", "unknown_store_warning"} <= names
    assert len(names) >= 20


@pytest.mark.parametrize(("made", "text"), WARNINGS, ids=[m for m, _ in WARNINGS])
def test_every_warning_ends_with_its_fix(made: str, text: str) -> None:
    assert "Fix:" in text, made
    fix = text[text.index("Fix:") :]
    assert "\n" not in fix and fix.endswith((".", ")")), made
