"""jax arrays: hashed from their data, read as numpy without a copy where jax allows.

A jax array's pickle copies its data to bytes first (7-24x the numpy path); here it is
its dtype name, shape, ``weak_type`` (a Python scalar's array promotes differently from
an explicit one), devices and the bytes of its values (:mod:`.arrays`).  A PRNG key
array is hashed by its key data, its dtype naming the implementation.  A tracer (a
value inside ``jax.jit``) has no data to hash: it is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax
import numpy as np
import xxhash

from ..errors import UnhashableTypeError
from .arrays import data_parts, feed
from .handlers import fall_back_to_general_rules, register

if TYPE_CHECKING:
    from .core import Hasher


def _devices(value: jax.Array) -> bytes:
    names = sorted(f"{d.platform}:{d.id}" for d in value.devices())
    return ",".join(names).encode()


def digest_array(value: jax.Array, hasher: Hasher) -> bytes:
    if isinstance(value, jax.core.Tracer):
        tp = type(value)
        raise UnhashableTypeError(type_name=f"{tp.__module__}.{tp.__qualname__}")
    dtype = value.dtype
    header = b"|".join(
        (
            b"jax",
            str(dtype).encode(),
            repr(tuple(value.shape)).encode(),
            b"weak" if getattr(value, "weak_type", False) else b"strong",
            _devices(value),
        )
    )
    h = xxhash.xxh3_128(header)
    if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        value = jax.random.key_data(value)
    feed(h, data_parts(np.asarray(value), hasher, []))
    return h.digest()


register(jax.Array, digest_array, root="jax")
fall_back_to_general_rules("jax")
