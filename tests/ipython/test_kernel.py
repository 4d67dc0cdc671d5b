"""End to end in a real ipykernel (jupyter_client): what a notebook front end receives
on iopub for notes, the spinner, warnings and errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import kernels
import pytest

from ipycache_ext.messages import PREFIX

MISS = f"[{PREFIX}] cache miss"
WARNING = f"[{PREFIX}] warning"

# A counter whose pickled state is empty, so reading it does not change a key.
TALLY = """
class Tally:
    def __init__(self):
        self.runs = []
    def __call__(self, x):
        self.runs.append(x)
        return len(self.runs)
    def __reduce__(self):
        return (Tally, ())
tally = Tally()
"""


class Kernel(kernels.Kernel):
    """The shared kernel, where ``run`` returns raw iopub messages."""

    def run(self, code: str, timeout: float = 60) -> list[dict[str, Any]]:  # type: ignore[override]
        return self.messages(code, timeout)

    def value(self, expression: str) -> Any:
        """The text/plain repr of ``expression`` evaluated in the kernel."""
        [result] = [m for m in self.run(expression) if m["msg_type"] == "execute_result"]
        return result["content"]["data"]["text/plain"]


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    k = Kernel()
    yield k
    k.stop()


@pytest.fixture
def k(kernel: Kernel) -> Iterator[Kernel]:
    """The kernel with the extension loaded and a ``tally``; cleaned up afterwards."""
    kernel.run("%load_ext ipycache_ext")
    kernel.run(TALLY)
    yield kernel
    kernel.run("%unload_ext ipycache_ext")
    kernel.run("get_ipython().config.pop('MemoMagics', None)\n%reset -f")
    kernel.run("import ipycache_ext\nipycache_ext.memo.clear()\ndel ipycache_ext")


def displays(messages: list[dict[str, Any]], kind: str = "display_data") -> list[dict]:
    return [m["content"] for m in messages if m["msg_type"] == kind]


def plain(content: dict[str, Any]) -> str:
    return content["data"].get("text/plain", "")


def test_kernel_miss_note_arrives_as_display_data(k: Kernel) -> None:
    messages = k.run("@memo\ndef f(x):\n    return tally(x)\nf(1)")
    notes = [c for c in displays(messages) if MISS in plain(c)]
    assert len(notes) == 1
    assert "f(1)" in plain(notes[0])
    assert "text/html" in notes[0]["data"]


def test_kernel_hit_runs_nothing_and_shows_no_note(k: Kernel) -> None:
    k.run("@memo\ndef f(x):\n    return tally(x)\nf(1)")
    messages = k.run("f(1)")
    assert not [c for c in displays(messages) if MISS in plain(c)]
    assert k.value("tally.runs") == "[1]"


def test_kernel_notes_off_by_config_but_warnings_stay(k: Kernel) -> None:
    k.run("%config MemoMagics.notes = False")
    messages = k.run("@memo\ndef f(x):\n    print(x)\n    return x\nf(1)")
    texts = [plain(c) for c in displays(messages)]
    assert not [t for t in texts if MISS in t]
    assert len([t for t in texts if WARNING in t]) == 1


def test_kernel_spinner_shows_the_running_call_then_clears_it(k: Kernel) -> None:
    k.run("%config MemoMagics.spinner_delay = 0.2")
    messages = k.run("import time\n@memo\ndef slow(x):\n    time.sleep(0.8)\n    return x\nslow(7)")
    shown = [c for c in displays(messages) if c.get("transient", {}).get("display_id") is not None]
    assert len(shown) == 1
    assert "slow(7)" in plain(shown[0])
    display_id = shown[0]["transient"]["display_id"]
    updates = [
        c
        for c in displays(messages, "update_display_data")
        if c["transient"]["display_id"] == display_id
    ]
    assert updates, "the spinner was never cleared"
    assert plain(updates[-1]) == ""


def test_kernel_spinner_comes_before_the_miss_note(k: Kernel) -> None:
    k.run("%config MemoMagics.spinner_delay = 0.2")
    messages = k.run("import time\n@memo\ndef slow(x):\n    time.sleep(0.6)\n    return x\nslow(7)")
    kinds = [
        "spinner" if c.get("transient", {}).get("display_id") else "note"
        for c in displays(messages)
        if "slow(7)" in plain(c)
    ]
    assert kinds == ["spinner", "note"]


def test_kernel_no_spinner_with_show_spinner_false(k: Kernel) -> None:
    k.run("%config MemoMagics.spinner_delay = 0.2")
    messages = k.run(
        "import time\n@memo(show_spinner=False)\ndef slow(x):\n    time.sleep(0.6)\n"
        "    return x\nslow(7)"
    )
    assert not [c for c in displays(messages) if c.get("transient", {}).get("display_id")]
    assert not displays(messages, "update_display_data")


def test_kernel_no_spinner_for_a_miss_shorter_than_the_delay(k: Kernel) -> None:
    k.run("%config MemoMagics.spinner_delay = 30")
    messages = k.run("@memo\ndef quick(x):\n    return x\nquick(7)")
    assert not [c for c in displays(messages) if c.get("transient", {}).get("display_id")]


def stdout(messages: list[dict[str, Any]]) -> str:
    return "".join(
        m["content"]["text"]
        for m in messages
        if m["msg_type"] == "stream" and m["content"]["name"] == "stdout"
    )


def test_kernel_quick_misses_start_no_thread_and_a_slow_one_after_them_still_spins() -> None:
    own = Kernel()  # its own kernel: the audit hook below stays for the kernel's life
    try:
        own.run("%load_ext ipycache_ext")
        own.run("%config MemoMagics.spinner_delay = 0.2")
        own.run("@memo\ndef quick(x):\n    return x\nquick(-1)")  # the spinner thread is up
        messages = own.run(
            "import sys, threading\n"
            "started = []\n"
            "def count(event, args):\n"
            "    if event == '_thread.start_new_thread':\n"
            "        started.append(event)\n"
            "sys.addaudithook(count)\n"
            "for i in range(300):\n"
            "    quick(i)\n"
            "print('threads started', len(started))\n"
            "print('spinners', sum(t.name == 'ipycache-spinner' for t in threading.enumerate()))"
        )
        out = stdout(messages)
        assert "threads started 0" in out and "spinners 1" in out, out
        messages = own.run(
            "import time\n@memo\ndef slow(x):\n    time.sleep(0.8)\n    return x\nslow(7)"
        )
        shown = [c for c in displays(messages) if c.get("transient", {}).get("display_id")]
        assert len(shown) == 1 and "slow(7)" in plain(shown[0])
        assert [c for c in displays(messages, "update_display_data") if plain(c) == ""]
    finally:
        own.stop()


def test_kernel_two_threads_missing_together_each_get_their_spinner_then_cleared(
    k: Kernel,
) -> None:
    k.run("%config MemoMagics.spinner_delay = 0.2")
    messages = k.run(
        "import time, threading\n"
        "@memo\ndef slow(x):\n    time.sleep(0.6 + x / 5)\n    return x\n"
        "workers = [threading.Thread(target=slow, args=(i,)) for i in range(2)]\n"
        "for w in workers:\n    w.start()\n"
        "for w in workers:\n    w.join()\n"
    )
    shown = [c for c in displays(messages) if c.get("transient", {}).get("display_id")]
    assert sorted(plain(c) for c in shown) == [f"[{PREFIX}] running slow({i}) ..." for i in (0, 1)]
    cleared = {
        c["transient"]["display_id"]
        for c in displays(messages, "update_display_data")
        if plain(c) == ""
    }
    assert {c["transient"]["display_id"] for c in shown} <= cleared


def test_kernel_output_warning_when_function_displays(k: Kernel) -> None:
    messages = k.run(
        "from IPython.display import display\n"
        "@memo\ndef f(x):\n    display('a table')\n    return x\nf(1)"
    )
    texts = [plain(c) for c in displays(messages)]
    assert "'a table'" in texts
    assert len([t for t in texts if WARNING in t and "suppress_warning" in t]) == 1


def test_kernel_mutation_warning_on_hit(k: Kernel) -> None:
    k.run("@memo\ndef f(n):\n    return list(range(n))\nrows = f(3)\nrows.append(9)")
    messages = k.run("again = f(3)")
    warnings = [plain(c) for c in displays(messages) if WARNING in plain(c)]
    assert len(warnings) == 1
    assert "copy.deepcopy" in warnings[0]


def test_kernel_error_is_one_line_without_traceback(k: Kernel) -> None:
    messages = k.run(
        "import threading\n@memo\ndef query(conn):\n    return 1\nquery(threading.Lock())"
    )
    [error] = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert error["ename"] == "UnhashableTypeError"
    assert len(error["traceback"]) == 1
    line = error["traceback"][0]
    assert "\n" not in line.strip()
    assert line.startswith("UnhashableTypeError: ")
    assert "argument conn" in line
