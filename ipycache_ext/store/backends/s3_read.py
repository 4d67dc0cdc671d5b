"""Reading a big S3 object's ranges straight into one preallocated buffer.

Why not obstore here: its ``get(...).bytes()`` collects each range into a buffer of its
own, which Python then copies into the entry's buffer, and a stream hands chunks that
must be copied too.  A plain HTTP/1.1 GET on a presigned URL (signed by obstore, so the
credentials are the store's) lets ``readinto`` put the socket's bytes where they belong:
the kernel's copy is the only one.  On a local SeaweedFS that halves the client's CPU
for an 800 MB entry (bench section 7), and the client shares the cores with the server.
``readinto`` releases the GIL, so the ranges are read in parallel from threads, each
keeping its connection alive across its ranges.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from urllib.parse import urlsplit

_PAGE = 4096  # the smallest page: one byte written in each faults the buffer in


class Replaced(Exception):
    """The object changed since its first range was read (``If-Match`` failed)."""


class Gone(Exception):
    """The object was deleted since its first range was read."""


class OutOfTime(Exception):
    """The call's time with the store ran out before every range was in."""


class ReadFault(OSError):
    """A range the server refused or cut short: ``(status or reason, body's start)``."""


class _Connections:
    """One keep-alive connection per reading thread, all closed at the end."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        self.target = f"{parts.path}?{parts.query}" if parts.query else parts.path
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._timeout = timeout
        # A proxy named the standard way (``$HTTPS_PROXY``, ``$HTTP_PROXY``, ``$NO_PROXY``).
        self._tunnel: tuple[str, int | None] | None = None
        proxy = urllib.request.getproxies().get(parts.scheme)
        if proxy and not urllib.request.proxy_bypass(parts.netloc):
            via = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
            if self._https:
                self._tunnel = (self._host, self._port)
            else:
                self.target = url  # a plain-http proxy takes the whole URL
            self._https = False  # the proxy itself is spoken to in plain http
            self._host, self._port = via.hostname or "", via.port
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def get(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._https or self._tunnel is not None:
                context = ssl.create_default_context()
                conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self._timeout, context=context
                )
            else:
                conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
            if self._tunnel is not None:
                conn.set_tunnel(*self._tunnel)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        for conn in self._all:
            conn.close()

    def cut(self) -> None:
        """Stop every read in flight now: a thread waiting on its socket wakes up with
        an error (closing a socket another thread waits on does not wake it)."""
        with self._lock:
            for conn in self._all:
                if conn.sock is not None:
                    with contextlib.suppress(OSError):
                        conn.sock.shutdown(socket.SHUT_RDWR)


def read_ranges(
    url: str,
    data: memoryview,
    start: int,
    etag: str | None,
    part: int,
    readers: int,
    timeout: float,
    until: float | None = None,
    landed: Callable[[int, int], None] | None = None,
    step: int = 1 << 20,
) -> None:
    """Fill ``data[start:]`` from the presigned GET ``url``, ``part`` bytes a request,
    ``readers`` requests in flight; ``landed(low, high)`` is called by the reading
    thread once ``data[low:high]`` is in, for each ``step`` bytes of a request as they
    land (so hashing them overlaps the reads, however big the requests), ``timeout`` is
    how long a socket may stay silent, and all is done by ``until`` (monotonic) or cut
    off then.  Raises
    :class:`Replaced`, :class:`Gone`, :class:`OutOfTime` or :class:`ReadFault` (or the
    socket's ``OSError``); ``data`` is then partly filled and must not be used."""
    size = len(data)
    connections = _Connections(url, timeout)
    stopped = threading.Event()

    def fetch(begin: int) -> None:
        if stopped.is_set():
            return
        end = min(begin + part, size)
        headers = {"Range": f"bytes={begin}-{end - 1}"}
        if etag:
            headers["If-Match"] = etag  # the same object, not one written since
        conn = connections.get()
        conn.request("GET", connections.target, headers=headers)
        # The range's pages are faulted in (one byte each) while the server starts on
        # the request: faulted by the socket's copy, an 800 MB read took 1.5-1.7x the
        # raw GET here; all faulted before the first request, which left the server
        # idle meanwhile, 1.35-1.39x; this way, 1.30-1.31x (interleaved, two shared cores).
        ahead = data[begin:end]
        ahead[::_PAGE] = bytes(len(ahead[::_PAGE]))
        response = conn.getresponse()
        if response.status != 206:
            body = response.read(2000).decode(errors="replace")
            if response.status == 412:
                raise Replaced()
            if response.status == 404:
                raise Gone()
            raise ReadFault(f"HTTP {response.status} {response.reason}", body)
        view = data[begin:end]
        got = told = 0
        while got < len(view):
            n = response.readinto(view[got:])
            if not n:
                raise ReadFault(f"HTTP {response.status}", f"{got} of {len(view)} bytes")
            got += n
            if landed is not None and got - told >= step:
                whole = got - got % step
                landed(begin + told, begin + whole)
                told = whole
        response.read()  # the (empty) rest, so the connection can carry the next range
        if landed is not None and told < got:
            landed(begin + told, end)

    pool = ThreadPoolExecutor(readers)
    try:
        reads = [pool.submit(fetch, begin) for begin in range(start, size, part)]
        left = None if until is None else max(0.0, until - time.monotonic())
        done, pending = wait(reads, left, return_when=FIRST_EXCEPTION)
        if pending:  # one failed, or the time ran out: the others stop now
            stopped.set()
            connections.cut()
        for read in reads:
            if read in done:
                read.result()  # the first failure, in the order of the ranges
        if pending:
            raise OutOfTime()
    finally:
        # Reads still in flight are cut off and end on their own: not waited for.
        stopped.set()
        pool.shutdown(wait=False, cancel_futures=True)
        connections.close()
