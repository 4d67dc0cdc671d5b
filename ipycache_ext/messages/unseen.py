"""What the file tracking cannot see, said once with the fix: work in other processes."""

from __future__ import annotations

from .base import Note, warning_note


def process_pool_hint(what: str, pools: tuple[str, ...]) -> Note:
    """Once per function or cell whose code hands work to other processes."""
    names = ", ".join(pools)
    return warning_note(
        f"{what} hands work to other processes ({names}); the files they read are not "
        "seen, so an edited file would not be a miss. Fix: declare them inside the "
        'cached code with ipycache_ext.depends_on("data/*.parquet") (a %%memo cell: '
        "--files PATTERN)."
    )


__all__ = ["process_pool_hint"]
