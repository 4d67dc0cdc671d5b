"""Why a lookup found an entry stale is kept for the miss that follows, and no longer."""

from __future__ import annotations

from ipycache_ext.keys.why import StaleReasons
from ipycache_ext.parts import Reason, ReasonKind

CHANGED = (Reason(ReasonKind.CHANGED),)


def test_the_miss_that_follows_takes_the_reasons_kept_for_its_key_once() -> None:
    stale = StaleReasons()
    stale.keep(b"k1", CHANGED)
    assert stale.pop(b"k2") is None
    assert stale.pop(b"k1") == CHANGED
    assert stale.pop(b"k1") is None


def test_reasons_no_miss_came_for_go_oldest_first_past_the_bound() -> None:
    stale = StaleReasons(most=2)
    for digest in (b"a", b"b", b"c"):
        stale.keep(digest, CHANGED)
    assert len(stale) == 2
    assert stale.pop(b"a") is None and stale.pop(b"c") == CHANGED
