"""Build the wheel and sdist, check their metadata, and load the wheel in a real kernel.

``make test`` runs it so that a packaging mistake fails the tests: the test suite itself
imports ``ipycache_ext`` from the source tree (an editable install), where a module or data
file left out of the wheel is still found. Here the wheel is installed into a new virtual
environment with nothing but its own dependencies, and a kernel started from that
environment (jupyter_client, as a notebook front end starts one) loads the extension from
a folder outside the clone, memoizes a call and lists what the wheel holds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "build" / "dist"
EXTENSION = sysconfig.get_config_var("EXT_SUFFIX")

# Run inside the wheel's environment: a kernel from that environment, started from a folder
# outside the clone, loads the extension and runs a miss and a hit.
IN_KERNEL = r"""
import sys
from pathlib import Path
from jupyter_client.manager import start_new_kernel

CELLS = [
    "%load_ext ipycache_ext",
    "@memo\ndef double(x):\n    return 2 * x",
    "double(21)",
    "double(21)",
    "import ipycache_ext, pathlib\nprint(ipycache_ext.__file__)\n"
    "print((pathlib.Path(ipycache_ext.__file__).parent / 'py.typed').exists())",
    "from ipycache_ext.deps import usercode\nprint('audit hook:', usercode.hook_kind())",
]

km, kc = start_new_kernel(kernel_name="python3", cwd=sys.argv[1])
try:
    texts = []
    for code in CELLS:
        reply = kc.execute_interactive(code, timeout=60, output_hook=lambda m: texts.append(m))
        if reply["content"]["status"] != "ok":
            errors = [m["content"] for m in texts if m["msg_type"] == "error"]
            sys.exit(f"cell failed: {code!r}: {errors}")
    shown = []
    for m in texts:
        content = m["content"]
        shown.append(content.get("text") or content.get("data", {}).get("text/plain", ""))
    print("\n".join(s for s in shown if s))
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
"""


def run(*command: str | Path, cwd: Path = ROOT) -> str:
    done = subprocess.run(
        [str(c) for c in command], cwd=cwd, capture_output=True, text=True, check=False
    )
    if done.returncode:
        sys.exit(f"{' '.join(map(str, command))} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _built_for_another_python(path: Path) -> bool:
    """An extension that an editable install on another Python (nox) compiled in place."""
    return path.suffix == ".so" and not path.name.endswith(EXTENSION)


def missing_from(wheel: Path) -> list[str]:
    """The package's files in the clone that the wheel lacks: a kernel loading the extension
    imports only some modules (the S3 backend, for one, only for an s3:// store)."""
    package = ROOT / "ipycache_ext"
    ours = {
        path.relative_to(ROOT).as_posix()
        for path in package.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.suffix != ".pyc"
        and not _built_for_another_python(path)
    }
    return sorted(ours - set(zipfile.ZipFile(wheel).namelist()))


def without_compiler() -> list[str]:
    """Build a wheel from the sdist where the C compiler fails (``CC=false``), as on a
    machine without one: the build must succeed, leaving the audit hook in Python. The
    compiled files that wheel holds all the same (none, if the build is right)."""
    [sdist] = DIST.glob("*.tar.gz")
    with tempfile.TemporaryDirectory(prefix="ipycache-nocc-") as out:
        env = {**os.environ, "CC": "false"}
        command = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", out, sdist]
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if done.returncode:
            sys.exit(f"without a C compiler the sdist does not build:\n{done.stderr}")
        [wheel] = Path(out).glob("*.whl")
        return [n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".so")]


def main() -> int:
    shutil.rmtree(DIST, ignore_errors=True)
    run(sys.executable, "-m", "build", "--outdir", DIST, ROOT)
    [wheel] = DIST.glob("*.whl")
    [sdist] = DIST.glob("*.tar.gz")
    run(sys.executable, "-m", "twine", "check", "--strict", wheel, sdist)
    missing = missing_from(wheel)
    if missing:
        sys.exit(f"{wheel.name} lacks files of the package: {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="ipycache-wheel-") as tmp:
        env_dir, outside = Path(tmp) / "venv", Path(tmp) / "work"
        outside.mkdir()
        venv.create(env_dir, with_pip=True)
        python = env_dir / "bin" / "python"
        run(python, "-m", "pip", "install", "-q", wheel)
        shown = run(python, "-c", IN_KERNEL, outside, cwd=outside)
    lines = shown.splitlines()
    problems = []
    if not any("cache miss" in line and "double(21)" in line for line in lines):
        problems.append("no miss note for double(21)")
    if lines.count("42") != 2:
        problems.append("double(21) did not return 42 twice")
    if not any(str(env_dir) in line and "site-packages" in line for line in lines):
        problems.append("ipycache_ext was not imported from the wheel's environment")
    if "True" not in lines:
        problems.append("py.typed is missing from the wheel")
    names = zipfile.ZipFile(wheel).namelist()
    for compiled in ("deps/_audit", "hashing/_numbers"):
        if not any(name.startswith(f"ipycache_ext/{compiled}.") for name in names):
            problems.append(f"ipycache_ext/{compiled} is not compiled in the wheel")
    if "audit hook: compiled" not in lines:
        problems.append("the kernel did not use the compiled audit hook")
    if problems:
        sys.exit("the wheel does not work: " + "; ".join(problems) + "\n" + shown)
    if without_compiler():
        sys.exit(f"without a C compiler, the wheel still holds: {without_compiler()}")
    print(
        f"{wheel.name} and {sdist.name}: twine check passed; the wheel loads in a kernel "
        "with the compiled audit hook; without a compiler the sdist builds a wheel without it"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
