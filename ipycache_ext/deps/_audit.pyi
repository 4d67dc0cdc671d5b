"""The compiled audit hook (csrc/audit.c); deps/usercode.py falls back to Python without it."""

from collections.abc import Callable, Iterable
from typing import Any

def install(forward_to: Callable[[str, tuple[Any, ...]], None], always: Iterable[str]) -> None:
    """Install the hook once; it calls ``forward_to`` for each event named in ``always``."""

def route(events: Iterable[str], active: list[None]) -> None:
    """Also forward ``events`` while ``active`` is not empty."""
