"""``%config MemoMagics.<name>`` made from :mod:`ipycache_ext.config`'s declarations.

Each declared setting becomes a traitlet of its kind, with config's default, bounds and
help; a value is checked by config's one check (:func:`~ipycache_ext.config.checked`)
and written to ``config.SETTINGS``, which the engine reads.  The team secret is held
masked, so ``%config`` and reprs never show it.
"""

from __future__ import annotations

from typing import Any

from traitlets import Bool, Float, Int, List, TraitError, TraitType, Unicode, Union

from .. import messages
from ..config import SETTINGS, Declared, Kind, Settings, checked, declarations, declared
from ..errors import SettingError, UnknownStoreError
from ..store import persistent
from ..store.backends.registry import check_location


class Secret(str):
    """The team secret as the trait holds it: what ``%config MemoMagics.secret_key``
    and the trait's repr show is masked, as a Redis password is; the key itself is
    unchanged for the store that signs with it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(messages.REDACTED)


def _trait(default: Any, facts: Declared) -> TraitType[Any, Any]:
    bounds: dict[str, Any] = {"min": facts.low, "max": facts.high}
    if facts.kind is Kind.FLAG:
        return Bool(default, help=facts.help)
    if facts.kind is Kind.NUMBER:
        return Float(default, help=facts.help, **bounds)
    if facts.kind is Kind.COUNT:
        return Int(default, help=facts.help, **bounds)
    if facts.kind is Kind.TEXT:
        return Unicode(default or "", help=facts.help)
    if facts.kind is Kind.PATHS:
        return List(Unicode(), default_value=list(default), help=facts.help)
    return Union([Int(), Float(), Unicode()], default_value=default, help=facts.help)


def setting_traits() -> dict[str, TraitType[Any, Any]]:
    """A configurable trait for every setting ``%config`` may set."""
    fresh = Settings()
    return {
        name: _trait(getattr(fresh, name), facts).tag(config=True)
        for name, facts in declarations()
        if facts.magic
    }


def magic_settings() -> tuple[str, ...]:
    return tuple(name for name, facts in declarations() if facts.magic)


def proposed(name: str, value: Any) -> Any:
    """The trait's value for ``name``, or a TraitError (``%config`` logs it in one line):
    config's check, and for the store a location some store serves."""
    try:
        checked(name, value)
        if name == "store":
            check_location(value)
    except (SettingError, UnknownStoreError) as refused:
        raise TraitError(str(refused)) from None
    if declared(name).secret and value:
        return Secret(value)
    return value


def apply(name: str, value: Any) -> None:
    """Write a trait's value to ``SETTINGS``; a new S3 endpoint closes the opened store,
    made for the old one."""
    setattr(SETTINGS, name, value)
    if name == "s3_endpoint":
        persistent.close()


def trait_help_masked(name: str, value: Any) -> bool:
    """Whether ``%config MemoMagics`` must hide this setting's current value."""
    return bool(value) and declared(name).secret


__all__ = [
    "Secret",
    "setting_traits",
    "magic_settings",
    "proposed",
    "apply",
    "trait_help_masked",
]
