"""What a stored entry keeps of its key's parts, packed: a tiny entry costs ~300 bytes.

An entry keeps, for each part of its key, the part's bytes and a short repr (for the
note of a later miss and for ``%memo_info``).  Held as a dict of named tuples, that is
~1 kB per ``f(2, 21)`` entry, most of it the same for every entry of the function: the
code's digest, the globals read, their reprs.  So the parts are split in two:

* a :class:`Layout`, shared: the part ids in order and, for each, the ``Seen`` the
  first entry of that layout had (usually what every entry has for code and globals);
* per entry, one ``bytes``: the entry's run time and stored-at time, then, per part,
  either "as the layout has it" (one byte) or that part's own bytes and repr.

:class:`PackedParts` reads them back as a ``Mapping[PartId, Seen]``, decoding only
when asked (a miss comparing keys, ``%memo_info``), so a hit reads nothing.
"""

from __future__ import annotations

import struct
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping

from ..parts import PartId, Seen, SplitSnapshot

_TIMES = struct.Struct("<dd")  # seconds the run took, stored-at wall-clock time
_LENGTH = struct.Struct("<I")
_USUAL = b"\0"  # this part is as the layout has it
_OWN = b"\1"  # this part's bytes and repr follow
_LAYOUTS_KEPT = 512  # layouts shared at a time (an entry keeps its own alive)
_SIZE_BYTE = [bytes((size,)) for size in range(255)]  # a short field's length byte


class Layout:
    """The part ids of a key, in order, and the ``Seen`` each had in the first entry.

    ``shared`` is the dict of code parts of the :class:`SplitSnapshot` it was made
    from, if it was: an entry whose snapshot shares that dict has those parts as usual.
    """

    __slots__ = ("ids", "usual", "index", "shared", "own")

    def __init__(
        self,
        ids: tuple[PartId, ...],
        usual: tuple[Seen, ...],
        shared: dict[PartId, Seen] | None = None,
    ) -> None:
        self.ids = ids
        self.usual = usual
        self.index = {ident: i for i, ident in enumerate(ids)}
        self.shared = shared
        self.own: tuple[PartId, ...] = ()  # the call's own part ids, when ``shared`` is set


_layouts: OrderedDict[tuple[PartId, ...], Layout] = OrderedDict()
_lock = threading.Lock()


# The layout last found for a split snapshot's shared code parts, by the id of that
# dict: a miss on guards finds it without hashing every part id of its key.
_by_shared: dict[int, Layout] = {}


def layout_of(parts: Mapping[PartId, Seen]) -> Layout:
    """The shared layout for keys with these part ids (made from ``parts`` if new)."""
    if type(parts) is SplitSnapshot:
        hint = _by_shared.get(id(parts.shared))
        # ``parts`` holds its shared dict, so a layout sharing it is this one's if
        # the call's own part ids are the same (the same objects: compared by identity).
        if hint is not None and hint.shared is parts.shared and hint.own == tuple(parts.own):
            return hint
        found = _layout_of(parts, parts.ids())
        if found.shared is parts.shared:
            if len(_by_shared) >= _LAYOUTS_KEPT:
                _by_shared.clear()
            found.own = tuple(parts.own)
            _by_shared[id(parts.shared)] = found
        return found
    return _layout_of(parts, tuple(parts))


def _layout_of(parts: Mapping[PartId, Seen], ids: tuple[PartId, ...]) -> Layout:
    found = _layouts.get(ids)  # a dict read needs no lock: only making one does
    if found is not None:
        # Made before the guards (or by earlier code): adopt these code parts as the
        # shared ones when they are what the layout has as usual.
        if (
            type(parts) is SplitSnapshot
            and found.shared is not parts.shared
            and found.usual[len(parts.own) :] == tuple(parts.shared.values())
        ):
            found.shared = parts.shared
        return found
    with _lock:
        found = _layouts.get(ids)
        if found is None:
            shared = parts.shared if type(parts) is SplitSnapshot else None
            found = _layouts[ids] = Layout(ids, tuple(_values(parts)), shared)
            if len(_layouts) > _LAYOUTS_KEPT:
                _layouts.popitem(last=False)
        return found


def _values(parts: Mapping[PartId, Seen]) -> Iterable[Seen]:
    """``parts.values()``, without a mapping view's lookup per part for a split one."""
    return parts.seen_values() if type(parts) is SplitSnapshot else parts.values()


def _text(data: bytes) -> bytes:
    """``data`` after its length: one byte below 255, else 255 and four bytes."""
    size = len(data)
    return bytes((size,)) + data if size < 255 else b"\xff" + _LENGTH.pack(size) + data


def _read_text(packed: bytes, at: int) -> tuple[bytes, int]:
    """The data :func:`_text` wrote at ``at``, and where the next field starts."""
    size = packed[at]
    at += 1
    if size == 255:
        (size,) = _LENGTH.unpack_from(packed, at)
        at += 4
    return packed[at : at + size], at + size


def pack(layout: Layout, parts: Mapping[PartId, Seen], seconds: float, stored_at: float) -> bytes:
    """The per-entry bytes of ``parts`` (whose ids are ``layout.ids``, in that order)."""
    out = [_TIMES.pack(seconds, stored_at)]
    values: Iterable[Seen]
    usual_tail = b""
    if type(parts) is not SplitSnapshot:
        values = parts.values()
    elif parts.shared is layout.shared:  # the code's parts: as usual, all of them
        values = parts.own.values()
        usual_tail = _USUAL * len(parts.shared)
    else:
        values = parts.seen_values()
    for seen, usual in zip(values, layout.usual):
        if seen is usual or seen == usual:
            out.append(_USUAL)
            continue
        data, text = seen
        shown = text.encode("utf-8", "surrogatepass")
        if len(data) < 255 and len(shown) < 255:  # :func:`_text`'s short form, inline
            out += (_OWN, _SIZE_BYTE[len(data)], data, _SIZE_BYTE[len(shown)], shown)
        else:
            out += (_OWN, _text(data), _text(shown))
    out.append(usual_tail)
    return b"".join(out)


def times(packed: bytes) -> tuple[float, float]:
    """(seconds, stored_at) of a packed entry."""
    seconds, stored_at = _TIMES.unpack_from(packed)
    return seconds, stored_at


def with_times(packed: bytes, seconds: float, stored_at: float) -> bytes:
    return _TIMES.pack(seconds, stored_at) + packed[_TIMES.size :]


def unpack(layout: Layout, packed: bytes) -> list[Seen]:
    """Each part's ``Seen``, in the layout's order."""
    found = []
    at = _TIMES.size
    for usual in layout.usual:
        flag = packed[at : at + 1]
        at += 1
        if flag == _USUAL:
            found.append(usual)
            continue
        data, at = _read_text(packed, at)
        shown, at = _read_text(packed, at)
        found.append(Seen(data, shown.decode("utf-8", "surrogatepass")))
    return found


class PackedParts(Mapping[PartId, Seen]):
    """A packed entry's parts as a read-only mapping, decoded on first use."""

    __slots__ = ("_layout", "_packed", "_seen")

    def __init__(self, layout: Layout, packed: bytes) -> None:
        self._layout = layout
        self._packed = packed
        self._seen: list[Seen] | None = None

    def _all(self) -> list[Seen]:
        if self._seen is None:
            self._seen = unpack(self._layout, self._packed)
        return self._seen

    def __getitem__(self, ident: PartId) -> Seen:
        return self._all()[self._layout.index[ident]]

    def __iter__(self) -> Iterator[PartId]:
        return iter(self._layout.ids)

    def __len__(self) -> int:
        return len(self._layout.ids)

    def __contains__(self, ident: object) -> bool:
        return ident in self._layout.index

    def __repr__(self) -> str:
        return f"PackedParts({dict(self.items())!r})"
