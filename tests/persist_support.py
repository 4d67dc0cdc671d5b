"""Helpers for the persistent-tier tests: processes and kernels sharing one store, a
writer that is killed mid-write, and crafted store entries."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kernels import Kernel

from ipycache_ext import memo
from ipycache_ext.store import signed
from ipycache_ext.store.memory import STORE

REPO = Path(__file__).resolve().parent.parent
LOADED = "[ipycache] cache hit: loaded"
WARNING = "[ipycache] warning"

# Appended to a script or a cell: from now on, the first chunk diskcache writes to a
# value file is flushed and then the process sends itself SIGKILL.
KILL_ON_FIRST_WRITE = textwrap.dedent(
    """
    import builtins as _builtins
    import os as _os
    import signal as _signal

    import diskcache.core as _diskcache_core

    class _KilledAfterFirstChunk:
        def __init__(self, file):
            self._file = file

        def write(self, chunk):
            written = self._file.write(chunk)
            self._file.flush()
            _os.kill(_os.getpid(), _signal.SIGKILL)
            return written

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self._file.__exit__(*exc)

        def __getattr__(self, name):
            return getattr(self._file, name)

    def _open_then_die(*args, **kwargs):
        return _KilledAfterFirstChunk(_builtins.open(*args, **kwargs))

    _diskcache_core.open = _open_then_die
    """
)

# Appended to a script: the first chunk diskcache writes to a value file is flushed,
# then the process stops itself (SIGSTOP) until it is continued (SIGCONT), once: the
# test changes the disk under a write in progress.
PAUSE_ON_FIRST_WRITE = textwrap.dedent(
    """
    import builtins as _builtins
    import os as _os
    import signal as _signal

    import diskcache.core as _diskcache_core

    class _PausedAfterFirstChunk:
        def __init__(self, file):
            self._file = file

        def write(self, chunk):
            written = self._file.write(chunk)
            if _diskcache_core.open is not _builtins.open:
                _diskcache_core.open = _builtins.open
                self._file.flush()
                _os.kill(_os.getpid(), _signal.SIGSTOP)
            return written

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self._file.__exit__(*exc)

        def __getattr__(self, name):
            return getattr(self._file, name)

    def _open_then_pause(*args, **kwargs):
        return _PausedAfterFirstChunk(_builtins.open(*args, **kwargs))

    _diskcache_core.open = _open_then_pause
    """
)


# Appended to a script: once diskcache has written and closed the first value file,
# before the row naming it is added, the process stops itself (SIGSTOP) until it is
# continued (SIGCONT).
PAUSE_AFTER_VALUE_FILE = textwrap.dedent(
    """
    import builtins as _builtins
    import os as _os
    import signal as _signal

    import diskcache.core as _diskcache_core

    class _PausedWhenClosed:
        def __init__(self, file):
            self._file = file

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            closed = self._file.__exit__(*exc)
            if _diskcache_core.open is not _builtins.open:
                _diskcache_core.open = _builtins.open
                _os.kill(_os.getpid(), _signal.SIGSTOP)
            return closed

        def __getattr__(self, name):
            return getattr(self._file, name)

    def _open_then_pause(*args, **kwargs):
        return _PausedWhenClosed(_builtins.open(*args, **kwargs))

    _diskcache_core.open = _open_then_pause
    """
)


def store_env(location: str | Path, key_file: Path) -> dict[str, str]:
    """The environment of a process that uses ``location`` as its store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPYCACHE_")}
    env["IPYCACHE_STORE"] = str(location)
    env["IPYCACHE_KEY_FILE"] = str(key_file)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def start_script(cwd: Path, source: str, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """Start ``source`` as ``cwd/script.py`` in a new Python process."""
    script = cwd / "script.py"
    script.write_text(textwrap.dedent(source))
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 30) -> tuple[int, str, str]:
    """Wait for ``proc`` (killed after ``timeout`` seconds); returncode, stdout, stderr."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"process still running after {timeout} s; stderr:\n{err}") from None
    return proc.returncode, out, err


def run_script(
    cwd: Path, source: str, env: dict[str, str], *args: str, timeout: float = 30
) -> tuple[str, str]:
    """Run ``source`` to completion; stdout and stderr (the notes)."""
    code, out, err = finish(start_script(cwd, source, env, *args), timeout)
    assert code == 0, err
    return out, err


def lines(path: Path) -> list[str]:
    """The lines a body appended to ``path`` (one per run), or [] if it never ran."""
    return path.read_text().splitlines() if path.exists() else []


_MAC = hashlib.sha256().digest_size
_BINDING = 32  # the signed digest of the slot (namespace, owner, key) an entry is for


def _split(data: bytes) -> tuple[bytes, bytes, bytes, dict[str, Any], bytes]:
    """An entry as (MAGIC and signer id, MAC, binding, header, pickle), found by its
    JSON header."""
    start = data.index(b'{"format"') - 4
    size = int.from_bytes(data[start : start + 4], "little")
    header = json.loads(data[start + 4 : start + 4 + size])
    return (
        data[: start - _BINDING - _MAC],
        data[start - _BINDING - _MAC : start - _BINDING],
        data[start - _BINDING : start],
        header,
        data[start + 4 + size :],
    )


def _body(binding: bytes, header: dict[str, Any], pickled: bytes) -> bytes:
    encoded = json.dumps(header, sort_keys=True).encode()
    return binding + len(encoded).to_bytes(4, "little") + encoded + pickled


def resign(data: bytes, key: bytes, edit_header: Callable[[dict[str, Any]], None]) -> bytes:
    """The entry ``data`` with its header edited and a valid signature under ``key``."""
    prefix, _, binding, header, pickled = _split(data)
    edit_header(header)
    body = _body(binding, header, pickled)
    return prefix + signed.mac(key, signed.salt_of(prefix), body) + body


def tampered(data: bytes, pickled: bytes) -> bytes:
    """The entry ``data`` (still naming its signer) with another pickle and no valid MAC."""
    prefix, mac, binding, header, _ = _split(data)
    assert prefix.startswith(signed.MAGIC)
    return prefix + bytes(len(mac)) + _body(binding, header, pickled)


def texts(outputs: list[dict[str, Any]]) -> list[str]:
    """text/plain of displayed notes and results, and the text of streams."""
    found = []
    for out in outputs:
        if "data" in out:
            found.append(out["data"]["text/plain"])
        elif "text" in out:
            found.append(out["text"])
        elif out["type"] == "error":
            found.append("\n".join(out["traceback"]))
    return found


def result(outputs: list[dict[str, Any]]) -> str | None:
    """text/plain of the cell's execute_result."""
    for out in outputs:
        if out["type"] == "execute_result":
            return out["data"]["text/plain"]
    return None


class Kernels:
    """Kernels started for one test (all sharing one environment), stopped together."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd, self.env = cwd, env
        self.started: list[Kernel] = []

    def start(self) -> Kernel:
        kernel = Kernel(self.cwd, self.env)
        self.started.append(kernel)
        kernel.run("%load_ext ipycache_ext")
        return kernel

    def stop_all(self) -> None:
        for kernel in self.started:
            kernel.stop()


SQUARE_CELL = """
@memo(persist=True)
def square(x):
    with open("runs.log", "a") as log:
        log.write(f"square {x}\\n")
    return x * x

square(7)
"""

TOTAL_CELL = """%%memo --persist
with open("runs.log", "a") as log:
    log.write("cell\\n")
del log
total = sum(range(n))
print("total is", total)
total
"""


def forget_memory() -> None:
    """What a new kernel starts with: the memory tier empty, the persistent store as it
    was (``memo.clear()`` would clear the persisted entries of what it clears too)."""
    STORE.clear()


def persisted_double(tally: Any) -> Any:
    """``@memo(persist=True)`` doubling, each run recorded by ``tally``."""

    @memo(persist=True)
    def double(x: int) -> int:
        tally(x)
        return 2 * x

    return double


class WritesMarker:
    """Unpickling this creates ``path``: what a malicious entry (or a planted row)
    would run."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


def warnings(notes: Any) -> list[str]:
    """The texts of the warnings among ``notes`` (the ``notes`` fixture)."""
    return [str(text) for text in notes.texts("warning")]
