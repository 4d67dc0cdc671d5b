"""The persistent tier in plain Python and across processes: a later process hits what
an earlier one computed; entries are signed, versioned and owner-only; every fault
(tampering, a wrong key, corruption, a full or unusable disk, a kill mid-write, a result
pickle refuses) costs at most a recomputation and one warning, never the value."""

from __future__ import annotations

import os
import pickle
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import Notes, Tally
from persist_support import (
    KILL_ON_FIRST_WRITE,
    LOADED,
    WARNING,
    WritesMarker,
    finish,
    forget_memory,
    lines,
    persisted_double,
    resign,
    run_script,
    start_script,
    store_env,
    tampered,
    warnings,
)

from ipycache_ext import memo
from ipycache_ext.config import SETTINGS
from ipycache_ext.store import persistent as persist
from ipycache_ext.store import secret, signed


def stored_names() -> list[str]:
    tier = persist.tier()
    assert tier is not None
    return tier.backend.keys()


def only_entry() -> str:
    names = stored_names()
    assert len(names) == 1, names
    return names[0]


def loaded(notes: Notes) -> list[str]:
    return [t for t in notes.texts("hit") if t.startswith(LOADED)]


# ----- across processes --------------------------------------------------------------------

SQUARE = """
import sys
from ipycache_ext import memo

@memo(persist=True)
def square(x):
    with open("runs.log", "a") as log:
        log.write(f"{x}\\n")
    return x * x

print(square(int(sys.argv[1])))
"""


def test_second_process_hits_what_the_first_computed(tmp_path: Path) -> None:
    env = store_env(tmp_path / "store", tmp_path / "secret.key")
    first, _ = run_script(tmp_path, SQUARE, env, "7")
    second, notes = run_script(tmp_path, SQUARE, env, "7")
    assert first == second == "49\n"
    assert lines(tmp_path / "runs.log") == ["7"]
    assert f"{LOADED} square(7) from {tmp_path / 'store'}" in notes


SLOW_SQUARE = """
import os
import sys
import time
from pathlib import Path
from ipycache_ext import config, memo

# The glob below only synchronizes the two processes: its listing is not an input.
config.SETTINGS.track_files = False

@memo(persist=True)
def slow_square(x):
    with open("runs.log", "a") as log:
        log.write(f"{os.getpid()}\\n")
    # Both processes are inside the call before the first one finishes.
    while len(list(Path(".").glob("calling-*"))) < 2:
        time.sleep(0.01)
    time.sleep(0.3)
    return x * x

Path(f"calling-{os.getpid()}").touch()
print(slow_square(int(sys.argv[1])))
"""


def test_two_processes_started_together_compute_once(tmp_path: Path) -> None:
    env = store_env(tmp_path / "store", tmp_path / "secret.key")
    (tmp_path / "script.py").write_text(SLOW_SQUARE)
    procs = [
        subprocess.Popen(
            [sys.executable, "script.py", "6"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [finish(p) for p in procs]
    assert [(code, out) for code, out, _ in results] == [(0, "36\n"), (0, "36\n")]
    assert len(lines(tmp_path / "runs.log")) == 1
    assert sum(LOADED in err for _, _, err in results) == 1


def test_key_file_is_created_0600_and_store_dir_0700(
    store: Path, notes: Notes, tally: Tally
) -> None:
    double = persisted_double(tally)

    assert double(3) == 6
    key_file = Path(os.environ["IPYCACHE_KEY_FILE"])
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.stat().st_mode) == 0o700


# ----- entries that must not be used ----------------------------------------------------------


def test_tampered_entry_is_never_unpickled_and_is_recomputed(
    store: Path, tmp_path: Path, notes: Notes, tally: Tally
) -> None:
    double = persisted_double(tally)

    double(2)
    name = only_entry()
    control, marker = tmp_path / "control", tmp_path / "marker"
    pickle.loads(pickle.dumps(WritesMarker(control)))
    assert control.exists()  # the planted pickle does run code when unpickled
    backend = persist.tier().backend
    backend.set(name, tampered(backend.get(name), pickle.dumps(WritesMarker(marker))), None)
    forget_memory()

    assert double(2) == 4
    assert not marker.exists()
    assert len(tally) == 2
    assert len(warnings(notes)) == 1 and "not unpickled" in warnings(notes)[0]
    forget_memory()
    assert double(2) == 4 and len(tally) == 2  # the recomputed entry replaced it


def test_planted_entry_naming_another_key_is_never_unpickled(
    store: Path, tmp_path: Path, notes: Notes, tally: Tally
) -> None:
    double = persisted_double(tally)

    double(2)
    name = only_entry()
    marker = tmp_path / "marker"
    backend = persist.tier().backend
    planted = tampered(backend.get(name), pickle.dumps(WritesMarker(marker)))
    signer = slice(len(signed.MAGIC), len(signed.MAGIC) + len(signed.key_id(b"k")))
    planted = planted[: signer.start] + bytes(signer.stop - signer.start) + planted[signer.stop :]
    backend.set(name, planted, None)
    forget_memory()

    assert double(2) == 4
    assert not marker.exists()
    assert len(tally) == 2
    assert len(warnings(notes)) == 1 and "not unpickled" in warnings(notes)[0]


def test_entry_written_with_another_key_warns_and_misses(
    store: Path, notes: Notes, tally: Tally
) -> None:
    double = persisted_double(tally)

    SETTINGS.secret_key = "the key of kernel one, long enough"
    double(2)
    persist.close()
    SETTINGS.secret_key = "the key of kernel two, long enough"
    forget_memory()

    assert double(2) == 4
    assert len(tally) == 2
    assert len(warnings(notes)) == 1 and "not unpickled" in warnings(notes)[0]
    assert not loaded(notes)


def test_truncated_entry_warns_and_misses_and_other_entries_still_hit(
    store: Path, notes: Notes, tally: Tally
) -> None:
    @memo(persist=True)
    def block(x: int) -> bytes:
        tally(x)
        return bytes([x]) * 200_000

    block(1)
    block(2)
    files = sorted(store.rglob("*.val"), key=lambda p: p.stat().st_mtime_ns)
    assert len(files) == 2
    os.truncate(files[0], files[0].stat().st_size // 2)  # block(1)'s value file
    forget_memory()

    assert block(1) == bytes([1]) * 200_000
    assert block(2) == bytes([2]) * 200_000
    assert tally.runs == [1, 2, 1]
    assert len(warnings(notes)) == 1 and "block" in warnings(notes)[0]
    assert len(loaded(notes)) == 1 and loaded(notes)[0].endswith(f"block(2) from {store}")


def test_corrupt_entry_warns_and_misses_and_other_entries_still_hit(
    store: Path, notes: Notes, tally: Tally
) -> None:
    double = persisted_double(tally)

    double(1)
    first = only_entry()
    double(2)
    persist.tier().backend.set(first, b"\x00\xff garbage where an entry was", None)
    forget_memory()

    assert (double(1), double(2)) == (2, 4)
    assert tally.runs == [1, 2, 1]
    assert len(warnings(notes)) == 1 and "truncated or corrupt" in warnings(notes)[0]
    assert len(loaded(notes)) == 1 and loaded(notes)[0].endswith(f"double(2) from {store}")


def _ramp_stored_as_of_other_numpy(tally: Tally) -> tuple[Any, str, bytes]:
    """A persisted ``ramp`` whose stored entry for ``ramp(5)`` was re-signed as a
    kernel with numpy 0.0.1 would have written it: (ramp, its entry's name, the bytes)."""

    @memo(persist=True)
    def ramp(n: int) -> np.ndarray:
        tally(n)
        return np.arange(n)

    ramp(5)
    name = only_entry()
    backend = persist.tier().backend
    theirs = resign(bytes(backend.get(name)), secret.secret_key(), _other_numpy)
    backend.set(name, theirs, None)
    forget_memory()
    return ramp, name, theirs


def _other_numpy(header: dict[str, Any]) -> None:
    assert header["libs"]["numpy"] == np.__version__
    header["libs"]["numpy"] = "0.0.1"


def test_library_version_mismatch_in_header_misses(store: Path, notes: Notes, tally: Tally) -> None:
    ramp, _, _ = _ramp_stored_as_of_other_numpy(tally)

    assert ramp(5).tolist() == [0, 1, 2, 3, 4]
    assert len(tally) == 2
    assert not loaded(notes)
    assert len(warnings(notes)) == 1 and "numpy 0.0.1" in warnings(notes)[0]


def test_an_entry_of_other_library_versions_stays_and_this_kernel_keeps_its_own_beside_it(
    store: Path, notes: Notes, tally: Tally
) -> None:
    ramp, name, theirs = _ramp_stored_as_of_other_numpy(tally)
    assert ramp(5).tolist() == [0, 1, 2, 3, 4]  # computed here, stored beside theirs
    forget_memory()
    persist.close()  # a new kernel: nothing remembered but the store
    assert ramp(5).tolist() == [0, 1, 2, 3, 4]  # our own copy, loaded

    assert tally.runs == [5, 5]
    backend = persist.tier().backend
    assert bytes(backend.get(name)) == theirs  # never deleted nor overwritten
    assert len(backend.keys()) == 2
    (warning,) = warnings(notes)  # once: the new kernel found its own copy
    assert "numpy 0.0.1" in warning and "stores its own result beside it" in warning
    assert len(loaded(notes)) == 1


def test_an_outdated_copy_of_our_own_is_replaced_not_slotted_again(
    store: Path, notes: Notes, tally: Tally
) -> None:
    ramp, name, _ = _ramp_stored_as_of_other_numpy(tally)
    ramp(5)  # our copy goes to the slot
    backend = persist.tier().backend
    (slot,) = set(backend.keys()) - {name}
    backend.set(slot, resign(bytes(backend.get(slot)), secret.secret_key(), _other_numpy), None)
    forget_memory()
    persist.close()

    assert ramp(5).tolist() == [0, 1, 2, 3, 4]
    assert tally.runs == [5, 5, 5]
    assert sorted(persist.tier().backend.keys()) == sorted([name, slot])  # no slot of a slot


def test_python_version_is_part_of_the_entry_key(
    store: Path, notes: Notes, tally: Tally, monkeypatch: pytest.MonkeyPatch
) -> None:
    double = persisted_double(tally)

    double(2)
    before = only_entry()
    monkeypatch.setattr(persist, "FORMAT_TAG", "py2.7-cpython")
    forget_memory()

    assert double(2) == 4
    assert len(tally) == 2
    assert not loaded(notes) and not warnings(notes)
    assert len(stored_names()) == 2 and before in stored_names()


# ----- store faults -----------------------------------------------------------------------------


@pytest.fixture
def one_megabyte_disk(store: Path, tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs mounted for this test; the store is a directory on it."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    SETTINGS.store = str(mount / "store")
    yield mount / "store"
    persist.close()
    subprocess.run(["umount", str(mount)], check=True)


def small_and_big(tally: Tally) -> tuple[Any, Any]:
    """A function with a tiny result and one whose result is larger than the disk."""

    @memo(persist=True)
    def small(x: int) -> int:
        tally(("small", x))
        return x

    @memo(persist=True)
    def big(x: int) -> bytes:
        tally(("big", x))
        return bytes([x]) * (2 << 20)

    return small, big


def test_full_disk_warns_once_and_still_returns_values_from_memory(
    one_megabyte_disk: Path, notes: Notes, tally: Tally
) -> None:
    small, big = small_and_big(tally)
    small(1)
    assert big(1) == bytes([1]) * (2 << 20)
    assert len(warnings(notes)) == 1 and str(one_megabyte_disk) in warnings(notes)[0]
    assert big(1) == bytes([1]) * (2 << 20)  # from memory
    assert big(2) == bytes([2]) * (2 << 20)
    assert small(3) == 3
    assert tally.runs == [("small", 1), ("big", 1), ("big", 2), ("small", 3)]
    assert len(warnings(notes)) == 1


def test_full_disk_keeps_earlier_entries_loadable(
    one_megabyte_disk: Path, notes: Notes, tally: Tally
) -> None:
    small, big = small_and_big(tally)
    small(1)
    big(1)
    forget_memory()

    assert small(1) == 1
    assert tally.runs == [("small", 1), ("big", 1)]
    assert len(loaded(notes)) == 1
    assert loaded(notes)[0].endswith(f"small(1) from {one_megabyte_disk}")


def fill(directory: Path) -> None:
    """Write a file into ``directory`` until its file system has no space left."""
    with open(directory / "filler", "wb") as filler:
        try:
            while True:
                filler.write(b"x" * 65536)
                filler.flush()
        except OSError:
            pass


def test_disk_filled_by_other_files_still_serves_entries_stored_before(
    one_megabyte_disk: Path, notes: Notes, tally: Tally
) -> None:
    small, _ = small_and_big(tally)
    small(1)
    fill(one_megabyte_disk.parent)
    forget_memory()

    assert small(1) == 1
    assert tally.runs == [("small", 1)]
    assert len(loaded(notes)) == 1


def test_unusable_location_warns_once_and_memory_still_works(
    store: Path, notes: Notes, tally: Tally
) -> None:
    SETTINGS.store = "/proc/ipycache-store"

    double = persisted_double(tally)

    assert (double(1), double(1), double(2)) == (2, 2, 4)
    assert tally.runs == [1, 2]
    assert len(warnings(notes)) == 1 and "/proc/ipycache-store" in warnings(notes)[0]


def test_unpicklable_result_warns_naming_its_type_and_stays_in_memory(
    store: Path, notes: Notes, tally: Tally
) -> None:
    @memo(persist=True, allow_output_mutation=True)
    def guarded(x: int) -> dict[str, Any]:
        tally(x)
        return {"value": x, "lock": threading.Lock()}

    first = guarded(1)
    assert guarded(1) is first
    assert len(tally) == 1
    found = [w for w in warnings(notes) if "cannot be pickled" in w]
    assert len(found) == 1 and "_thread.lock" in found[0]
    assert stored_names() == []


def test_max_disk_bytes_evicts_least_recently_used_entries(
    store: Path, notes: Notes, tally: Tally
) -> None:
    SETTINGS.max_disk_bytes = 700_000  # room for three 200 kB entries, not four

    @memo(persist=True)
    def block(x: int) -> bytes:
        tally(x)
        return bytes([x]) * 200_000

    block(1)
    block(2)
    block(3)
    forget_memory()
    block(1)  # loaded from the store: now the most recently used
    assert tally.runs == [1, 2, 3]
    block(4)
    forget_memory()
    tally.runs.clear()

    block(1)
    block(4)
    assert tally.runs == []
    block(2)
    assert tally.runs == [2]


# ----- a writer killed mid-write ---------------------------------------------------------------

KILLED_WRITER = """
import sys
from ipycache_ext import memo

def log(what):
    with open("runs.log", "a") as out:
        out.write(what + "\\n")

@memo(persist=True)
def small(x):
    log(f"small {x}")
    return x

@memo(persist=True)
def big(x):
    log(f"big {x}")
    return b"line of a big result\\n" * 100_000

small(1)
if sys.argv[1] == "die":
    exec(KILL)
print(len(big(1)))
"""


def test_killed_mid_write_leaves_no_entry_and_earlier_entries_hit(tmp_path: Path) -> None:
    env = store_env(tmp_path / "store", tmp_path / "secret.key")
    script = KILLED_WRITER.replace("exec(KILL)", f"exec({KILL_ON_FIRST_WRITE!r})")
    code, _, _ = finish(start_script(tmp_path, script, env, "die"))
    assert code == -signal.SIGKILL
    partial = list((tmp_path / "store").rglob("*.val"))
    assert len(partial) == 1 and partial[0].stat().st_size < 2_100_000  # killed mid-write

    out, notes = run_script(tmp_path, script, env, "check", timeout=15)
    assert out == "2100000\n"
    assert lines(tmp_path / "runs.log") == ["small 1", "big 1", "big 1"]
    assert f"{LOADED} small(1)" in notes
    assert WARNING not in notes


# ----- %%memo --persist --------------------------------------------------------------------------

SHELL = """
from IPython.core.interactiveshell import InteractiveShell

shell = InteractiveShell.instance()
shell.run_line_magic("load_ext", "ipycache_ext")
shell.run_cell("n = 5")
shell.run_cell('''%%memo --persist
with open("runs.log", "a") as log:
    log.write("ran\\\\n")
del log
total = sum(range(n))
print("total is", total)
''')
print("bound", shell.user_ns["total"])
"""


def test_memo_persist_cell_record_is_replayed_in_a_new_shell(tmp_path: Path) -> None:
    env = store_env(tmp_path / "store", tmp_path / "secret.key")
    first, _ = run_script(tmp_path, SHELL, env)
    second, _ = run_script(tmp_path, SHELL, env)
    assert lines(tmp_path / "runs.log") == ["ran"]
    assert "total is 10" in first and "bound 10" in first
    assert "total is 10" in second and "bound 10" in second
    assert LOADED in second and "cache miss" not in second


KEY_RACE = """
import os, sys, time
from pathlib import Path
from ipycache_ext.store.secret import secret_key

Path(f"ready-{os.getpid()}").touch()
while not Path("go").exists():
    time.sleep(0.001)
print(secret_key().decode())
"""


def test_kernels_starting_together_all_read_the_same_whole_key(tmp_path: Path) -> None:
    env = store_env(tmp_path / "store", tmp_path / "config" / "secret.key")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", KEY_RACE],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    # Every process is polling before the key is asked for (or one has died: finish says).
    while len(list(tmp_path.glob("ready-*"))) < len(procs):
        if any(proc.poll() is not None for proc in procs):
            break
        time.sleep(0.01)
    (tmp_path / "go").touch()
    keys = {finish(proc, timeout=300)[1].strip() for proc in procs}
    assert len(keys) == 1 and len(keys.pop()) == 64


def test_an_entry_loaded_from_the_store_keeps_its_age_in_memory(store: Path, tally: Tally) -> None:
    """Loaded 1 s after it was stored, a ``ttl=1.5`` entry has 0.5 s left in memory,
    not a whole ttl from the load."""

    @memo(persist=True, ttl=1.5)
    def double(x: int) -> int:
        tally(x)
        return 2 * x

    double(1)
    time.sleep(1.0)
    forget_memory()
    assert double(1) == 2  # loaded from the store, 1 s old
    time.sleep(0.7)
    assert double(1) == 2  # 1.7 s old: past its ttl
    assert tally.runs == [1, 1]
