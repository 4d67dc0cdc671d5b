"""What the key cannot see, said out loud: a miss that used the network or a subprocess
gets a warning, once per function or cell, naming what it used and the fix, and
``%memo_info NAME`` lists it.  Real servers and processes, no mocks."""

from __future__ import annotations

import http.client
import http.server
import os
import socket
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Notes, Tally, define, run_cell

WARNING = "[ipycache] warning"


class _Version(http.server.BaseHTTPRequestHandler):
    """Answers every GET with the server's current version."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = str(self.server.version).encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Any]:
    """A real HTTP server on 127.0.0.1 (a free port), in a thread."""
    found = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Version)
    found.version = 1  # type: ignore[attr-defined]
    thread = threading.Thread(target=found.serve_forever, daemon=True)
    thread.start()
    yield found
    found.shutdown()
    found.server_close()


def _fetcher(ns: dict, tally: Tally, server: Any) -> Any:
    ns.update(tally=tally, http=http, port=server.server_address[1])
    define(
        ns,
        """
        @memo
        def fetch(path):
            tally(path)
            con = http.client.HTTPConnection("127.0.0.1", port)
            con.request("GET", path)
            return con.getresponse().read()
        """,
    )
    return ns["fetch"]


def test_a_miss_that_connected_over_http_is_warned_naming_host_port_and_fix(
    ns: dict, tally: Tally, notes: Notes, server: Any
) -> None:
    fetch = _fetcher(ns, tally, server)
    assert fetch("/a") == b"1"
    [warning] = notes.texts("warning")
    port = server.server_address[1]
    assert f"fetch('/a') used the network (http.client.connect to 127.0.0.1:{port})" in warning
    assert "pass a version or ETag" in warning and "@memo(ttl=SECONDS)" in warning


def test_the_network_warning_is_given_once_per_function(
    ns: dict, tally: Tally, notes: Notes, server: Any
) -> None:
    fetch = _fetcher(ns, tally, server)
    fetch("/a")
    fetch("/b")
    fetch("/a")
    assert len(notes.texts("warning")) == 1 and tally.runs == ["/a", "/b"]


def test_urlopen_is_named_by_its_url(ns: dict, tally: Tally, notes: Notes, server: Any) -> None:
    url = f"http://127.0.0.1:{server.server_address[1]}/v"
    ns.update(urllib=urllib, url=url)
    define(ns, "@memo\ndef get():\n    return urllib.request.urlopen(url).read()")
    assert ns["get"]() == b"1"
    assert f"the network (urllib.Request to {url})" in notes.texts("warning")[0]


def test_a_plain_socket_connection_is_named(
    ns: dict, tally: Tally, notes: Notes, server: Any
) -> None:
    port = server.server_address[1]
    ns.update(socket=socket, port=port)
    define(
        ns,
        "@memo\ndef ping():\n"
        "    with socket.create_connection(('127.0.0.1', port)):\n        return 1",
    )
    ns["ping"]()
    assert f"the network (socket.connect to 127.0.0.1:{port})" in notes.texts("warning")[0]


def test_a_subprocess_run_is_named_with_its_command(ns: dict, notes: Notes) -> None:
    ns["subprocess"] = subprocess
    define(ns, "@memo\ndef call():\n    return subprocess.run(['true']).returncode")
    assert ns["call"]() == 0
    [warning] = notes.texts("warning")
    assert "call() used a subprocess (subprocess.Popen running true)" in warning


def test_os_system_is_named_with_its_command(ns: dict, notes: Notes) -> None:
    ns["os"] = os
    define(ns, "@memo\ndef call():\n    return os.system('true')")
    ns["call"]()
    assert "a subprocess (os.system running true)" in notes.texts("warning")[0]


def test_the_environment_read_next_to_the_network_is_named_too(
    ns: dict, tally: Tally, notes: Notes, server: Any
) -> None:
    port = server.server_address[1]
    ns.update(socket=socket, port=port, os=os)
    define(
        ns,
        "@memo\ndef ping():\n    os.environ.get('HOME')\n"
        "    with socket.create_connection(('127.0.0.1', port)):\n        return 1",
    )
    ns["ping"]()
    warning = notes.texts("warning")[0]
    assert "the environment (environ)" in warning
    assert "pass the variable's value as an argument" in warning


def test_a_cell_that_fetches_is_warned_with_the_cells_ttl_option(ip: Any, server: Any) -> None:
    ip.push({"url": f"http://127.0.0.1:{server.server_address[1]}/"})
    cell = run_cell(ip, "%%memo\nimport urllib.request\nv = urllib.request.urlopen(url).read()\n")
    [warning] = cell.notes(WARNING)
    assert "cell [v] used the network (urllib.Request to http://127.0.0.1:" in warning
    assert "%%memo --ttl SECONDS" in warning


def test_memo_info_of_a_function_lists_the_network_it_used(ip: Any, server: Any) -> None:
    port = server.server_address[1]
    ip.push({"port": port})
    run_cell(
        ip,
        """
        import http.client

        @memo
        def fetch():
            con = http.client.HTTPConnection("127.0.0.1", port)
            con.request("GET", "/")
            return con.getresponse().read()

        fetch()
        """,
    )
    table = run_cell(ip, "%memo_info fetch").result.result
    heading = repr(table).splitlines()[0]
    assert heading == (
        f"fetch: 1 entry; the key cannot see: the network (http.client.connect to 127.0.0.1:{port})"
    )
