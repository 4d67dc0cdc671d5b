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
from .arrays import data_parts, feed
from .handlers import fall_back_to_general_rules, register
from .wire import pack_q

if TYPE_CHECKING:
    from .core import Hasher

# The dtypes ``Tensor.numpy()`` gives; the others (bfloat16, float8, complex32) are
# read as the integers of their width, their dtype's name keeping them apart.
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
_BITS_OF_WIDTH = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}
_SPARSE_LAYOUTS = frozenset(
    {torch.sparse_coo, torch.sparse_csr, torch.sparse_csc, torch.sparse_bsr, torch.sparse_bsc}
)


def _type_name(value: Any, hasher: Hasher) -> str:
    """The type's name for torch's own classes; a user's subclass by its code's digest."""
    tp = type(value)
    if tp.__module__.startswith("torch"):
        return f"{tp.__module__}.{tp.__qualname__}"
    return hasher.digest_nested(tp).hex()


def host_array(t: torch.Tensor) -> Any:
    """The values of dense ``t`` as a numpy array, sharing its memory where it can.

    Each check is a flag read, so the common case (a CPU tensor of a numpy dtype) costs
    one ``numpy()`` call; the others are detached, resolved, copied to the host or
    reinterpreted first.  (Asking ``numpy()`` first and catching its refusal costs
    more: a torch error formats a C++ backtrace.)
    """
    if t.requires_grad:
        t = t.detach()
    if t.is_conj():
        t = t.resolve_conj()
    if t.is_neg():
        t = t.resolve_neg()
    if not t.is_cpu:
        t = t.cpu()  # a GPU tensor: one host copy, its device is in the header
    if t.dtype not in _NUMPY_DTYPES:
        t = t.view(_BITS_OF_WIDTH[t.element_size()])
    return t.numpy()


def _refuse(t: torch.Tensor, convert_with: str) -> UnhashableTypeError:
    tp = type(t)
    return UnhashableTypeError(
        type_name=f"{tp.__module__}.{tp.__qualname__}", convert_with=convert_with
    )


def _header(value: torch.Tensor, hasher: Hasher) -> bytes:
    device = "cpu" if value.is_cpu else str(value.device)  # str(device) costs 2 µs
    return (
        f"torch|{_type_name(value, hasher)}|{value.dtype}|{tuple(value.shape)}|{device}|"
        f"{value.requires_grad}|{value.layout}"
    ).encode()


def _is_plain(value: torch.Tensor) -> bool:
    """A dense tensor whose values ``host_array`` reads, with no attributes of its own."""
    return (
        value.layout is torch.strided
        and not (value.is_quantized or value.is_nested or value.is_meta)
        and not getattr(value, "__dict__", None)
    )


def digest_tensor(value: torch.Tensor, hasher: Hasher) -> bytes:
    """A tensor or parameter: header, then every value's bytes in C order."""
    h = xxhash.xxh3_128(_header(value, hasher))
    if _is_plain(value):
        feed(h, data_parts(host_array(value), hasher, []))
        return h.digest()
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
    elif value.layout is torch.strided:
        # A meta tensor has a shape and a dtype, no data; the dense data of others.
        if not value.is_meta:
            feed(h, data_parts(host_array(value), hasher, []))
    else:
        raise _refuse(value, "to_dense()")
    extra = getattr(value, "__dict__", None)
    if extra:  # attributes set on the tensor, which its pickle carries too
        h.update(hasher.digest_nested(dict(extra)))
    return h.digest()


_TENSOR_DICTS = ("_parameters", "_buffers")
_PLAIN_TENSORS = (torch.Tensor, torch.nn.Parameter)


def digest_module(value: torch.nn.Module, hasher: Hasher) -> bytes:
    """A module by its class and its state, submodules included: parameters, buffers
    and submodules by name and value, in order; its other attributes (settings, hooks)
    as a dict.

    The whole tree is gathered first, the data of its plain tensors kept aside, then
    streamed in one loop (see :func:`.arrays.feed`): a model's weights cost what the
    same arrays cost through numpy.
    """
    h = xxhash.xxh3_128(b"torch.nn.Module|")
    data: list[Any] = []
    _gather_module(value, hasher, h, data, {id(value): 0})
    feed(h, data)
    return h.digest()


def _gather_module(
    module: torch.nn.Module, hasher: Hasher, h: Any, data: list[Any], path: dict[int, int]
) -> None:
    """Write ``module``'s class and state into ``h``, its plain tensors' data into ``data``.

    Hooks are filed under ids from a process-wide counter: kept as the hooks, in order.
    The names of non-persistent buffers are a set: kept sorted.  A tensor or submodule
    that is not plain (a sparse tensor, a ``hash_funcs`` entry for it) is written as
    its own digest; a module found again on ``path`` (its ids -> depths), as how far up.
    """
    h.update(_type_name(module, hasher).encode())
    inline = not hasher.has_hash_funcs
    rest: dict[str, Any] = {}
    for name, attribute in vars(module).items():
        if name in _TENSOR_DICTS and type(attribute) is dict:
            h.update(f"|{name}|{len(attribute)}".encode())
            for key, item in attribute.items():
                h.update(hasher.digest_nested(key))
                if inline and type(item) in _PLAIN_TENSORS and _is_plain(item):
                    h.update(_header(item, hasher))
                    data_parts(host_array(item), hasher, data)
                else:
                    h.update(hasher.digest_nested(item))
        elif name == "_modules" and type(attribute) is dict:
            h.update(f"|{name}|{len(attribute)}".encode())
            for key, item in attribute.items():
                h.update(hasher.digest_nested(key))
                if id(item) in path:  # a module that holds itself, further down
                    h.update(b"@" + pack_q(len(path) - path[id(item)]))
                elif inline and isinstance(item, torch.nn.Module):
                    path[id(item)] = len(path)
                    _gather_module(item, hasher, h, data, path)
                    del path[id(item)]
                else:
                    h.update(hasher.digest_nested(item))
        elif type(attribute) is set:
            rest[name] = sorted(attribute)
        elif name.startswith("_") and "hooks" in name and isinstance(attribute, dict):
            rest[name] = list(attribute.values())
        else:
            rest[name] = attribute
    h.update(hasher.digest_nested(rest))


def digest_generator(value: torch.Generator, hasher: Hasher) -> bytes:
    """A random generator by what it draws next: its device and state."""
    h = xxhash.xxh3_128(b"torch.Generator|" + str(value.device).encode())
    h.update(digest_tensor(value.get_state(), hasher))
    return h.digest()


register(torch.Tensor, digest_tensor, root="torch")
register(torch.nn.Module, digest_module, root="torch")
register(torch.Generator, digest_generator, root="torch")
fall_back_to_general_rules("torch")
