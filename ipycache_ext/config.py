"""The one settings object: ``MemoMagics`` writes it, the engine reads it.

Kernel-wide switches live here and nowhere else, so plain Python (no IPython) can
set them too, and a test resets all of them with ``config.reset()``.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field


def _env_paths() -> tuple[str, ...]:
    return tuple(p for p in os.environ.get("IPYCACHE_USER_PATHS", "").split(os.pathsep) if p)


@dataclass
class Settings:
    """What ``%config MemoMagics.<name>`` sets (see the traits for each one's help)."""

    # Notes: show the miss/hit notes (warnings always show), and after how many
    # seconds a running miss shows what it runs.
    notes: bool = True
    spinner_delay: float = 1.0
    # Persistence: the default for @memo/%%memo, where (None: $IPYCACHE_STORE or the
    # user cache directory), the size bound of a directory store, a team's shared
    # signing key (None: this user's key file), and the cross-kernel compute lease.
    persist: bool = False
    store: str | None = None
    max_disk_bytes: int = 4 << 30
    secret_key: str | None = None
    lease_seconds: float = 30.0
    # The endpoint of a non-AWS S3 server (None: $AWS_ENDPOINT_URL, ~/.aws, or AWS).
    s3_endpoint: str | None = None
    # A remote store (Redis, S3): seconds it may stay silent (connecting, or between
    # bytes of an answer) before a call gives up on it, and seconds it is then skipped
    # (calls use memory, or a ``dir|`` tier's directory) before trying again.
    store_timeout: float = 2.0
    store_retry_seconds: float = 30.0
    # Folders besides the working directory whose code counts as the user's.
    user_paths: tuple[str, ...] = field(default_factory=_env_paths)
    # Files a miss reads (and directories it lists) join its entry's key.
    track_files: bool = True
    # The memory all entries may hold together: bytes, or a share of RAM ("25%");
    # "" or 0: no bound.  Least recently used out, entries of earlier code first.
    max_memory: int | float | str = "25%"
    # The share of hits run again and compared with the stored result (0: none): a
    # development-time check for inputs the key cannot see.
    verify_share: float = 0.0

    def __setattr__(self, name: str, value: object) -> None:
        """A bad memory budget is refused when it is set, in one line, not on the next
        miss with a traceback (``%config`` checks it too, through the trait)."""
        if name == "max_memory":
            from . import messages  # messages and errors read this module
            from .errors import SettingError

            try:
                parse_budget(value)  # type: ignore[arg-type]
            except ValueError:
                raise SettingError(messages.bad_memory_budget_error(value)) from None
        super().__setattr__(name, value)

    def __repr__(self) -> str:
        """The settings as the dataclass shows them, the team secret masked and the
        password of a store URL (``s3://key-id:secret@bucket``, ``redis://:pw@host``)
        shown as ``***``: a repr ends up in logs, tracebacks and shared notebooks."""
        from .messages import REDACTED, redacted

        shown = (
            f"{item.name}={REDACTED!r}"
            if item.name == "secret_key" and self.secret_key
            else f"{item.name}={getattr(self, item.name)!r}"
            for item in dataclasses.fields(self)
        )
        return redacted(f"{type(self).__name__}({', '.join(shown)})")


# Units of a size: SI multiples (``"1GB"`` is 10**9 bytes) and binary ones (``"1GiB"``
# is 2**30), as pip, pandas and the disk makers count.
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 1 << 10,
    "mib": 1 << 20,
    "gib": 1 << 30,
    "tib": 1 << 40,
}
_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_budget(value: int | float | str | None) -> int | None:
    """Bytes from ``1_000_000``, ``"2e9"``, ``"1GB"``, ``"512 MiB"`` or a share of this
    machine's RAM (``"25%"``); None for no bound (``""``, ``0``, ``None``).  ValueError
    for anything else (a negative size, an unknown unit, a share above 100%)."""
    if value is None or value == "" or value == 0:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(value)
    if isinstance(value, (int, float)):
        if not value >= 0 or value == float("inf"):
            raise ValueError(value)
        return int(value) or None
    text = value.strip()
    if text.endswith("%"):
        try:
            share = float(text[:-1])
        except ValueError:
            raise ValueError(value) from None
        if not 0 < share <= 100:
            raise ValueError(value)
        return int(_physical_memory() * share / 100)
    found = _SIZE.match(text)
    if found is None or found.group(2).lower() not in _UNITS:
        raise ValueError(value)
    return int(float(found.group(1)) * _UNITS[found.group(2).lower()]) or None


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 8 << 30  # unknown: as if 8 GiB


SETTINGS = Settings()


def reset() -> None:
    """Every setting back to its default (tests reset it around each test)."""
    fresh = Settings()
    for item in dataclasses.fields(Settings):
        setattr(SETTINGS, item.name, getattr(fresh, item.name))
