"""Reading and hashing an entry in fixed segments, on every core the process may use.

The entry MAC (:mod:`.signed`) is a two-level tree: every :data:`SEGMENT` bytes of the
signed body get their own MAC (a "leaf": AES-GMAC under a key made for that entry), and
the entry's MAC is keyed BLAKE3 over the body's length and the leaves in order.  Leaves
can then be computed in any order, by any thread.  The directory store reads each
segment of a value file into the entry's private buffer and tags it right away, while
it is still in the CPU's cache, on this thread and on helper threads at once: the read
and the tagging, the two costs of a verified hit, overlap instead of adding up.  What is
tagged is the private buffer, after the read, never the file: what is verified is what
is then unpickled.

Work is handed out a few segments at a time from a shared counter, so a helper thread
that gets no CPU (a busy machine) leaves its share to the others, and the caller waits
only for the jobs a helper has in hand, never for a helper that has not started.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from .. import messages

SEGMENT = 1 << 20  # body bytes per leaf of the MAC tree
PER_JOB = 4  # segments a thread reads in a row (measured best of 1, 2, 4, 8)
MAX_HELPERS = 7  # helper threads at most, beside the calling one


class Hasher(Protocol):
    def update(self, data: Any, /) -> Any: ...

    def digest(self) -> bytes: ...


Leaf = Callable[[int], Hasher]  # a new hasher for segment ``i`` of one entry
Leaves = Callable[[memoryview], Leaf]  # an entry's leaf maker, from its bytes before the body

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _forget_pool() -> None:
    """In a forked child: the parent's helper threads are not there (nor is whoever
    held the lock), so the next read starts new ones."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def read_buffer(size: int) -> memoryview:
    """A writable buffer to read an entry into.  numpy's allocator, when numpy is
    there, maps big buffers on huge pages: reading 80 MB takes a third of the time."""
    try:
        import numpy as np
    except ImportError:
        return memoryview(bytearray(size))
    return memoryview(np.empty(size, np.uint8))  # type: ignore[arg-type]  # has a buffer


def _helpers() -> int:
    """How many helper threads may run beside the caller: one fewer than the CPUs this
    process may run on (its affinity, not the machine's count)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(0, min(MAX_HELPERS, cpus - 1))


def _executor(helpers: int) -> ThreadPoolExecutor:
    """The helper threads (started on first use)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(helpers, thread_name_prefix="ipycache-segments")
        return _pool


class _Jobs:
    """Jobs ``0 .. count - 1`` handed out one at a time; :meth:`close` waits for the
    jobs in hand.  A helper that starts after the caller took the last job finds none
    and touches nothing, so the caller waits only for jobs being done, never for a
    helper the machine has not run yet."""

    def __init__(self, count: int, work: Callable[[int], None]) -> None:
        self._count, self._work = count, work
        self._next = 0
        self._busy = 0
        self._done = threading.Condition(threading.Lock())
        self.failed: list[BaseException] = []

    def drain(self) -> None:
        while True:
            with self._done:
                if self.failed or self._next >= self._count:
                    return
                job = self._next
                self._next += 1
                self._busy += 1
            try:
                self._work(job)
            except BaseException as exc:
                with self._done:
                    self.failed.append(exc)
            finally:
                with self._done:
                    self._busy -= 1
                    self._done.notify_all()

    def close(self) -> None:
        """No job is handed out any more; returns when none is in hand."""
        with self._done:
            self._next = self._count
            while self._busy:
                self._done.wait()


def spread(jobs: int, work: Callable[[int], None]) -> None:
    """``work(0)`` .. ``work(jobs - 1)`` on this thread and the helpers, each thread
    taking the next job when it finishes one.  Returns when every job is done (or
    abandoned after a failure) and no helper is working on any; raises the first
    failure."""
    helpers = min(_helpers(), jobs - 1)
    if helpers <= 0:
        for job in range(jobs):
            work(job)
        return
    handed = _Jobs(jobs, work)
    pool = _executor(min(MAX_HELPERS, _helpers()))
    for _ in range(helpers):
        pool.submit(handed.drain)
    try:
        handed.drain()
    finally:
        handed.close()  # no helper writes into the buffer after this
    if handed.failed:
        raise handed.failed[0]


def split(chunks: Sequence[Any], start: int = 0) -> list[list[memoryview]]:
    """The body (``chunks`` joined, from byte ``start`` on) cut into segments, each a
    list of views of the chunks it spans; nothing is copied."""
    views = [memoryview(c).cast("B") for c in chunks]
    segments: list[list[memoryview]] = [[]]
    room = SEGMENT
    skip = start
    for view in views:
        if skip >= len(view):
            skip -= len(view)
            continue
        view, skip = view[skip:], 0
        while len(view):
            if room == 0:
                segments.append([])
                room = SEGMENT
            piece = view[:room]
            segments[-1].append(piece)
            room -= len(piece)
            view = view[len(piece) :]
    return segments


def leaves(segments: list[list[memoryview]], leaf: Leaf) -> list[bytes]:
    """Each segment's digest, computed on every core."""
    found = [b""] * len(segments)

    def work(i: int) -> None:
        hasher = leaf(i)
        for piece in segments[i]:
            hasher.update(piece)
        found[i] = hasher.digest()

    spread(len(segments), work)
    return found


def read_hashed(fd: int, size: int, start: int, leaf: Leaves | None) -> tuple[Any, list[bytes]]:
    """The first ``size`` bytes of ``fd`` read into one private buffer, and the leaves
    of the body from byte ``start`` (none if ``leaf`` is None), each segment hashed by
    the thread that read it, right after reading it; the leaf maker comes from the
    bytes before ``start``, read first.  ``OSError(EIO)`` if the file
    ends early."""
    buffer = read_buffer(size)
    if size < start:  # too short to be an entry: read whole, refused by the caller
        _read_range(fd, buffer, 0, size, size)
        return buffer, []

    def fill(low: int, high: int) -> None:
        _read_range(fd, buffer, low, high, size)

    # One file position (no ``preadv``): one thread reads.
    found = _fill_hashed(buffer, start, leaf, fill, threads=_pread_into is not _seek_read)
    return buffer, found


def read_opened(found: Any, start: int, leaf: Leaves | None) -> tuple[Any, list[bytes] | None]:
    """What a directory store found for a key: bytes kept in its index as they are (no
    leaves: the caller hashes them), or a value file (an open file object) read and
    hashed by :func:`read_hashed`, then closed."""
    if isinstance(found, bytes):
        return found, None
    with found:
        size = os.fstat(found.fileno()).st_size
        data, leaves = read_hashed(found.fileno(), size, start, leaf)
    return data, leaves if leaf is not None else None


def copy_hashed(data: memoryview, start: int, leaf: Leaves) -> tuple[memoryview, list[bytes]]:
    """A private, writable copy of ``data`` (bytes a store handed over), and the leaves
    of its body from ``start``, each segment hashed right after it is copied, from the
    copy."""
    size = len(data)
    buffer = read_buffer(size)
    if size < start:
        buffer[:] = data
        return buffer, []

    def fill(low: int, high: int) -> None:
        buffer[low:high] = data[low:high]

    return buffer, _fill_hashed(buffer, start, leaf, fill, threads=True)


def _fill_hashed(
    buffer: memoryview,
    start: int,
    leaves: Leaves | None,
    fill: Callable[[int, int], None],
    threads: bool,
) -> list[bytes]:
    """Fill ``buffer`` by ``fill(low, high)`` calls, a few segments per job, and hash
    each segment of the body from ``start`` right after it lands (no leaves if
    ``leaves`` is None); the jobs are spread over the helper threads if ``threads``.
    The bytes before ``start`` are filled first: they say how the body is hashed."""
    size = len(buffer)
    count = max(1, -(-(size - start) // SEGMENT))  # as :func:`split` cuts the body
    found = [b""] * count
    fill(0, start)
    leaf = None if leaves is None else leaves(buffer[:start])

    def work(job: int) -> None:
        for i in range(job * PER_JOB, min(count, (job + 1) * PER_JOB)):
            low = start + i * SEGMENT
            high = min(size, low + SEGMENT)
            # The whole segment, then its tag: faster with GMAC than tagging each
            # quarter as it lands (8 MB: 0.46 against 0.62 ms).
            fill(low, high)
            if leaf is not None:
                hasher = leaf(i)
                hasher.update(buffer[low:high])
                found[i] = hasher.digest()

    jobs = -(-count // PER_JOB)
    if threads:
        spread(jobs, work)
    else:
        for job in range(jobs):
            work(job)
    return found if leaf is not None else []


def _read_range(fd: int, buffer: memoryview, low: int, high: int, size: int) -> None:
    at = low
    while at < high:
        got = _pread_into(fd, buffer[at:high], at)
        if got <= 0:
            raise OSError(errno.EIO, messages.short_read_error(size))
        at += got


def _seek_read(fd: int, into: memoryview, at: int) -> int:
    """Where ``os.preadv`` is missing (Windows): read at ``at`` through the file position."""
    os.lseek(fd, at, os.SEEK_SET)
    data = os.read(fd, len(into))
    into[: len(data)] = data
    return len(data)


def _preadv(fd: int, into: memoryview, at: int) -> int:
    return os.preadv(fd, [into], at)


_pread_into = _preadv if hasattr(os, "preadv") else _seek_read
