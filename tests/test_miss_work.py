"""What a miss does besides running the body: with notes off, no note is worded (an
argument's repr is taken once, for what the entry keeps to explain a later miss)."""

from __future__ import annotations

from typing import Any

from conftest import Notes, define

from ipycache_ext import config


class Shown:
    """An argument that counts how often it is put into words."""

    reprs = 0

    def __init__(self, n: int) -> None:
        self.n = n

    def __repr__(self) -> str:
        Shown.reprs += 1
        return f"Shown({self.n})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Shown, (self.n,))


def test_miss_with_notes_off_words_no_note(ns: dict, notes: Notes) -> None:
    config.SETTINGS.notes = False
    define(ns, "@memo\ndef f(x):\n    return x.n + 1\n")
    Shown.reprs = 0
    assert ns["f"](Shown(1)) == 2
    assert notes.of("miss") == []
    assert Shown.reprs == 1


def test_miss_with_notes_on_still_names_the_call(ns: dict, notes: Notes) -> None:
    define(ns, "@memo\ndef f(x):\n    return x.n + 1\n")
    ns["f"](Shown(1))
    [note] = notes.texts("miss")
    assert "f(Shown(1))" in note
