"""torch tensors, parameters, modules and generators: hashed from their data and state.

A tensor's pickle carries the address of its storage, so equal tensors would almost
never hit; here a tensor is its type, dtype, shape, device, ``requires_grad`` and the
bytes of its values in C order, read through numpy without a copy (:mod:`.arrays`).
Strides, storage offset and the storage itself are left out, as numpy arrays leave
them out: a view hashes like its contiguous copy, and a slice costs its own bytes.

Traps a naive export falls into, each handled before the data is read:

* lazy conjugate and negative bits (``z.conj().imag``) are resolved first: an export
  that ignores them reads the values of ``z.imag``;
* a tensor that requires grad is detached (its data, not its graph, is the value);
* dtypes numpy lacks (bfloat16, float8, complex32) are read as the integers of their
  bits, the dtype name keeping them apart;
* a GPU tensor is copied to the host (``.cpu()``) and keyed with its device;
* a sparse tensor is hashed by its coalesced indices and values (layout in the key);
  data that cannot be read as buffers (quantized, nested) is refused with the fix.

A module (``nn.Module``) is hashed by its class (a user's class by its code), its
parameters and buffers by value, its submodules in order, its other attributes and
its hooks (as functions, not the process-wide ids they are filed under).  A
``torch.Generator`` is hashed by its device and ``get_state()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import xxhash

from ..errors import UnhashableTypeError
from .arrays import array_parts, feed
from .handlers import fall_back_to_general_rules, register

if TYPE_CHECKING:
    from .core import Hasher

# Dtypes ``Tensor.numpy()`` cannot give: read as unsigned... integers of their width.
_BITS_OF_WIDTH = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}
_NUMPY_DTYPES = frozenset(
    {
        torch.bool,
        torch.uint8,
        torch.int8,
        torch.int16,
        torch.int32,
        torch.int64,
        torch.float16,
        torch.float32,
        torch.float64,
        torch.complex64,
        torch.complex128,
    }
)
_SPARSE_LAYOUTS = frozenset(
    {torch.sparse_coo, torch.sparse_csr, torch.sparse_csc, torch.sparse_bsr, torch.sparse_bsc}
)


def _type_digest(value: Any, hasher: Hasher) -> bytes:
    """The type's name for torch's own classes, a user subclass by its code."""
    tp = type(value)
    if tp.__module__.startswith("torch"):
        return f"{tp.__module__}.{tp.__qualname__}".encode()
    return hasher.digest_nested(tp)


def _header(t: torch.Tensor, hasher: Hasher) -> bytes:
    return b"|".join(
        (
            b"torch",
            _type_digest(t, hasher),
            str(t.dtype).encode(),
            repr(tuple(t.shape)).encode(),
            str(t.device).encode(),
            b"grad" if t.requires_grad else b"nograd",
            str(t.layout).encode(),
        )
    )


def host_array(t: torch.Tensor) -> Any:
    """The values of dense ``t`` as a numpy array sharing its memory where it can: CPU,
    bits resolved, detached, in a dtype numpy has."""
    data = t.detach()
    if data.is_conj():
        data = data.resolve_conj()
    if data.is_neg():
        data = data.resolve_neg()
    if data.device.type != "cpu":
        data = data.cpu()  # a GPU tensor: one host copy, its device is in the header
    if data.dtype not in _NUMPY_DTYPES:
        data = data.view(_BITS_OF_WIDTH[data.element_size()])
    return data.numpy()


def _refuse(t: torch.Tensor, convert_with: str) -> UnhashableTypeError:
    tp = type(t)
    return UnhashableTypeError(
        type_name=f"{tp.__module__}.{tp.__qualname__}", convert_with=convert_with
    )


def digest_tensor(value: torch.Tensor, hasher: Hasher) -> bytes:
    """A tensor or parameter: header, then every value's bytes in C order."""
    h = xxhash.xxh3_128(_header(value, hasher))
    if value.is_quantized:
        raise _refuse(value, "dequantize()")
    if value.is_nested:
        raise _refuse(value, "unbind()")
    if value.layout in _SPARSE_LAYOUTS:
        coo = value.detach()
        if coo.layout != torch.sparse_coo:
            coo = coo.to_sparse_coo()
        coo = coo.cpu().coalesce()
        h.update(digest_tensor(coo.indices(), hasher))
        h.update(digest_tensor(coo.values(), hasher))
    elif value.layout != torch.strided:
        raise _refuse(value, "to_dense()")
    elif value.device.type != "meta":  # a meta tensor has a shape and no data
        feed(h, array_parts(host_array(value), hasher))
    extra = getattr(value, "__dict__", None)
    if extra:  # attributes set on the tensor, which its pickle carries too
        h.update(hasher.digest_nested(dict(extra)))
    return h.digest()


# Attributes of a module that hold hooks: dicts keyed by a process-wide counter, so
# they are keyed by their functions in order.
def _module_state(module: torch.nn.Module) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for name, value in vars(module).items():
        if type(value) is set:
            value = sorted(value)  # the names of non-persistent buffers
        elif "hooks" in name and isinstance(value, dict):
            value = list(value.values())
        state[name] = value
    return state


def digest_module(value: torch.nn.Module, hasher: Hasher) -> bytes:
    """A module by its class and its state (parameters, buffers, submodules, settings)."""
    h = xxhash.xxh3_128(b"torch.nn.Module|" + hasher.digest_nested(type(value)))
    h.update(hasher.digest_nested(_module_state(value)))
    return h.digest()


def digest_generator(value: torch.Generator, hasher: Hasher) -> bytes:
    """A random generator by what it draws next: its device and state."""
    h = xxhash.xxh3_128(b"torch.Generator|" + str(value.device).encode())
    h.update(digest_tensor(value.get_state(), hasher))
    return h.digest()


register(torch.Tensor, digest_tensor, root="torch")
register(torch.nn.Module, digest_module, root="torch")
register(torch.Generator, digest_generator, root="torch")
fall_back_to_general_rules("torch")
