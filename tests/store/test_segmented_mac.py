"""The entry MAC as a tree of 1 MiB segments: the directory store tags each segment
as it reads it, on several threads, and what it verifies is the private buffer that is
then unpickled.  Entries of the previous formats (one BLAKE3 pass over the whole body;
BLAKE3 segments without a salt) are misses, never unpickled."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import time
from pathlib import Path
from typing import Any

import blake3
import numpy as np
import pytest
from conftest import Notes, Tally
from persist_support import WritesMarker, forget_memory, persisted_double, resign, warnings

from ipycache_ext import memo
from ipycache_ext.store import persistent as persist
from ipycache_ext.store import secret, segments, signed

SECRET = b"a secret long enough to sign entries with"
SIZES = (
    0,
    1,
    segments.SEGMENT - 1,
    segments.SEGMENT,
    segments.SEGMENT + 1,
    5 * segments.SEGMENT + segments.SEGMENT // 4 + 3,
)


@pytest.mark.parametrize("body_size", SIZES)
def test_segments_hashed_while_reading_give_the_mac_of_the_bytes_read(
    tmp_path: Path, body_size: int
) -> None:
    start = signed.SIGNED_FROM
    data = np.random.default_rng(body_size).bytes(start + body_size)
    path = tmp_path / "entry.val"
    path.write_bytes(data)

    fd = os.open(path, os.O_RDONLY)
    try:
        buffer, leaves = segments.read_hashed(fd, len(data), start, signed.leaf_hasher(SECRET))
    finally:
        os.close(fd)

    assert bytes(buffer) == data
    assert len(leaves) == max(1, -(-body_size // segments.SEGMENT))
    body = memoryview(data)[start:]
    salt = signed.salt_of(data)
    expected = signed.mac(SECRET, salt, body)
    assert signed.mac(SECRET, salt, body, leaves) == expected
    first, second = min(7, body_size), max(min(7, body_size), body_size // 2)
    pieces = [body[:first], body[first:second], body[second:]]
    assert signed.mac(SECRET, salt, pieces) == expected  # chunks cut anywhere: the same MAC
    assert signed.mac(SECRET, bytes(16), body) != expected  # another salt, another key


def test_a_file_shorter_than_its_size_is_a_read_error(tmp_path: Path) -> None:
    path = tmp_path / "entry.val"
    path.write_bytes(b"x" * (3 * segments.SEGMENT))
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(OSError, match="short read"):
            segments.read_hashed(fd, 4 * segments.SEGMENT, 50, signed.leaf_hasher(SECRET))
    finally:
        os.close(fd)


def _old_format(entry: bytes, secret: bytes, pickled: bytes, version: int) -> bytes:
    """``entry`` rewritten as format 4 (keyed BLAKE3 over the whole body in one pass) or
    5 (keyed BLAKE3 over each 1 MiB segment, then over the length and those digests)
    would have signed it, holding ``pickled``."""
    start = signed.SIGNED_FROM
    body = entry[start:]
    binding, size = body[:32], int.from_bytes(body[32:36], "little")
    header = body[36 : 36 + size]
    body = binding + body[32:36] + header + len(pickled).to_bytes(8, "little") + pickled

    def derive(context: str) -> bytes:
        return blake3.blake3(secret, derive_key_context=f"ipycache_ext 2026 {context}").digest()

    if version == 4:
        signature = blake3.blake3(body, key=derive("entry MAC")).digest()
    else:
        root = blake3.blake3(len(body).to_bytes(8, "little"), key=derive("entry MAC"))
        for at in range(0, len(body), segments.SEGMENT):
            piece = body[at : at + segments.SEGMENT]
            root.update(blake3.blake3(piece, key=derive("entry segment")).digest())
        signature = root.digest()
    return f"IPYCACHE{version}\n".encode() + signed.key_id(secret) + signature + body


def _stored_double(tally: Tally) -> tuple[Any, persist.Tier, str]:
    """``persisted_double`` called once: it, the tier, and the name of its one entry."""
    double = persisted_double(tally)
    double(2)
    tier = persist.tier()
    assert tier is not None
    (name,) = tier.backend.keys()
    return double, tier, name


@pytest.mark.parametrize("version", [4, 5])
def test_an_entry_of_a_previous_format_misses_and_is_never_unpickled(
    store: Path, tmp_path: Path, notes: Notes, tally: Tally, version: int
) -> None:
    double, tier, name = _stored_double(tally)
    marker = tmp_path / "marker"
    old = _old_format(
        bytes(tier.backend.get(name)),
        secret.secret_key(),
        pickle.dumps(WritesMarker(marker)),
        version,
    )
    tier.backend.set(name, old, None)
    forget_memory()

    assert double(2) == 4
    assert not marker.exists()
    assert tally.runs == [2, 2]
    assert len(warnings(notes)) == 1 and "older version" in warnings(notes)[0]


def test_an_entry_of_format_6_misses_once_with_the_older_version_note(
    store: Path, notes: Notes, tally: Tally
) -> None:
    """Format 6 signed as 7 does, without when it was stored nor its ttl in the header:
    were it read, a ttl could not be checked from what is signed."""
    double, tier, name = _stored_double(tally)

    def as_format_6(header: dict[str, Any]) -> None:
        header.pop("stored_at", None)
        header.pop("ttl", None)

    resigned = resign(bytes(tier.backend.get(name)), secret.secret_key(), as_format_6)
    tier.backend.set(name, b"IPYCACHE6\n" + resigned[len(signed.MAGIC) :], None)
    forget_memory()
    assert double(2) == 4
    forget_memory()
    assert double(2) == 4  # the entry written again in this format: a hit

    assert tally.runs == [2, 2]
    assert len(warnings(notes)) == 1 and "older version" in warnings(notes)[0]


def test_an_entry_past_its_signed_ttl_is_a_miss_without_the_stores_own_expiry(
    store: Path, notes: Notes, tally: Tally
) -> None:
    double, tier, name = _stored_double(tally)

    def stored_long_ago(header: dict[str, Any]) -> None:
        header["stored_at"], header["ttl"] = time.time() - 60.0, 30.0

    expired = resign(bytes(tier.backend.get(name)), secret.secret_key(), stored_long_ago)
    tier.backend.set(name, expired, None)  # the directory store's own expiry: none
    forget_memory()

    assert double(2) == 4
    assert tally.runs == [2, 2]
    assert warnings(notes) == []


def _persisted_ramp(tally: Tally) -> Any:
    """``@memo(persist=True)`` of a float64 ramp, each run recorded by ``tally``."""

    @memo(persist=True)
    def ramp(n: int) -> np.ndarray:
        tally(n)
        return np.arange(n, dtype=np.float64)

    return ramp


def _last_segment(data: bytes) -> int:
    return len(data) - 3  # read and tagged by whichever thread took the last segment


def _salt(data: bytes) -> int:
    return data.index(signed.salt_of(data))  # another salt: another key for every tag


@pytest.mark.parametrize("where", [_last_segment, _salt], ids=["late segment", "salt"])
def test_an_entry_with_one_byte_changed_is_never_returned(
    store: Path, notes: Notes, tally: Tally, where: Any
) -> None:
    ramp = _persisted_ramp(tally)
    n = 5 * segments.SEGMENT // 8
    ramp(n)
    (value_file,) = store.rglob("*.val")
    data = bytearray(value_file.read_bytes())
    data[where(bytes(data))] ^= 0x01
    value_file.write_bytes(data)
    forget_memory()

    assert np.array_equal(ramp(n), np.arange(n, dtype=np.float64))
    assert tally.runs == [n, n]
    assert len(warnings(notes)) == 1 and "does not verify" in warnings(notes)[0]


def _load_in_child(queue: Any) -> None:
    forget_memory()
    tier = persist.tier()
    assert tier is not None
    (name,) = tier.backend.keys()
    leaf = signed.leaf_hasher(secret.secret_key())
    found = tier.backend.read(name, signed.SIGNED_FROM, leaf)  # hashed as it is read
    queue.put(None if found is None else bytes(found.data[:9]))


def test_a_forked_child_reads_big_entries_after_its_parent_did(store: Path, tally: Tally) -> None:
    ramp = _persisted_ramp(tally)
    n = 3 * segments.PER_JOB * segments.SEGMENT // 8  # three jobs: helper threads take some
    ramp(n)
    forget_memory()
    ramp(n)  # read on the helper threads, which a forked child does not inherit
    assert tally.runs == [n]

    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_load_in_child, args=(queue,))
    child.start()
    child.join(30)
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0
    assert queue.get(timeout=5) == signed.MAGIC[:9]


def test_an_entry_handed_over_as_bytes_is_copied_verified_and_comes_back_writable() -> None:
    value = np.arange(3 * segments.SEGMENT // 8, dtype=np.float64)
    bound_to = signed.binding("redis:x", "owner", b"key")
    chunks = signed.dump_entry(value, SECRET, bound_to)
    data = b"".join(bytes(memoryview(c).cast("B")) for c in chunks)

    found = signed.load_entry(data, SECRET, bound_to)

    assert np.array_equal(found, value) and found.flags.writeable
    found[0] = -1.0  # the copy, never the bytes handed over
    assert signed.load_entry(data, SECRET, bound_to)[0] == 0.0
    tampered = bytearray(data)
    tampered[-5] ^= 1
    with pytest.raises(signed.EntryRejected, match="signature"):
        signed.load_entry(bytes(tampered), SECRET, bound_to)


def test_two_writes_of_one_value_are_salted_apart() -> None:
    bound_to = signed.binding("dir", "owner", b"key")
    first, second = (
        b"".join(
            bytes(memoryview(c).cast("B")) for c in signed.dump_entry([1, 2], SECRET, bound_to)
        )
        for _ in range(2)
    )
    assert signed.salt_of(first) != signed.salt_of(second)
    assert signed.load_entry(first, SECRET, bound_to) == signed.load_entry(second, SECRET, bound_to)


@pytest.mark.parametrize("magic", [f"IPYCACHE{signed.FORMAT + 1}\n".encode(), b"IPYCACHE12\n"])
def test_an_entry_of_a_newer_format_is_left_in_place_and_never_overwritten(
    store: Path, notes: Notes, tally: Tally, magic: bytes
) -> None:
    double, tier, name = _stored_double(tally)
    newer = magic + bytes(tier.backend.get(name))[len(signed.MAGIC) :]
    tier.backend.set(name, newer, None)
    forget_memory()

    assert double(2) == 4
    forget_memory()
    assert double(2) == 4  # computed again: the newer entry is not replaced by ours

    assert tally.runs == [2, 2, 2]
    assert bytes(tier.backend.get(name)) == newer
    (warning,) = warnings(notes)
    assert "written by a newer version" in warning and "git pull, then pip install ." in warning
