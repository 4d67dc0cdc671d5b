"""Errors of the kernel-wide settings (``%config MemoMagics.<name>``, a profile's
``c.MemoMagics.<name>``, or ``ipycache_ext.config.SETTINGS``): a bad value is one line
saying what is accepted."""

from __future__ import annotations

from .base import Note, warning_note


def unknown_store_error(location: str, scheme: str, supported: tuple[str, ...]) -> str:
    urls = ", ".join(f"{name}://" for name in supported)
    return (
        f"MemoMagics.store {location!r}: no store is served over {scheme}://. The "
        f"supported URLs are {urls}; anything else is a directory. Fix: use a "
        "directory (~/cache, C:\\cache), redis://host:port/db, s3://bucket/prefix, or "
        "dir|s3://bucket/prefix (a local copy in front of a team store)."
    )


def unknown_store_warning(location: str, scheme: str, supported: tuple[str, ...]) -> Note:
    """The same, met when the store opens (set in Python or in the environment): results
    are still returned and kept in memory."""
    return warning_note(
        "the persistent cache is not used: results are returned and kept in memory only. "
        + unknown_store_error(location, scheme, supported)
    )


__all__ = ["unknown_store_error", "unknown_store_warning"]
