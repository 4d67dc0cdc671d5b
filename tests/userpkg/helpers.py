"""User-module helpers that notebook code calls into."""

from __future__ import annotations

FACTOR = 2


def scale(x: float) -> float:
    return x * FACTOR


class Model:
    """A user class: its methods' code and the globals they read are part of a key."""

    depth = 3

    def predict(self, x: float) -> float:
        return scale(x) + self.depth
