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
data or a new title changes it.

Drawing also computes state from what the user set: tick artists, line caches, pending
autoscaling, legend and annotation offsets in pixels.  A figure shown inline (a draw
for a tight bounding box, then one at the shifted box) is left with other pixel offsets
than one drawn once, so a ``@memo`` function returning a figure warned "was mutated
after it was returned" on every hit once it had been shown.  So a figure is hashed as
its own draw (``draw_without_rendering``, no pixels) leaves it: a function of what the
user set, whoever drew it before.  That draw is skipped while nothing changed since it
(the figure is not stale and nothing drew it since, a ``draw_event`` tells), so hashing
an unchanged figure again costs no draw; a ``set_title`` makes it stale, and the draw
before hashing shows the new title.
"""

from __future__ import annotations

import functools
import weakref
from typing import TYPE_CHECKING, Any

import matplotlib.colors as mcolors
import matplotlib.transforms as mtransforms
from matplotlib.artist import Artist
from matplotlib.cbook import CallbackRegistry
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
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
# ``_parents``), cache-invalidation flags and cached inverses, "not drawn since changed",
# and whether pyplot still manages a figure (``plt.close``, the inline backend after
# showing it, ends that).
_VOLATILE = frozenset({"_parents", "_invalid", "_inverted", "_stale", "_restore_to_pylab"})
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
    mtransforms.BlendedAffine2D: frozenset({"_mtx"}),
}
# A line's path in display space, cached by its last draw (made from its data, kept).
_LINE_CACHE = frozenset({"_transformed_path"})


# Figures as :func:`settle` last drew them, by the canvas drawn on; the canvases whose
# ``draw_event`` forgets a figure drawn again by anyone else.
_settled: weakref.WeakKeyDictionary[Figure, Any] = weakref.WeakKeyDictionary()
_watched: weakref.WeakKeyDictionary[Figure, Any] = weakref.WeakKeyDictionary()


def settle(figure: Figure) -> bool:
    """Draw ``figure`` without rendering unless it is as that draw left it: True if
    it drew (the state of what it holds may have changed)."""
    canvas = figure.canvas
    if not figure.stale and _settled.get(figure) is canvas:
        return False
    if _watched.get(figure) is not canvas:
        canvas.mpl_connect("draw_event", functools.partial(_drawn, weakref.ref(figure)))
        _watched[figure] = canvas
    try:
        figure.draw_without_rendering()
    except Exception:
        return False  # hashed as it is: a figure that cannot draw is not shown either
    _settled[figure] = canvas
    return True


def _drawn(figure: weakref.ref[Figure], event: object) -> None:
    """A figure was drawn (shown, saved): it is no longer as :func:`settle` left it."""
    found = figure()
    if found is not None:
        _settled.pop(found, None)


def picture_state(value: Any, state: dict[str, Any]) -> dict[str, Any]:
    """An artist's or transform's state without what changes when the picture does not,
    its figure drawn first (see :func:`settle`)."""
    if isinstance(value, Artist):
        figure = value.get_figure(root=True)
        if isinstance(figure, Figure) and settle(figure):
            drawn = value.__getstate__()
            state = drawn if isinstance(drawn, dict) else state
    drop = _VOLATILE | _DERIVED.get(type(value), frozenset())
    if isinstance(value, Line2D):
        drop = drop | _LINE_CACHE
    kept = {k: v for k, v in state.items() if k not in drop}
    for name in _COLORS.intersection(kept):
        kept[name] = _rgba(kept[name])
    return kept


# A patch's colors as set: saving with ``facecolor=`` (IPython's inline display does)
# sets them back as RGBA tuples, so ``"white"`` and ``(1, 1, 1, 1)`` must hash alike.
_COLORS = frozenset({"_original_facecolor", "_original_edgecolor"})


def _rgba(color: Any) -> Any:
    try:
        return mcolors.to_rgba(color)
    except (TypeError, ValueError):
        return color


register(CallbackRegistry, digest_callbacks, root="matplotlib")
register_state_filter((TransformNode, Artist), picture_state)
