"""The compiled pickle stream of a container of numbers (csrc/numbers.c); numbers.py pickles
without it."""

from collections.abc import Callable
from typing import Any

def stream(value: Any, update: Callable[[memoryview | bytes], Any]) -> bool:
    """Call ``update`` with the pieces of ``pickle.dumps(value, protocol=5)`` and say True,
    for a list, dict or long tuple of numbers; False for anything else."""
