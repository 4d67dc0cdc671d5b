"""The directory store recovers from what killed writers and careless hands leave: value
files no index row names are swept when the store opens (after a grace period, and
never through a symlink), and a store deleted while the kernel runs is made again."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
from conftest import Tally
from persist_support import forget_memory, persisted_double

from ipycache_ext import memo
from ipycache_ext.store import persistent as persist


def value_files(store: Path) -> set[str]:
    return {str(p.relative_to(store)) for p in store.glob("*/*/*.val")}


def plant(path: Path, age: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * 4096)
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_orphaned_value_files_past_the_grace_are_swept_when_the_store_opens(
    store: Path, tmp_path: Path, tally: Tally
) -> None:
    @memo(persist=True)
    def big(x: int) -> np.ndarray:
        tally(x)
        return np.full(100_000, x)  # big enough for a value file of its own

    big(1)
    (entry,) = value_files(store)
    old = plant(store / "ab" / "cd" / "killed-writer.val", age=3600)
    fresh = plant(store / "ab" / "cd" / "being-written.val", age=5)
    outside = plant(tmp_path / "elsewhere" / "ef" / "not-ours.val", age=3600)
    (store / "zz").mkdir()
    os.symlink(tmp_path / "elsewhere", store / "zz" / "yy")
    persist.close()
    forget_memory()
    assert big(1)[0] == 1 and len(tally) == 1  # the entry itself is kept and loads
    assert not old.exists()
    assert fresh.exists() and outside.exists()
    assert entry in value_files(store)


def test_a_store_deleted_while_the_kernel_runs_is_made_again_for_later_writes(
    store: Path, tally: Tally
) -> None:
    double = persisted_double(tally)

    assert double(1) == 2
    shutil.rmtree(store)
    assert double(2) == 4  # written to a store made again, not to the deleted index
    assert store.is_dir()
    forget_memory()
    assert double(2) == 4 and len(tally) == 2  # loaded from the new store
    assert double(1) == 2 and len(tally) == 3  # gone with the old store: computed again
