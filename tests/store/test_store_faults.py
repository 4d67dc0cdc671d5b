"""Faults injected into real stores the way a careful operator (or an attacker with
write access to the store) would: planted index rows, swapped and renamed entries,
paths outside the store, weak key files, loose store directories, a read-only disk, a
black-holed Redis, stale leases, Ctrl-C during a save, a call that needs itself.

Each one costs at most a recomputation and one warning; none runs planted code,
returns another call's value, or touches a file outside the store."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import signal
import socket
import sqlite3
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import Notes, Tally
from persist_support import (
    LOADED,
    PAUSE_AFTER_VALUE_FILE,
    PAUSE_ON_FIRST_WRITE,
    WritesMarker,
    finish,
    forget_memory,
    persisted_double,
    start_script,
    store_env,
    warnings,
)
from redis_support import RedisServer, free_port

from ipycache_ext import memo
from ipycache_ext.config import SETTINGS
from ipycache_ext.errors import RecursionCycleError
from ipycache_ext.store import persistent as persist

OTHER_UID = 4321  # a user that is not us (the tests run as root, so chown works)


def loaded(notes: Notes) -> list[str]:
    return [t for t in notes.texts("hit") if t.startswith(LOADED)]


def names() -> list[str]:
    tier = persist.tier()
    assert tier is not None
    return tier.backend.keys()


def index(store: Path) -> sqlite3.Connection:
    return sqlite3.connect(store / "cache.db", isolation_level=None)


def name_of(call: Any) -> str:
    """The store name of the entry a call writes (the one name it adds)."""
    before = set(names())
    call()
    [added] = set(names()) - before
    return added


# ----- 1. nothing reaches an unpickler before it is verified -------------------------------


@pytest.mark.parametrize("in_file", [False, True], ids=["inline", "value file"])
def test_index_row_switched_to_pickle_mode_never_runs_and_the_call_recomputes(
    store: Path, tmp_path: Path, notes: Notes, tally: Tally, in_file: bool
) -> None:
    double = persisted_double(tally)
    name = name_of(lambda: double(2))
    marker = tmp_path / "marker"
    planted = pickle.dumps(WritesMarker(marker))
    with index(store) as db:
        if in_file:
            (store / "aa" / "bb").mkdir(parents=True)
            (store / "aa" / "bb" / "planted.val").write_bytes(planted)
            db.execute(
                "UPDATE Cache SET mode = 4, filename = 'aa/bb/planted.val', value = NULL "
                "WHERE key = ?",
                (name,),
            )
        else:
            db.execute("UPDATE Cache SET mode = 4, value = ? WHERE key = ?", (planted, name))
    forget_memory()

    assert double(2) == 4
    assert not marker.exists()
    assert tally.runs == [2, 2]
    [warning] = warnings(notes)
    assert "planted" in warning and "not unpickled" in warning
    forget_memory()
    assert double(2) == 4 and tally.runs == [2, 2]  # the verified write replaced the row
    assert not marker.exists()


def test_lease_row_switched_to_pickle_mode_never_runs_and_is_broken(
    store: Path, tmp_path: Path, notes: Notes, tally: Tally
) -> None:
    double = persisted_double(tally)
    name = name_of(lambda: double(2))
    persist.tier().backend.delete(name)
    marker = tmp_path / "marker"
    with index(store) as db:
        db.execute(
            "INSERT INTO Cache (key, raw, store_time, expire_time, access_time, access_count,"
            " tag, size, mode, filename, value) VALUES (?, 1, ?, NULL, ?, 0, NULL, 0, 4, NULL, ?)",
            ("lock:" + name, time.time(), time.time(), pickle.dumps(WritesMarker(marker))),
        )
    forget_memory()

    assert double(2) == 4
    assert not marker.exists()
    assert tally.runs == [2, 2]
    with index(store) as db:
        assert db.execute("SELECT count(*) FROM Cache WHERE key LIKE 'lock:%'").fetchone() == (0,)


def test_lease_row_without_expiry_is_broken_after_its_lifetime(
    store: Path, notes: Notes, tally: Tally
) -> None:
    SETTINGS.lease_seconds = 0.5
    double = persisted_double(tally)
    name = name_of(lambda: double(2))
    persist.tier().backend.delete(name)
    with index(store) as db:
        db.execute(
            "INSERT INTO Cache (key, raw, store_time, expire_time, access_time, access_count,"
            " tag, size, mode, filename, value) VALUES (?, 1, ?, NULL, ?, 0, NULL, 0, 1, NULL, ?)",
            ("lock:" + name, time.time(), time.time(), b"otherhost|1|0"),
        )
    forget_memory()

    assert double(2) == 4  # waited out one lease lifetime, not forever
    assert tally.runs == [2, 2]


# ----- 2. the signature binds the key and the namespace ------------------------------------


def test_swapped_entries_on_disk_are_refused_and_recomputed(
    store: Path, notes: Notes, tally: Tally
) -> None:
    @memo(persist=True)
    def block(x: int) -> bytes:
        tally(x)
        return bytes([x]) * 200_000  # big enough for a value file each

    one, two = name_of(lambda: block(1)), name_of(lambda: block(2))
    with index(store) as db:
        (file_one,) = db.execute("SELECT filename FROM Cache WHERE key = ?", (one,)).fetchone()
        (file_two,) = db.execute("SELECT filename FROM Cache WHERE key = ?", (two,)).fetchone()
    first, second = store / file_one, store / file_two
    data_one, data_two = first.read_bytes(), second.read_bytes()
    first.write_bytes(data_two)
    second.write_bytes(data_one)
    forget_memory()

    assert block(1) == bytes([1]) * 200_000
    assert block(2) == bytes([2]) * 200_000
    assert tally.runs == [1, 2, 1, 2]
    assert len(warnings(notes)) == 2
    assert all("another call's key" in w for w in warnings(notes))
    forget_memory()
    assert (block(1), block(2)) == (bytes([1]) * 200_000, bytes([2]) * 200_000)
    assert tally.runs == [1, 2, 1, 2]  # both slots were overwritten with verified entries


def test_entry_copied_onto_another_key_in_redis_is_refused_and_overwritten(
    redis_store: RedisServer, notes: Notes, tally: Tally
) -> None:
    double = persisted_double(tally)
    one, two = name_of(lambda: double(1)), name_of(lambda: double(2))
    with redis_store.client() as client:
        client.copy("ipycache:" + one, "ipycache:" + two, replace=True)
    forget_memory()

    assert double(2) == 4
    assert tally.runs == [1, 2, 2]
    [warning] = warnings(notes)
    assert "another call's key" in warning
    forget_memory()
    assert (double(1), double(2)) == (2, 4)
    assert tally.runs == [1, 2, 2]


def test_entry_renamed_onto_another_key_in_redis_is_refused(
    redis_store: RedisServer, notes: Notes, tally: Tally
) -> None:
    double = persisted_double(tally)
    one, two = name_of(lambda: double(1)), name_of(lambda: double(2))
    with redis_store.client() as client:
        client.rename("ipycache:" + one, "ipycache:" + two)
    forget_memory()

    assert double(2) == 4
    assert tally.runs == [1, 2, 2]
    assert len(warnings(notes)) == 1


# ----- 3. never a path outside the store ---------------------------------------------------


@pytest.mark.parametrize("absolute", [False, True], ids=["../..", "absolute"])
def test_index_row_naming_a_file_outside_the_store_never_reads_or_deletes_it(
    store: Path, tmp_path: Path, notes: Notes, tally: Tally, absolute: bool
) -> None:
    double = persisted_double(tally)
    name = name_of(lambda: double(2))
    victim = tmp_path / "precious" / "victim.txt"
    victim.parent.mkdir()
    victim.write_text("keep me")
    filename = str(victim) if absolute else "../precious/victim.txt"
    with index(store) as db:
        db.execute(
            "UPDATE Cache SET mode = 2, filename = ?, value = NULL WHERE key = ?", (filename, name)
        )
    forget_memory()

    assert double(2) == 4
    assert tally.runs == [2, 2]
    assert len(warnings(notes)) == 1 and "planted" in warnings(notes)[0]
    assert victim.read_text() == "keep me"  # the overwrite did not delete the old "file"
    with index(store) as db:  # planted again, then the whole store cleared
        db.execute(
            "UPDATE Cache SET mode = 2, filename = ?, value = NULL WHERE key = ?", (filename, name)
        )
    persist.tier().backend.clear()
    assert victim.read_text() == "keep me"


# ----- 4. key files ------------------------------------------------------------------------


def write_key(path: Path, content: bytes, mode: int = 0o600) -> None:
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_bytes(content)
    path.chmod(mode)


@pytest.mark.parametrize("content", [b"", b"  \n\t ", b"short key"], ids=["empty", "blank", "9"])
def test_key_file_shorter_than_32_bytes_is_refused_naming_the_file_and_the_fix(
    store: Path, notes: Notes, tally: Tally, content: bytes
) -> None:
    key_file = Path(os.environ["IPYCACHE_KEY_FILE"])
    write_key(key_file, content)
    double = persisted_double(tally)

    assert (double(21), double(21)) == (42, 42)
    [warning] = warnings(notes)
    assert str(key_file) in warning and "32 bytes" in warning and f"delete {key_file}" in warning
    assert not store.exists() or not list(store.iterdir())  # nothing was stored


def test_key_file_readable_by_others_is_refused(store: Path, notes: Notes, tally: Tally) -> None:
    key_file = Path(os.environ["IPYCACHE_KEY_FILE"])
    write_key(key_file, b"k" * 64, 0o644)
    double = persisted_double(tally)

    assert double(1) == 2
    [warning] = warnings(notes)
    assert str(key_file) in warning and f"chmod 600 {key_file}" in warning


def test_key_file_owned_by_another_user_is_refused(store: Path, notes: Notes, tally: Tally) -> None:
    key_file = Path(os.environ["IPYCACHE_KEY_FILE"])
    write_key(key_file, b"k" * 64)
    os.chown(key_file, OTHER_UID, OTHER_UID)
    double = persisted_double(tally)

    assert double(1) == 2
    [warning] = warnings(notes)
    assert str(key_file) in warning and "another user" in warning


def test_key_file_that_is_a_directory_is_named_in_the_warning_with_the_fix(
    store: Path, notes: Notes, tally: Tally
) -> None:
    key_file = Path(os.environ["IPYCACHE_KEY_FILE"])
    key_file.mkdir(parents=True)
    double = persisted_double(tally)

    assert (double(1), double(1)) == (2, 2)
    [warning] = warnings(notes)
    assert f"key file {key_file} cannot be read" in warning and "directory" in warning
    assert f"remove or rename whatever is at {key_file}" in warning


def test_key_file_that_is_a_symlink_is_named_in_the_warning_with_the_fix(
    store: Path, tmp_path: Path, notes: Notes, tally: Tally
) -> None:
    key_file = Path(os.environ["IPYCACHE_KEY_FILE"])
    write_key(tmp_path / "elsewhere" / "real.key", b"k" * 64)
    key_file.parent.mkdir(mode=0o700)
    key_file.symlink_to(tmp_path / "elsewhere" / "real.key")
    double = persisted_double(tally)

    assert double(1) == 2
    [warning] = warnings(notes)
    assert f"key file {key_file} cannot be read" in warning and "IPYCACHE_KEY_FILE" in warning


def test_key_file_in_a_folder_that_is_a_file_is_named_in_the_warning(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, notes: Notes, tally: Tally
) -> None:
    (tmp_path / "plain").write_text("not a folder")
    monkeypatch.setenv("IPYCACHE_KEY_FILE", str(tmp_path / "plain" / "secret.key"))
    double = persisted_double(tally)

    assert double(1) == 2
    [warning] = warnings(notes)
    assert f"key file {tmp_path / 'plain' / 'secret.key'} cannot be read" in warning


def test_short_team_secret_warns_once_and_still_persists(
    store: Path, notes: Notes, tally: Tally
) -> None:
    SETTINGS.secret_key = "team"
    double = persisted_double(tally)

    double(1)
    double(2)
    [warning] = warnings(notes)
    assert "shorter than 32 bytes" in warning and "team" not in warning.replace("team secret", "")
    assert len(names()) == 2


# ----- 5. a foreign entry is replaced by the next verified write ---------------------------


def test_entry_signed_with_another_key_is_replaced_by_the_next_verified_write(
    store: Path, notes: Notes, tally: Tally
) -> None:
    double = persisted_double(tally)
    SETTINGS.secret_key = "the key of kernel one, long enough to sign"
    double(2)
    persist.close()
    SETTINGS.secret_key = "the key of kernel two, long enough to sign"
    forget_memory()

    assert double(2) == 4
    assert tally.runs == [2, 2]
    forget_memory()
    assert double(2) == 4
    assert tally.runs == [2, 2]
    assert len(loaded(notes)) == 1


# ----- 6. store directories ----------------------------------------------------------------


def test_store_directory_writable_by_others_is_refused_and_left_as_it_was(
    store: Path, notes: Notes, tally: Tally
) -> None:
    store.mkdir()
    store.chmod(0o777)
    double = persisted_double(tally)

    assert (double(1), double(1)) == (2, 2)
    [warning] = warnings(notes)
    assert str(store) in warning and "777" in warning
    assert stat.S_IMODE(store.stat().st_mode) == 0o777
    assert list(store.iterdir()) == []


def test_store_symlink_into_another_users_directory_is_refused(
    store: Path, tmp_path: Path, notes: Notes, tally: Tally
) -> None:
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, OTHER_UID, OTHER_UID)
    store.symlink_to(theirs)
    double = persisted_double(tally)

    assert double(1) == 2
    [warning] = warnings(notes)
    assert str(store) in warning and "another user" in warning
    assert list(theirs.iterdir()) == []
    assert stat.S_IMODE(theirs.stat().st_mode) == 0o755


def test_existing_store_directory_of_ours_is_used_and_never_chmodded(
    store: Path, tmp_path: Path, notes: Notes, tally: Tally
) -> None:
    documents = tmp_path / "Documents"
    documents.mkdir()
    documents.chmod(0o755)
    store.symlink_to(documents)
    double = persisted_double(tally)

    double(1)
    assert not warnings(notes) and len(names()) == 1
    assert stat.S_IMODE(documents.stat().st_mode) == 0o755


# ----- 7. faults that must not cost work or time -------------------------------------------


@pytest.fixture
def small_disk(store: Path, tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs for this test; the store is a directory on it."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    SETTINGS.store = str(mount / "store")
    yield mount / "store"
    persist.close()
    if subprocess.run(["umount", str(mount)]).returncode:
        subprocess.run(["umount", "--lazy", str(mount)], check=True)  # no mount left over
        raise AssertionError(f"{mount} was still in use (a file left open on it)")


def test_read_only_store_still_serves_stored_entries(
    small_disk: Path, notes: Notes, tally: Tally
) -> None:
    double = persisted_double(tally)
    double(1)
    persist.close()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk.parent)], check=True)
    forget_memory()

    assert double(1) == 2
    assert double(2) == 4
    assert tally.runs == [1, 2]
    assert len(loaded(notes)) == 1
    assert len(warnings(notes)) == 1 and str(small_disk) in warnings(notes)[0]


def fill(disk: Path) -> Path:
    """Fill the file system of ``disk`` to the last byte; the filler file."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as out:
        block = b"\0" * (64 << 10)
        while block:
            try:
                out.write(block)
            except OSError:
                block = block[: len(block) // 2]
    assert os.statvfs(disk).f_bavail == 0
    return filler


def unnamed_value_files(store: Path) -> list[Path]:
    """Value files in the store that no index row names."""
    with contextlib.closing(index(store)) as db:
        named = {n for (n,) in db.execute("SELECT filename FROM Cache WHERE filename IS NOT NULL")}
    return [p for p in store.rglob("*.val") if str(p.relative_to(store)) not in named]


def test_full_disk_still_serves_stored_entries(
    small_disk: Path, notes: Notes, tally: Tally
) -> None:
    double = persisted_double(tally)
    double(1)
    persist.close()
    fill(small_disk.parent)
    forget_memory()

    assert double(1) == 2
    assert double(2) == 4
    assert tally.runs == [1, 2]
    assert len(loaded(notes)) == 1
    [warning] = warnings(notes)
    assert str(small_disk) in warning


def test_full_disk_store_takes_writes_again_once_room_is_made(
    small_disk: Path, notes: Notes, tally: Tally
) -> None:
    double = persisted_double(tally)
    double(1)
    persist.close()
    filler = fill(small_disk.parent)
    forget_memory()
    double(1), double(2)  # read while full; double(2) kept in memory only
    filler.unlink()

    double(3)
    assert len(names()) == 2  # double(1) and double(3): the store writes again


BIG_WRITER = """
import numpy as np
from ipycache_ext import memo

@memo(persist=True)
def big(i):
    return np.ones(250_000)

print(big(1).sum())
"""


@pytest.mark.parametrize(
    "pause",
    [PAUSE_ON_FIRST_WRITE, PAUSE_AFTER_VALUE_FILE],
    ids=["during the value file", "before its row"],
)
def test_a_write_that_fails_on_a_full_disk_leaves_no_partial_value_file(
    small_disk: Path, tmp_path: Path, pause: str
) -> None:
    writer = start_script(
        tmp_path,
        pause + BIG_WRITER,
        store_env(small_disk, Path(os.environ["IPYCACHE_KEY_FILE"])),
    )
    while not stopped(writer.pid):  # its value file has its first bytes
        assert writer.poll() is None, writer.communicate()
        time.sleep(0.01)
    fill(small_disk.parent)  # another writer takes the last space meanwhile
    writer.send_signal(signal.SIGCONT)
    code, out, err = finish(writer)

    assert code == 0 and out.strip() == "250000.0"
    assert "No space left on device" in err or "database or disk is full" in err, err
    assert unnamed_value_files(small_disk) == []


def stopped(pid: int) -> bool:
    """True once process ``pid`` is stopped by a signal."""
    with open(f"/proc/{pid}/stat") as stat_file:
        return stat_file.read().rsplit(")", 1)[1].split()[0] == "T"


def orphan(store: Path, size: int, age: float) -> Path:
    """A value file no row names, last written ``age`` seconds ago: what a writer
    killed then left."""
    path = store / "ee" / "ff" / "killed-writer.val"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)
    os.utime(path, (time.time() - age, time.time() - age))
    return path


def test_orphans_over_the_size_bound_are_swept_when_the_store_opens(
    store: Path, tally: Tally
) -> None:
    SETTINGS.max_disk_bytes = 1 << 20
    double = persisted_double(tally)
    double(1)
    persist.close()
    left = orphan(store, 2 << 20, age=60)

    double(2)
    assert not left.exists()


def test_orphans_holding_the_room_are_swept_before_an_entry_is_refused(
    small_disk: Path, tally: Tally
) -> None:
    SETTINGS.max_disk_bytes = 2 << 20

    @memo(persist=True)
    def big(i: int) -> Any:
        tally(i)
        return np.ones(125_000)  # 1 MB

    big(1)
    left = orphan(small_disk, 2 << 20, age=60)  # the disk now has under 1 MB free
    big(2)

    assert not left.exists()
    assert len(names()) == 2


class BlackHole:
    """A TCP port that accepts connections and never answers (counted)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def test_black_holed_redis_costs_one_timeout_then_calls_skip_it(
    store: Path, notes: Notes, tally: Tally
) -> None:
    hole = BlackHole()
    try:
        SETTINGS.store = f"redis://127.0.0.1:{hole.port}/0"
        SETTINGS.secret_key = "a team key that is long enough to sign"
        SETTINGS.store_timeout = 0.3
        double = persisted_double(tally)

        assert (double(1), double(2), double(3), double(1)) == (2, 4, 6, 2)
    finally:
        hole.close()
    assert tally.runs == [1, 2, 3]
    assert len(hole.accepted) == 1  # later calls did not try the store
    [warning] = warnings(notes)
    assert "TimeoutError" in warning


def test_redis_lease_set_without_expiry_is_broken_after_its_lifetime(
    redis_store: RedisServer, tally: Tally
) -> None:
    SETTINGS.lease_seconds = 0.5
    double = persisted_double(tally)
    name = name_of(lambda: double(2))
    with redis_store.client() as client:
        client.delete("ipycache:" + name)
        client.set("ipycache:lock:" + name, b"otherhost|1|0")
    forget_memory()

    assert double(2) == 4
    assert tally.runs == [2, 2]


def test_password_in_the_redis_url_is_never_shown(store: Path, notes: Notes, tally: Tally) -> None:
    SETTINGS.store = f"redis://:hunter2secret@127.0.0.1:{free_port()}/0"
    SETTINGS.secret_key = "a team key that is long enough to sign"
    double = persisted_double(tally)

    assert double(1) == 2
    [warning] = warnings(notes)
    assert "hunter2secret" not in warning and ":***@127.0.0.1" in warning
    tier = persist.tier()
    assert tier is not None and "hunter2secret" not in tier.backend.where


class InterruptsWhenPickled:
    """Ctrl-C arriving while the result is written to the store (the first time)."""

    interrupted = False

    def __reduce__(self) -> tuple[Any, ...]:
        if not InterruptsWhenPickled.interrupted:
            InterruptsWhenPickled.interrupted = True
            signal.raise_signal(signal.SIGINT)
        return (InterruptsWhenPickled, ())


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt, as in a kernel, also where this run inherited
    SIGINT ignored (a shell's background job without job control starts so)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_ctrl_c_during_the_save_keeps_the_computed_value_in_memory(
    store: Path, tally: Tally, ctrl_c_raises: None
) -> None:
    @memo(persist=True, allow_output_mutation=True)
    def slow(x: int, _kind: type) -> Any:  # _kind: not part of the key (its flag changes)
        tally(x)
        return _kind()

    with pytest.raises(KeyboardInterrupt):
        slow(1, InterruptsWhenPickled)
    assert isinstance(slow(1, InterruptsWhenPickled), InterruptsWhenPickled)
    assert tally.runs == [1]


@pytest.mark.parametrize("persisted", [False, True], ids=["memory", "persist"])
def test_a_call_that_needs_itself_raises_a_cycle_error_naming_it(
    store: Path, tally: Tally, persisted: bool
) -> None:
    @memo(persist=persisted)
    def loops(x: int) -> int:
        tally(x)
        return loops(x)

    with pytest.raises(RecursionCycleError, match=r"loops\(3\) calls itself"):
        loops(3)
    with pytest.raises(RecursionCycleError):  # nothing was left claimed
        loops(3)


def test_a_coroutine_that_awaits_itself_raises_a_cycle_error(store: Path, tally: Tally) -> None:
    @memo
    async def loops(x: int) -> int:
        tally(x)
        return await loops(x)

    async def both() -> list[Any]:
        # Two tasks computing other keys meanwhile are not a cycle.
        return await asyncio.gather(loops(1), asyncio.sleep(0, 5), return_exceptions=True)

    first, other = asyncio.run(both())
    assert isinstance(first, RecursionCycleError) and "loops(1)" in str(first)
    assert other == 5


def test_config_listing_never_shows_the_team_secret(ip: Any) -> None:
    from conftest import run_cell

    run_cell(ip, "%config MemoMagics.secret_key = 'the team secret of at least 32 bytes'")
    listing = run_cell(ip, "%config MemoMagics")
    assert "secret_key" in listing.stdout and "***" in listing.stdout
    assert "the team secret of at least 32 bytes" not in listing.stdout


def test_config_of_the_secret_key_shows_it_masked(ip: Any) -> None:
    from conftest import run_cell

    run_cell(ip, "%config MemoMagics.secret_key = 'the team secret of at least 32 bytes'")
    shown = run_cell(ip, "%config MemoMagics.secret_key")
    assert shown.error is None and repr(shown.result.result) == "'***'"
    assert "the team secret" not in str(shown.result) + shown.stdout
    assert SETTINGS.secret_key == "the team secret of at least 32 bytes"  # still signs


def test_repr_of_the_settings_masks_the_team_secret() -> None:
    SETTINGS.secret_key = "the team secret of at least 32 bytes"
    shown = repr(SETTINGS)
    assert "secret_key='***'" in shown and "the team secret" not in shown
    assert "store_timeout=" in shown  # the other settings are shown as they are


def test_lease_holder_in_another_pid_namespace_is_not_taken_for_dead() -> None:
    from ipycache_ext.store.backends import holders

    dead = subprocess.Popen(["true"])
    dead.wait()
    ours = holders.new_token().split("|")
    assert holders.holder_is_dead("|".join([ours[0], str(dead.pid), "x"]))
    elsewhere = f"{socket.gethostname()}/another-boot/pid:[1]"
    assert not holders.holder_is_dead("|".join([elsewhere, str(dead.pid), "x"]))
    assert not holders.holder_is_dead("|".join([socket.gethostname(), str(dead.pid), "x"]))
