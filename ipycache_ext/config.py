"""The one settings object: ``MemoMagics`` writes it, the engine reads it.

Kernel-wide switches live here and nowhere else, so plain Python (no IPython) can
set them too, and a test resets all of them with ``config.reset()``.
"""

from __future__ import annotations

import dataclasses
import os
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
    # A remote store (Redis): seconds to connect or answer before a call gives up on
    # it, and seconds it is then skipped (calls use memory only) before trying again.
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
            from . import messages
            from .errors import SettingError
            from .store.sizes import parse_budget  # the store reads this module

            try:
                parse_budget(value)  # type: ignore[arg-type]
            except ValueError:
                raise SettingError(messages.bad_memory_budget_error(value)) from None
        super().__setattr__(name, value)

    def __repr__(self) -> str:
        """The settings as the dataclass shows them, the team secret masked: a repr
        ends up in logs, tracebacks and shared notebooks."""
        from .messages import REDACTED

        shown = (
            f"{item.name}={REDACTED!r}"
            if item.name == "secret_key" and self.secret_key
            else f"{item.name}={getattr(self, item.name)!r}"
            for item in dataclasses.fields(self)
        )
        return f"{type(self).__name__}({', '.join(shown)})"


SETTINGS = Settings()


def reset() -> None:
    """Every setting back to its default (tests reset it around each test)."""
    fresh = Settings()
    for item in dataclasses.fields(Settings):
        setattr(SETTINGS, item.name, getattr(fresh, item.name))
