"""Who holds a lease: a token naming the process that took it, so a holder of this
host that died (kill -9) can be told from a live one and its lease broken at once,
not when it runs out.  Every backend stores these tokens as they are."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid


def _process_space() -> str:
    """Where a pid means this process's pids: the host name, the boot (a pid of an
    earlier boot is not ours) and the pid namespace (a container on the same host
    has its own pids).  Where the last two are unknown, the host alone."""
    parts = [socket.gethostname()]
    with contextlib.suppress(OSError), open("/proc/sys/kernel/random/boot_id") as boot:
        parts.append(boot.read().strip())
    with contextlib.suppress(OSError, AttributeError):
        parts.append(os.readlink("/proc/self/ns/pid"))
    return "/".join(parts)


def new_token() -> str:
    """A lock holder's id: where its pid is meaningful, and the pid, so a crashed
    holder of this host, boot and pid namespace can be told apart from a live one."""
    return f"{_process_space()}|{os.getpid()}|{uuid.uuid4().hex}"


def holder_is_dead(token: str | None) -> bool:
    """True if ``token`` names a process of this host, boot and pid namespace that no
    longer exists (a holder elsewhere is left to its lease lifetime)."""
    if not token or token.count("|") != 2:
        return False
    space, pid, _ = token.split("|")
    if space != _process_space() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False
