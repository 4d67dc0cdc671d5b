"""matplotlib figures and axes: hashed by their state without the parts that change
while the picture does not.

An unchanged figure pickled (and so hashed) differently on every call; comparing the
pickled states of one figure hashed twice, drawn and saved showed why:

* every ``CallbackRegistry`` (a figure's and its canvas's) writes ``next(_cid_gen)``
  into its pickled state: pickling it advances a counter, so each hash of the figure
  saw a new number (and every call missed with "global FIG changed");
* every transform keeps ``_parents``, a dict keyed by ``id()`` of the transforms that
  depend on it, holding weak references that drawing adds and the garbage collector
  removes: ids differ between processes, and the entries between draws;
* transforms keep cache flags (``_invalid``) and cached matrices and boxes, and every
  artist keeps ``_stale`` (changed since last drawn): drawing or saving flips them.

So a ``CallbackRegistry`` is hashed by its signals and the names of the callbacks it
keeps when pickled, without calling its ``__getstate__``, and artists and transforms by
their state without those entries (what a cached matrix is computed from stays in the
digest).  Drawing or saving a figure again leaves its digest alone; a new line, changed
data or a new title changes it.  The first draw of a figure still changes it once:
drawing creates the tick artists and line caches it keeps from then on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import matplotlib.transforms as mtransforms
from matplotlib.artist import Artist
from matplotlib.cbook import CallbackRegistry
from matplotlib.transforms import TransformNode

from .handlers import register, register_state_filter

if TYPE_CHECKING:
    from .core import Hasher


def _callback_name(proxy: Any) -> str:
    func = proxy()
    name = getattr(func, "__qualname__", None) or type(func).__qualname__
    return f"{getattr(func, '__module__', '')}.{name}"


def digest_callbacks(value: CallbackRegistry, hasher: Hasher) -> bytes:
    """Its signals and the callbacks it would pickle, by name: the callbacks are bound
    methods of the artists holding the registry, which are hashed where they sit."""
    kept: set[int] = getattr(value, "_pickled_cids", set())
    callbacks = sorted(
        (signal, cid, _callback_name(proxy))
        for signal, by_cid in getattr(value, "callbacks", {}).items()
        for cid, proxy in by_cid.items()
        if cid in kept
    )
    signals = getattr(value, "_signals", None)
    handler = getattr(value, "exception_handler", None)
    return hasher.digest_nested(
        (
            "matplotlib.cbook.CallbackRegistry",
            None if signals is None else sorted(signals),
            getattr(handler, "__qualname__", None),
            callbacks,
        )
    )


# Entries no matplotlib object is defined by: weak references keyed by id() (transforms'
# ``_parents``), cache-invalidation flags and cached inverses, "not drawn since changed".
_VOLATILE = frozenset({"_parents", "_invalid", "_inverted", "_stale"})
# What some of matplotlib's own transforms cache, computed from what they are built of
# (exact types: a subclass may keep its own data under these names).
_DERIVED: dict[type, frozenset[str]] = {
    **dict.fromkeys(
        (
            mtransforms.BboxTransform,
            mtransforms.BboxTransformTo,
            mtransforms.BboxTransformFrom,
            mtransforms.CompositeAffine2D,
            mtransforms.ScaledTranslation,
            mtransforms.AffineDeltaTransform,
        ),
        frozenset({"_mtx"}),
    ),
    mtransforms.TransformedBbox: frozenset({"_points", "_minpos"}),
    mtransforms.LockableBbox: frozenset({"_points", "_minpos"}),
    mtransforms.TransformedPath: frozenset({"_transformed_path", "_transformed_points"}),
}


def picture_state(value: Any, state: dict[str, Any]) -> dict[str, Any]:
    """An artist's or transform's state without what changes when the picture does not."""
    drop = _VOLATILE | _DERIVED.get(type(value), frozenset())
    return {k: v for k, v in state.items() if k not in drop}


register(CallbackRegistry, digest_callbacks, root="matplotlib")
register_state_filter((TransformNode, Artist), picture_state)
