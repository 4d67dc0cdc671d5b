"""Every kernel-wide setting, declared once: its default, kind, help and environment
variables.  ``MemoMagics`` makes its ``%config`` traits from this table and writes
:data:`SETTINGS`; the engine reads it.

Plain Python (no IPython) sets the same object (``config.SETTINGS.notes = False``), and
a test resets all of it with :func:`reset`.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import messages
from .errors import SettingError


class Kind(enum.Enum):
    """What values a setting takes (``%config`` makes the matching trait)."""

    FLAG = "flag"  # True / False
    NUMBER = "number"  # a float, within bounds
    COUNT = "count"  # an int, within bounds
    TEXT = "text"  # a string; "" (None in SETTINGS) for the default
    PATHS = "paths"  # a list of folders (a tuple in SETTINGS)
    SIZE = "size"  # bytes, a size with a unit, or a share of RAM: see parse_budget


@dataclass(frozen=True)
class Declared:
    """A setting's declaration: what ``%config MemoMagics`` shows and checks.

    ``env`` are the environment variables read when the setting is left empty (or, for
    ``user_paths``, its starting value); ``secret`` masks the value wherever it is shown;
    ``magic`` False keeps a setting out of ``%config`` (set from Python only).
    """

    kind: Kind
    text: str
    env: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    secret: bool = False
    magic: bool = True

    @property
    def help(self) -> str:
        return messages.setting_help(self.text, self.env)


def _setting(default: Any, kind: Kind, text: str, **declared: Any) -> Any:
    facts = {"declared": Declared(kind, text, **declared)}
    if callable(default):
        return dataclasses.field(default_factory=default, metadata=facts)
    return dataclasses.field(default=default, metadata=facts)


def _env_paths() -> tuple[str, ...]:
    found = from_env("user_paths") or ""
    return tuple(path for path in found.split(os.pathsep) if path)


@dataclass
class Settings:
    """What ``%config MemoMagics.<name>`` sets; each field's declaration says what it
    takes (``%config MemoMagics`` shows the help)."""

    notes: bool = _setting(True, Kind.FLAG, messages.NOTES_HELP)
    spinner_delay: float = _setting(1.0, Kind.NUMBER, messages.SPINNER_DELAY_HELP, low=0.0)
    persist: bool = _setting(False, Kind.FLAG, messages.PERSIST_HELP)
    store: str | None = _setting(
        None, Kind.TEXT, messages.STORE_HELP, env=("IPYCACHE_STORE", "IPYCACHE_DIR")
    )
    max_disk_bytes: int = _setting(4 << 30, Kind.COUNT, messages.MAX_DISK_BYTES_HELP, low=1)
    secret_key: str | None = _setting(
        None, Kind.TEXT, messages.SECRET_KEY_HELP, env=("IPYCACHE_SECRET",), secret=True
    )
    lease_seconds: float = _setting(30.0, Kind.NUMBER, messages.LEASE_SECONDS_HELP, magic=False)
    s3_endpoint: str | None = _setting(
        None, Kind.TEXT, messages.S3_ENDPOINT_HELP, env=("AWS_ENDPOINT_URL",)
    )
    store_timeout: float = _setting(2.0, Kind.NUMBER, messages.STORE_TIMEOUT_HELP, low=0.01)
    store_retry_seconds: float = _setting(
        30.0, Kind.NUMBER, messages.STORE_RETRY_SECONDS_HELP, low=0.0
    )
    user_paths: tuple[str, ...] = _setting(
        _env_paths, Kind.PATHS, messages.USER_PATHS_HELP, env=("IPYCACHE_USER_PATHS",)
    )
    track_files: bool = _setting(True, Kind.FLAG, messages.TRACK_FILES_HELP)
    max_memory: int | float | str = _setting("25%", Kind.SIZE, messages.MAX_MEMORY_HELP)
    verify_share: float = _setting(0.0, Kind.NUMBER, messages.VERIFY_SHARE_HELP, low=0.0, high=1.0)

    def __setattr__(self, name: str, value: object) -> None:
        """A bad value is refused when it is set, in one line, not on the next miss with
        a traceback (``%config`` checks it too, through :func:`checked`)."""
        super().__setattr__(name, checked(name, value))

    def __repr__(self) -> str:
        """The settings as the dataclass shows them, the team secret masked and the
        password of a store URL (``s3://key-id:secret@bucket``, ``redis://:pw@host``)
        shown as ``***``: a repr ends up in logs, tracebacks and shared notebooks."""
        shown = (
            f"{name}={messages.REDACTED!r}"
            if declared.secret and getattr(self, name)
            else f"{name}={getattr(self, name)!r}"
            for name, declared in declarations()
        )
        return messages.redacted(f"{type(self).__name__}({', '.join(shown)})")


def declarations() -> Iterator[tuple[str, Declared]]:
    """Every setting's name and declaration, in the order of :class:`Settings`."""
    return iter(_declared().items())


def declared(name: str) -> Declared:
    return _declared()[name]


@functools.cache
def _declared() -> dict[str, Declared]:
    return {item.name: item.metadata["declared"] for item in dataclasses.fields(Settings)}


def checked(name: str, value: Any) -> Any:
    """``value`` as :data:`SETTINGS` holds it, or :class:`SettingError`: the one check
    of a setting's value, for ``%config`` and plain Python alike."""
    kind = declared(name).kind
    if kind is Kind.SIZE:
        try:
            parse_budget(value)
        except ValueError:
            raise SettingError(messages.bad_memory_budget_error(value)) from None
    elif kind is Kind.TEXT:
        return value or None  # empty: the default location / the per-user key
    elif kind is Kind.PATHS and isinstance(value, list):
        return tuple(value)
    return value


def from_env(name: str) -> str | None:
    """The first of setting ``name``'s environment variables that is set, if any."""
    return next((os.environ[env] for env in declared(name).env if os.environ.get(env)), None)


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


def _secrets() -> tuple[str | None, ...]:
    return tuple(
        getattr(SETTINGS, name) or from_env(name) for name, d in declarations() if d.secret
    )


SETTINGS = Settings()
messages.hide_secrets(_secrets)  # messages come first in the import order: told, not asked


def reset() -> None:
    """Every setting back to its default (tests reset it around each test)."""
    fresh = Settings()
    for name, _ in declarations():
        setattr(SETTINGS, name, getattr(fresh, name))
