"""Tensors through @memo and %%memo: modules keyed by their weights and code, results
checked for mutation in one pass, copied by clone(), persisted and loaded back as
tensors, and hit by another process."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import pytest
import torch
from conftest import Notes, Tally, define, run_cell
from persist_support import (
    LOADED,
    Kernels,
    forget_memory,
    lines,
    result,
    run_script,
    store_env,
    texts,
)

from ipycache_ext import memo

pytestmark = pytest.mark.tensors

NET = """
import torch

class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc = torch.nn.Linear(4, 3)
        self.register_buffer("scale", torch.ones(3))

    def forward(self, x):
        return self.fc(x) * self.scale
"""


def net_namespace(ns: dict[str, Any]) -> dict[str, Any]:
    return define(ns, NET)


def test_a_deepcopy_of_a_module_argument_hits(ns: dict[str, Any], tally: Tally) -> None:
    Net = net_namespace(ns)["Net"]

    @memo
    def predict(model: torch.nn.Module) -> torch.Tensor:
        tally(1)
        return model(torch.ones(4))

    model = Net()
    predict(model)
    predict(copy.deepcopy(model))
    assert len(tally) == 1


def test_a_module_loaded_from_a_state_dict_hits(ns: dict[str, Any], tally: Tally) -> None:
    Net = net_namespace(ns)["Net"]

    @memo
    def predict(model: torch.nn.Module) -> torch.Tensor:
        tally(1)
        return model(torch.ones(4))

    model = Net()
    predict(model)
    other = Net()
    with torch.no_grad():
        other.fc.weight.zero_()
    other.load_state_dict(copy.deepcopy(model.state_dict()))
    predict(other)
    assert len(tally) == 1


def test_a_state_dict_argument_hits_for_an_equal_copy(tally: Tally) -> None:
    @memo
    def size(state: dict) -> int:
        tally(1)
        return sum(t.numel() for t in state.values())

    model = torch.nn.Linear(4, 3)
    size(model.state_dict())
    size(copy.deepcopy(model.state_dict()))
    assert len(tally) == 1


def test_one_changed_weight_misses_and_the_note_names_the_module(
    ns: dict[str, Any], tally: Tally, notes: Notes
) -> None:
    Net = net_namespace(ns)["Net"]

    @memo
    def predict(model: torch.nn.Module) -> torch.Tensor:
        tally(1)
        return model(torch.ones(4))

    model = Net()
    predict(model)
    predict(copy.deepcopy(model))
    assert len(tally) == 1
    with torch.no_grad():
        model.fc.weight[1, 2] += 1.0
    predict(model)
    assert len(tally) == 2
    assert "predict(<Net>)" in notes.texts("miss")[-1]
    assert "(argument model changed)" in notes.texts("miss")[-1]


def test_a_changed_buffer_misses(ns: dict[str, Any], tally: Tally) -> None:
    Net = net_namespace(ns)["Net"]

    @memo
    def predict(model: torch.nn.Module) -> torch.Tensor:
        tally(1)
        return model(torch.ones(4))

    model = Net()
    predict(model)
    predict(copy.deepcopy(model))
    model.scale[0] = 2.0
    predict(model)
    assert len(tally) == 2


def test_a_module_global_is_keyed_by_its_weights(
    ns: dict[str, Any], tally: Tally, notes: Notes
) -> None:
    net_namespace(ns)
    ns["tally"] = tally
    define(
        ns,
        """
        model = Net()

        @memo
        def predict(n):
            tally(n)
            return model(torch.ones(4)) * n
        """,
    )
    ns["predict"](2)
    ns["model"] = copy.deepcopy(ns["model"])
    ns["predict"](2)
    assert len(tally) == 1
    with torch.no_grad():
        ns["model"].fc.bias[0] = 5.0
    ns["predict"](2)
    assert len(tally) == 2
    assert "global model changed" in notes.texts("miss")[-1]


def test_an_edited_module_class_misses_with_equal_weights(ns: dict[str, Any], tally: Tally) -> None:
    Net = net_namespace(ns)["Net"]

    @memo
    def predict(model: torch.nn.Module) -> torch.Tensor:
        tally(1)
        return model(torch.ones(4))

    predict(Net())
    predict(Net())
    assert len(tally) == 1
    edited = define(ns, NET.replace("* self.scale", "* self.scale * 2"))["Net"]
    predict(edited())
    assert len(tally) == 2


def test_a_generator_argument_is_keyed_by_its_state(tally: Tally) -> None:
    @memo
    def draw(gen: torch.Generator) -> torch.Tensor:
        tally(1)
        return torch.rand(3, generator=gen)

    first = draw(torch.Generator().manual_seed(1))
    again = draw(torch.Generator().manual_seed(1))
    assert torch.equal(first, again)
    assert len(tally) == 1
    draw(torch.Generator().manual_seed(2))
    assert len(tally) == 2


def test_a_clone_of_a_tensor_argument_hits(tally: Tally) -> None:
    @memo
    def total(t: torch.Tensor) -> float:
        tally(1)
        return float(t.sum())

    t = torch.arange(100, dtype=torch.float32)
    total(t)
    total(t.clone())
    total(t[:50])
    assert len(tally) == 2


def test_a_miss_fingerprints_a_returned_tensor_in_one_pass(tally: Tally, notes: Notes) -> None:
    @memo(hash_funcs={torch.Tensor: lambda t: (tally(1), t.numpy().tobytes())[1]})
    def ones(n: int) -> torch.Tensor:
        return torch.ones(n)

    ones(5).add_(1)
    assert len(tally) == 1
    ones(5)
    assert len(tally) == 2  # the hit's mutation check, which sees the change
    assert any("mutated" in text for text in notes.texts("warning"))


def test_copy_hands_out_a_clone_of_a_tensor_in_a_graph() -> None:
    weight = torch.ones(3, requires_grad=True)

    @memo(copy=True)
    def scaled(n: int) -> torch.Tensor:
        return weight * n

    first = scaled(2)
    second = scaled(2)
    assert first is not second
    assert torch.equal(first, second)
    assert second.requires_grad


def test_copy_hands_out_the_stored_jax_array_itself() -> None:
    @memo(copy=True)
    def halves(n: int) -> Any:
        return jnp.arange(n) / 2

    assert halves(4) is halves(4)


def test_a_jax_result_is_never_hashed_for_a_mutation_check(tally: Tally, notes: Notes) -> None:
    @memo(hash_funcs={jax.Array: lambda a: (tally(1), a.tobytes())[1]})
    def halves(n: int) -> Any:
        return jnp.arange(n) / 2

    halves(4)
    halves(4)
    assert len(tally) == 0
    assert notes.texts("warning") == []


def test_a_persisted_tensor_result_loads_back_as_the_same_tensor(store: Path, tally: Tally) -> None:
    @memo(persist=True)
    def weights(t: torch.Tensor) -> torch.Tensor:
        tally(1)
        return (t * 2).to(torch.bfloat16).requires_grad_()

    stored = weights(torch.arange(6, dtype=torch.float32))
    forget_memory()
    loaded = weights(torch.arange(6, dtype=torch.float32))
    assert len(tally) == 1
    assert type(loaded) is torch.Tensor
    assert (loaded.dtype, loaded.device, loaded.requires_grad) == (
        torch.bfloat16,
        torch.device("cpu"),
        True,
    )
    assert torch.equal(loaded.detach(), stored.detach())


TENSOR_SCRIPT = """
import torch
from ipycache_ext import memo

@memo(persist=True)
def normalized(t):
    with open("runs.log", "a") as log:
        log.write("ran\\n")
    return t / t.norm()

print(normalized(torch.arange(1.0, 7.0).reshape(2, 3).t()).tolist())
"""


def test_a_persisted_tensor_result_is_hit_by_another_process(tmp_path: Path) -> None:
    env = store_env(tmp_path / "store", tmp_path / "secret.key")
    first, _ = run_script(tmp_path, TENSOR_SCRIPT, env, timeout=60)
    second, notes = run_script(tmp_path, TENSOR_SCRIPT, env, timeout=60)
    assert first == second
    assert lines(tmp_path / "runs.log") == ["ran"]
    assert LOADED in notes


def test_a_cell_reading_a_tensor_hits_after_an_equal_tensor_is_bound(ip: Any, tally: Tally) -> None:
    ip.user_ns["tally"] = tally
    run_cell(ip, "import torch\nt = torch.arange(10.0)")
    cell = "%%memo\ntally(1)\ntotal = float(t.sum())"
    run_cell(ip, cell)
    run_cell(ip, "t = t.clone()")
    run_cell(ip, cell)
    assert len(tally) == 1


SETUP = """
import jax.numpy as jnp
import torch

weights = torch.arange(6.0).reshape(2, 3).t()
offsets = jnp.arange(4.0)
"""

SCALE_CELL = """%%memo --persist
with open("runs.log", "a") as log:
    log.write("cell\\n")
del log
scaled = weights * 2 + float(offsets.sum())
scaled.sum().item()
"""


@pytest.fixture
def kernels(tmp_path: Path) -> Iterator[Kernels]:
    """Kernels sharing a directory store under ``tmp_path``, also their cwd."""
    started = Kernels(tmp_path, store_env(tmp_path / "store", tmp_path / "secret.key"))
    yield started
    started.stop_all()


def test_a_second_kernel_replays_a_cell_reading_a_tensor_and_a_jax_array(
    kernels: Kernels, tmp_path: Path
) -> None:
    first, second = kernels.start(), kernels.start()
    first.run(SETUP)
    ran = first.run(SCALE_CELL)
    second.run(SETUP)
    replayed = second.run(SCALE_CELL)
    assert result(ran) == result(replayed) == "66.0"
    assert lines(tmp_path / "runs.log") == ["cell"]
    assert any(t.startswith(LOADED) for t in texts(replayed))
    shown = result(second.run("(scaled.dtype, scaled.requires_grad, scaled.device.type)"))
    assert shown == "(torch.float32, False, 'cpu')"
