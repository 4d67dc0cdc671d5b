"""Warnings of the directory store's own faults: its key file, a full disk."""

from __future__ import annotations

from .base import Note, warning_note


def unreadable_key_warning(path: str, reason: str) -> Note:
    """A key file that cannot be read or made: named, with what is wrong and the fix."""
    return warning_note(
        f"the secret key file {path} cannot be read ({reason}); the persistent cache is "
        f"not used. Fix: remove or rename whatever is at {path} (a new random key file "
        "is made there on next use), or point $IPYCACHE_KEY_FILE at a readable key file "
        "of yours. Entries signed with another key are then recomputed."
    )


__all__ = ["unreadable_key_warning"]
