"""A real ipykernel driven through jupyter_client, shared by the end-to-end tests."""

from __future__ import annotations

import queue
import textwrap
import time
from pathlib import Path
from typing import Any

from jupyter_client.manager import start_new_kernel

REPO = Path(__file__).resolve().parent.parent
OUTPUT_TYPES = ("stream", "display_data", "execute_result", "error")


class Kernel:
    """A running ipykernel ("python3" is the interpreter running the tests: the venv's),
    with its own working directory and, if given, environment."""

    def __init__(self, cwd: Path = REPO, env: dict[str, str] | None = None) -> None:
        extra = {"env": env} if env is not None else {}
        self.manager, self.client = start_new_kernel(
            kernel_name="python3",
            cwd=str(cwd),
            extra_arguments=["--HistoryManager.hist_file=:memory:"],
            **extra,
        )

    def messages(self, code: str, timeout: float = 60) -> list[dict[str, Any]]:
        """Every iopub message one cell caused, up to the kernel going idle."""
        msg_id = self.client.execute(textwrap.dedent(code))
        found = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = self.client.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"cell still running after {timeout} s:\n{code}") from None
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
            found.append(msg)
        # Skip replies to earlier requests: start_new_kernel may have sent kernel_info
        # more than once while the kernel was starting, and every one is answered.
        while True:
            reply = self.client.get_shell_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") == msg_id:
                return found

    def run(self, code: str, timeout: float = 60) -> list[dict[str, Any]]:
        """Outputs (stream/display_data/execute_result/error content) of one cell."""
        return [
            {"type": m["msg_type"], **m["content"]}
            for m in self.messages(code, timeout)
            if m["msg_type"] in OUTPUT_TYPES
        ]

    def run_until_dead(self, code: str, timeout: float = 60) -> None:
        """Send a cell that ends the kernel process, and wait until it is gone."""
        self.client.execute(textwrap.dedent(code))
        deadline = time.monotonic() + timeout
        while self.manager.is_alive():
            assert time.monotonic() < deadline, "the kernel is still alive"
            time.sleep(0.05)

    def stop(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)
