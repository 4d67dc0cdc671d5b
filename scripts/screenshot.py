"""Take docs/tutorial.png in a real JupyterLab, and check there that the notes render as HTML.

``make docs`` runs it. A small notebook (a miss note, two why-it-missed notes, the mutation
warning and the ``%memo_info`` table) is run in a real kernel with nbclient, signed so that
Lab trusts its HTML outputs, and opened in a JupyterLab server started here on 127.0.0.1
with a token. Debian's headless ``chromium`` loads it; over the DevTools protocol this
script waits until the outputs are rendered, checks that the rendered page holds the notes'
HTML elements and text (exit status 1 naming what is missing if not), and saves the
screenshot. Nothing outside a temporary directory is touched but the picture.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "tutorial.png"
NOTEBOOK = "tutorial.ipynb"
BROWSERS = ("chromium", "chromium-browser")
APT_HINT = "apt-get update && apt-get install -y chromium"

# The picture's notebook: each cell shows one thing the README's picture is for.
CELLS: list[tuple[str, str]] = [
    ("markdown", "### `@memo` in JupyterLab: every miss says why"),
    ("code", "%load_ext ipycache_ext\nimport time\n\nrate = 0.20  # a global the function reads"),
    (
        "code",
        "@memo\n"
        "def invoice(prices, discount):\n"
        "    time.sleep(0.5)\n"
        '    return {"total": round(sum(prices) * (1 - discount) * (1 + rate), 2)}\n'
        "\n\n"
        "bill = invoice((120, 80), discount=0.1)  # a miss: the first call\n"
        "bill",
    ),
    ("code", "rate = 0.25\nbill = invoice((120, 80), discount=0.1)  # a miss: rate changed"),
    ("code", "bill = invoice((120, 80), discount=0.15)  # a miss: an argument changed"),
    (
        "code",
        'bill["total"] = 0  # mutating the result mutates the cache\n'
        "invoice((120, 80), discount=0.15)  # a hit, with a warning",
    ),
    ("code", "%memo_info"),
]

# What the rendered page must hold (checked in the browser, on Lab's output areas).
CHECK_JS = r"""
(() => {
  const outs = [...document.querySelectorAll('.jp-OutputArea-output')];
  const text = outs.map(o => o.innerText).join('\n');
  // A note is a <div> whose first child is <b>kind</b> ("cache miss", "warning").
  const notes = [...document.querySelectorAll('.jp-OutputArea-output div')]
    .filter(d => d.firstElementChild && d.firstElementChild.tagName === 'B');
  const bold = notes.map(d => d.firstElementChild.textContent);
  const said = notes.map(d => d.innerText).join('\n');
  const heads = [...document.querySelectorAll('.jp-OutputArea-output table th')]
    .map(th => th.textContent);
  return {
    "miss note (<b>cache miss</b>)": bold.includes('cache miss'),
    "why: first call": said.includes('(first call)'),
    "why: global rate changed": said.includes('global rate changed (0.2 -> 0.25)'),
    "why: argument discount changed": said.includes('argument discount changed'),
    "mutation warning (<b>warning</b>)": bold.includes('warning') && said.includes('was mutated'),
    "%memo_info table (<th>hits</th>)": heads.includes('hits') && text.includes('invoice'),
  };
})()
"""

# Lab settings for a quiet, fully rendered page: no news prompt, every cell in the DOM.
SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def find_browser() -> str:
    """Debian's chromium; without it, say how to install it and stop."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    sys.exit(f"scripts/screenshot.py needs Debian's chromium on PATH; install it with: {APT_HINT}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_notebook(path: Path, data_dir: Path) -> None:
    """Write the picture's notebook, run it in a real kernel, and sign it for Lab."""
    import nbformat
    from nbclient import NotebookClient
    from nbformat.sign import NotebookNotary

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for kind, source in CELLS:
        make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        nb.cells.append(make(source))
    client = NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    )
    client.execute()
    # Trusted, Lab renders the notes' HTML as the kernel sent it (not sanitized).
    NotebookNotary(data_dir=str(data_dir)).sign(nb)
    nbformat.write(nb, path)


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A child in its own process group, ended (group and all) when the block exits."""
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            args, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def wait_for(
    url: str, what: str, proc: subprocess.Popen[bytes], log: Path, seconds: float
) -> bytes:
    """GET ``url`` until it answers 200; a clear error if the process died or time ran out."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            sys.exit(f"{what} exited ({proc.returncode}); its log:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return bytes(answer.read())
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    tail = log.read_text()[-3000:]
    sys.exit(f"{what} did not answer {url} within {seconds:.0f} s; its log:\n{tail}")


class DevTools:
    """The few DevTools-protocol calls this script needs, over one websocket."""

    def __init__(self, ws_url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self.next_id = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:  # events arrive in between; keep the answer to this call
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def close(self) -> None:
        self.ws.close()


def shoot(
    lab_url: str, chromium: str, tmp: Path, width: int, height: int, scale: float, seconds: float
) -> tuple[dict[str, bool], bytes | None]:
    """Open ``lab_url`` in headless chromium; the checks' results and the picture once all pass."""
    port = free_port()
    args = [
        chromium,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--no-default-browser-check",
        f"--user-data-dir={tmp / 'chromium'}",
        f"--remote-debugging-port={port}",
        "--remote-debugging-address=127.0.0.1",
        f"--window-size={width},{height}",
        "about:blank",
    ]
    log = tmp / "chromium.log"
    with process(args, dict(os.environ), log) as proc:
        wait_for(f"http://127.0.0.1:{port}/json/version", "chromium", proc, log, 60)
        listing = wait_for(f"http://127.0.0.1:{port}/json/list", "chromium", proc, log, 10)
        pages = json.loads(listing)
        target = next(p for p in pages if p.get("type") == "page")
        tools = DevTools(target["webSocketDebuggerUrl"])
        try:
            tools.call(
                "Emulation.setDeviceMetricsOverride",
                width=width,
                height=height,
                deviceScaleFactor=scale,
                mobile=False,
            )
            tools.call("Page.navigate", url=lab_url)
            checks: dict[str, bool] = {}
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                try:
                    checks = dict(tools.evaluate(CHECK_JS) or {})
                except RuntimeError:
                    checks = {}  # the page is between documents
                if checks and all(checks.values()):
                    break
                time.sleep(0.5)
            else:
                return checks, None
            # A clean frame: file browser folded away, the notebook scrolled to its top,
            # fonts loaded, nothing animating.
            tools.evaluate(
                "(async () => { const app = window.jupyterapp;"
                " if (app && !app.shell.leftCollapsed) app.shell.collapseLeft();"
                " await document.fonts.ready;"
                " document.querySelectorAll('.jp-WindowedPanel-outer')"
                ".forEach(p => p.scrollTop = 0); })()"
            )
            time.sleep(1.5)
            shot = tools.call("Page.captureScreenshot", format="png")
            return checks, base64.b64decode(shot["data"])
        finally:
            tools.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="where the PNG goes")
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--height", type=int, default=960)
    parser.add_argument("--scale", type=float, default=2.0, help="device pixel ratio")
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for Lab")
    options = parser.parse_args()

    chromium = find_browser()
    with tempfile.TemporaryDirectory(prefix="ipycache-shot-") as name:
        tmp = Path(name)
        work, config, data, runtime = (tmp / d for d in ("work", "config", "data", "runtime"))
        for folder in (work, config, data, runtime):
            folder.mkdir()
        for rel, values in SETTINGS.items():
            target = config / "lab" / "user-settings" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values))
        # Lab, its kernels and the notary read these: nothing of the user's Jupyter is used.
        env = dict(
            os.environ,
            JUPYTER_CONFIG_DIR=str(config),
            JUPYTER_DATA_DIR=str(data),
            JUPYTER_RUNTIME_DIR=str(runtime),
            IPYCACHE_DIR=str(tmp / "store"),
        )
        os.environ.update(env)  # the kernel nbclient starts, too

        print("running the notebook in a kernel ...", flush=True)
        build_notebook(work / NOTEBOOK, data)

        port, token = free_port(), secrets.token_hex(24)
        args = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={work}",
            "--LabApp.expose_app_in_browser=True",
            "--ServerApp.terminals_enabled=False",
        ]
        if os.geteuid() == 0:  # a CI machine or container: Lab refuses root without this
            args.append("--allow-root")
        log = tmp / "lab.log"
        print(f"starting JupyterLab on 127.0.0.1:{port} ...", flush=True)
        with process(args, env, log) as lab:
            wait_for(
                f"http://127.0.0.1:{port}/api/status?token={token}",
                "jupyterlab",
                lab,
                log,
                options.timeout,
            )
            url = f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK}?token={token}&reset"
            print("opening it in headless chromium ...", flush=True)
            checks, png = shoot(
                url, chromium, tmp, options.width, options.height, options.scale, options.timeout
            )

    for what, ok in checks.items():
        print(f"  {'ok' if ok else 'MISSING'}  {what}")
    if png is None:
        missing = [w for w, ok in checks.items() if not ok] or ["the notebook's outputs"]
        print(f"the rendered page lacks: {', '.join(missing)}", file=sys.stderr)
        return 1
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_bytes(png)
    print(f"wrote {options.out} ({len(png) // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
