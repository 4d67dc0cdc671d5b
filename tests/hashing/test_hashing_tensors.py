"""torch tensors and jax arrays hashed from their data: a view, a slice, a clone and a
copy in another dtype's layout hash like the values they hold, the same in every
process; dtype, shape, device, ``requires_grad`` and the type tell them apart; the
traps of a naive export (lazy conj/neg bits, bf16, sparse) hash what the values are."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from conftest import REPO

from ipycache_ext.errors import UnhashableTypeError
from ipycache_ext.hashing import digest

pytestmark = pytest.mark.tensors

N = 1000


def values(n: int = N, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return (torch.arange(n, dtype=torch.float64) * 0.37 - 11).to(dtype)


def test_a_cloned_tensor_hashes_like_the_original() -> None:
    t = values()
    assert digest(t.clone()) == digest(t)


def test_a_transposed_view_hashes_like_its_contiguous_copy() -> None:
    t = values(N).reshape(40, 25).t()
    assert not t.is_contiguous()
    assert digest(t) == digest(t.contiguous())


def test_a_slice_hashes_like_its_copy() -> None:
    t = values(10 * N)
    assert digest(t[3000:3500]) == digest(t[3000:3500].clone())


def test_a_strided_slice_hashes_like_its_copy() -> None:
    t = values(10 * N).reshape(100, 100)
    assert digest(t[5:50:3, ::7]) == digest(t[5:50:3, ::7].contiguous())


@pytest.mark.parametrize(
    "dtype",
    [torch.bfloat16, torch.float8_e4m3fn, torch.float8_e5m2, torch.complex32, torch.bool],
)
def test_a_copy_in_a_dtype_numpy_lacks_or_a_bool_hashes_like_the_original(
    dtype: torch.dtype,
) -> None:
    t = values(dtype=dtype)
    assert digest(t.clone()) == digest(t)


def test_a_bf16_tensor_hashes_by_its_bits() -> None:
    t = torch.tensor([1.0, 2.0, 3.0], dtype=torch.bfloat16)
    changed = torch.tensor([1.0, 2.0, 3.5], dtype=torch.bfloat16)
    assert digest(t) != digest(changed)
    assert digest(t) == digest(t.view(torch.int16).clone().view(torch.bfloat16))


def test_an_int64_copy_hashes_like_the_original() -> None:
    t = torch.arange(N, dtype=torch.int64) * 7
    assert digest(t.clone()) == digest(t)


def test_the_same_bits_in_another_dtype_differ() -> None:
    t = torch.arange(8, dtype=torch.int32)
    assert digest(t) == digest(t.clone())
    assert digest(t.view(torch.float32)) != digest(t)


def test_the_same_values_in_another_shape_differ() -> None:
    t = values(12)
    assert digest(t.reshape(3, 4)) == digest(t.reshape(3, 4).clone())
    assert digest(t.reshape(3, 4)) != digest(t.reshape(4, 3))


def test_a_conj_tensor_hashes_like_its_resolved_copy() -> None:
    z = torch.complex(values(), values() * 2)
    assert z.conj().is_conj()
    assert digest(z.conj()) == digest(z.conj().resolve_conj())


def test_the_imag_of_a_conj_hashes_as_its_negated_values() -> None:
    z = torch.complex(values(), values() * 2)
    lazy = z.conj().imag
    assert lazy.is_neg()
    assert digest(lazy) == digest(-z.imag)
    assert digest(lazy) != digest(z.imag)


def test_a_tensor_that_requires_grad_hashes_like_its_clone() -> None:
    t = values().requires_grad_()
    assert digest(t) == digest(t.detach().clone().requires_grad_())


def test_requires_grad_is_in_the_key() -> None:
    t = values()
    assert digest(t) == digest(t.clone())
    assert digest(t.clone().requires_grad_()) != digest(t)


def test_a_parameter_hashes_like_its_copy_and_unlike_a_tensor() -> None:
    p = torch.nn.Parameter(values())
    assert digest(p) == digest(torch.nn.Parameter(values()))
    assert digest(p) != digest(values().requires_grad_())


def test_the_device_is_in_the_key() -> None:
    assert digest(torch.zeros(3, 4)) == digest(torch.zeros(3, 4))
    meta = torch.empty(3, 4, device="meta")  # a shape and a dtype, no data
    assert digest(meta) == digest(torch.empty(3, 4, device="meta"))
    assert digest(meta) != digest(torch.zeros(3, 4))


def test_a_sparse_tensor_hashes_like_its_coalesced_form() -> None:
    indices = torch.tensor([[0, 1, 1, 0], [2, 0, 0, 2]])
    sparse = torch.sparse_coo_tensor(indices, torch.tensor([1.0, 2.0, 3.0, 4.0]), (2, 3))
    assert not sparse.is_coalesced()
    assert digest(sparse) == digest(sparse.coalesce())


def test_a_sparse_tensor_differs_from_one_with_another_value() -> None:
    dense = torch.tensor([[0.0, 0.0, 5.0], [5.0, 0.0, 0.0]])
    changed = dense.clone()
    changed[1, 0] = 6.0
    assert digest(dense.to_sparse()) == digest(dense.clone().to_sparse())
    assert digest(dense.to_sparse()) != digest(changed.to_sparse())


def test_a_sparse_tensor_differs_from_its_dense_form() -> None:
    dense = torch.tensor([[0.0, 0.0, 5.0], [5.0, 0.0, 0.0]])
    assert digest(dense) == digest(dense.clone())
    assert digest(dense.to_sparse()) != digest(dense)


def test_a_csr_tensor_hashes_like_its_copy() -> None:
    dense = torch.tensor([[0.0, 0.0, 5.0], [5.0, 0.0, 0.0]])
    assert digest(dense.to_sparse_csr()) == digest(dense.clone().to_sparse_csr())
    assert digest(dense.to_sparse_csr()) != digest(dense.to_sparse())


def test_a_quantized_tensor_is_refused_with_the_fix() -> None:
    q = torch.quantize_per_tensor(values(8), 0.1, 0, torch.qint8)
    with pytest.raises(UnhashableTypeError) as caught:
        digest(q)
    text = str(caught.value)
    assert "torch.Tensor" in text
    assert "dequantize()" in text


def test_a_tensor_hashes_the_same_in_another_process() -> None:
    source = textwrap.dedent(
        """
        import torch
        from ipycache_ext.hashing import hexdigest
        t = (torch.arange(1000, dtype=torch.float64) * 0.37 - 11).to(torch.float32)
        print(hexdigest(t))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", source], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == digest(values()).hex()


def test_importing_the_package_imports_no_tensor_library_until_a_tensor_is_hashed() -> None:
    source = textwrap.dedent(
        """
        import sys
        import ipycache_ext
        from ipycache_ext.hashing import digest
        digest([1, 2.5, "x"])
        print(sorted(m for m in ("torch", "jax") if m in sys.modules))
        import torch
        digest(torch.zeros(2))
        print("ipycache_ext.hashing.tensors" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", source], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["[]", "True"]


def test_a_tensor_inside_a_list_hashes_like_its_clone_there() -> None:
    t = values()
    assert digest([t, {"w": t[:10]}]) == digest([t.clone(), {"w": t[:10].clone()}])


# ----- jax ---------------------------------------------------------------------------------


def test_a_jax_array_hashes_like_its_copy() -> None:
    a = jnp.arange(N, dtype=jnp.float32) * 0.5
    assert digest(a) == digest(jnp.array(np.asarray(a)))


def test_a_jax_slice_hashes_like_its_copy() -> None:
    a = jnp.arange(N, dtype=jnp.float32).reshape(40, 25)
    assert digest(a[3:9, ::2]) == digest(jnp.array(np.asarray(a)[3:9, ::2]))


def test_the_same_jax_values_on_another_device_differ() -> None:
    source = textwrap.dedent(
        """
        import jax, jax.numpy as jnp
        from ipycache_ext.hashing import hexdigest
        first, second = jax.devices("cpu")[:2]
        a = jnp.arange(10.0)
        print(hexdigest(jax.device_put(a, first)), hexdigest(jax.device_put(a, second)))
        print(hexdigest(jax.device_put(a, first)) == hexdigest(jnp.arange(10.0)))
        """
    )
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    out = subprocess.run(
        [sys.executable, "-c", source], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    on_first, on_second, same = out.stdout.split()
    assert on_first != on_second
    assert same == "True"


def test_a_weak_typed_jax_array_differs_from_a_strong_one() -> None:
    weak = jnp.asarray(2.0) * 1.0
    strong = jnp.asarray(2.0, dtype=jnp.float32)
    assert weak.weak_type and not strong.weak_type
    assert digest(weak) == digest(jnp.asarray(2.0) * 1.0)
    assert digest(weak) != digest(strong)


def test_a_bf16_jax_array_hashes_like_its_copy() -> None:
    a = jnp.arange(N, dtype=jnp.bfloat16)
    assert digest(a) == digest(jnp.array(np.asarray(a)))
    assert digest(a) != digest(jnp.arange(N, dtype=jnp.float16))


def test_a_jax_key_array_hashes_by_its_key_data() -> None:
    key = jax.random.key(7)
    assert digest(key) == digest(jax.random.key(7))
    assert digest(key) != digest(jax.random.key(8))


def test_a_jitted_user_function_is_still_hashed_by_its_code() -> None:
    namespace: dict = {"__name__": "__main__", "jax": jax}
    exec("def double(x):\n    return x * 2\n", namespace)
    first = digest(jax.jit(namespace["double"]))
    exec("def double(x):\n    return x * 3\n", namespace)
    assert digest(jax.jit(namespace["double"])) != first


# ----- modules -------------------------------------------------------------------------


def _linear(seed: int = 0) -> torch.nn.Linear:
    torch.manual_seed(seed)
    return torch.nn.Linear(3, 2)


def _double(module: torch.nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
    return output * 2


def test_modules_built_alike_with_the_same_hook_hash_alike() -> None:
    first, second = _linear(), _linear()
    _linear().register_forward_hook(_double)  # the handles' ids come from one counter
    first.register_forward_hook(_double)
    second.register_forward_hook(_double)
    assert digest(first) == digest(second)
    assert digest(first) != digest(_linear())


def test_a_module_that_holds_itself_hashes_like_one_built_alike() -> None:
    first, second = torch.nn.Sequential(_linear()), torch.nn.Sequential(_linear())
    first.add_module("again", first)
    second.add_module("again", second)
    assert digest(first) == digest(second)
    with torch.no_grad():
        second[0].bias[1] = 9.0
    assert digest(first) != digest(second)
