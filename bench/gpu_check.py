"""What tensors on a CUDA GPU do through ``@memo``: run it on a machine with one.

Three checks, each printed with its figures:

1. a CUDA tensor argument: an equal copy on the GPU hits; what hashing it costs (its
   data is copied to the host once), against the same tensor on the CPU;
2. a CUDA result: a hit returns it, and changing it in place is caught by the
   mutation check on the next hit;
3. the same values on the GPU and on the CPU: their digests differ (the device is in
   the key) while the data hashed is the same bytes.

Without a CUDA GPU it says so and exits 0: nothing else depends on it.  Exits 1 when a
check fails.  ``.venv/bin/python bench/gpu_check.py``
"""

from __future__ import annotations

import sys
import time
from typing import Any

import torch

from ipycache_ext import config, hashing, memo, notify

ELEMENTS = 20_000_000


def _median_seconds(fn: Any, rounds: int = 7) -> float:
    times = []
    for _ in range(rounds):
        torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def check_argument(on_gpu: torch.Tensor, on_cpu: torch.Tensor) -> bool:
    runs: list[int] = []

    @memo
    def total(t: torch.Tensor) -> float:
        runs.append(1)
        return float(t.sum())

    total(on_gpu)
    total(on_gpu.clone())
    gpu_s = _median_seconds(lambda: hashing.digest(on_gpu))
    cpu_s = _median_seconds(lambda: hashing.digest(on_cpu))
    ok = len(runs) == 1
    print(
        f"1. CUDA argument of {ELEMENTS:.0e} float32: an equal GPU copy "
        f"{'hits' if ok else 'MISSES'}; digest {gpu_s * 1e3:.1f} ms on the GPU (host copy "
        f"included) vs {cpu_s * 1e3:.1f} ms on the CPU ({gpu_s / cpu_s:.2f}x)"
    )
    return ok


def check_result() -> bool:
    notes: list[Any] = []

    @memo
    def ones(n: int) -> torch.Tensor:
        return torch.ones(n, device="cuda")

    first = ones(ELEMENTS)
    hit_s = _median_seconds(lambda: ones(ELEMENTS))
    notify.set_sink(notes.append)
    try:
        first.add_(1)
        ones(ELEMENTS)
    finally:
        notify.set_sink(None)
    caught = any("mutated" in note.text for note in notes)
    print(
        f"2. CUDA result of {ELEMENTS:.0e} float32: hit with its mutation check "
        f"{hit_s * 1e3:.1f} ms; an in-place add_ {'is caught' if caught else 'is NOT caught'}"
    )
    return caught


def check_devices(on_gpu: torch.Tensor, on_cpu: torch.Tensor) -> bool:
    from ipycache_ext.hashing.tensors import host_array

    same_bytes = host_array(on_gpu).tobytes() == host_array(on_cpu).tobytes()
    differ = hashing.digest(on_gpu) != hashing.digest(on_cpu)
    print(
        f"3. the same values on {on_gpu.device} and on cpu: digests "
        f"{'differ' if differ else 'are EQUAL'} (device in the key); data hashed "
        f"{'is the same bytes' if same_bytes else 'DIFFERS'}"
    )
    return differ and same_bytes


def main() -> int:
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA GPU on this machine (torch.cuda.is_available() is False).")
        return 0
    config.SETTINGS.notes = False
    torch.manual_seed(0)
    on_cpu = torch.rand(ELEMENTS)
    on_gpu = on_cpu.cuda()
    print(f"gpu_check on {torch.cuda.get_device_name()}, torch {torch.__version__}")
    results = [check_argument(on_gpu, on_cpu), check_result(), check_devices(on_gpu, on_cpu)]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
