"""The test suite on each supported Python: ``make test-all`` (nox).

``make test`` stays on the default Python and also checks lint, types, the notebooks and
the wheel; these sessions run pytest alone, each in its own virtual environment built from
the same local wheels. Interpreters are taken from PATH when they run, else from pyenv's
versions folder (where this kind of machine keeps 3.12 and 3.13 beside the default 3.11:
pyenv's own ``python3.12`` shim refuses to run unless that version is selected).

torch's CPU wheel on the machine's disk is built for Python 3.11 only, so on the other
Pythons the tensor libraries are not installed and the tests marked ``tensors`` are
deselected, as are those ``pinned`` to the bytes 3.11 writes
(``-m "not tensors and not pinned"``). Extra pytest arguments go after ``--``:
``nox -s tests-3.12 -- tests/engine/test_memo.py``.
"""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
VERSIONS = ["3.11", "3.12", "3.13"]
# The Python whose wheels the tensor libraries have on this machine.
TENSORS_ON = "3.11"
TENSOR_PACKAGES = {"torch", "jax", "jaxlib"}

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True


def _runs(python: str) -> bool:
    try:
        done = subprocess.run([python, "-c", "pass"], capture_output=True, check=False)
    except OSError:
        return False
    return done.returncode == 0


def _put_pyenv_versions_on_path() -> None:
    """Put pyenv's folder of each version before its refusing shim on PATH, so that nox finds
    ``python3.12`` by its usual name (and the sessions keep their names: ``tests-3.12``)."""
    versions = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for version in VERSIONS:
        if _runs(f"python{version}"):
            continue
        found = sorted(
            versions.glob(f"{version}.*/bin/python{version}"),
            key=lambda p: int(p.parent.parent.name.split(".")[2].split("-")[0] or 0),
        )
        working = [p for p in found if _runs(str(p))]
        if working:
            os.environ["PATH"] = f"{working[-1].parent}{os.pathsep}{os.environ['PATH']}"


_put_pyenv_versions_on_path()


def _name(requirement: str) -> str:
    for stop in "<>=!~[; ":
        requirement = requirement.split(stop, 1)[0]
    return requirement.strip().lower().replace("_", "-")


def test_requirements(with_tensors: bool) -> list[str]:
    """The ``test`` extra of pyproject.toml, less the tensor libraries where they have no
    wheel (read from the file, so a package added to the extra is installed here too)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extra = project["optional-dependencies"]["test"]
    return [r for r in extra if with_tensors or _name(r) not in TENSOR_PACKAGES]


@nox.session(python=VERSIONS)
def tests(session: nox.Session) -> None:
    """pytest on one Python, in a venv with the package and the test extra."""
    # The package is installed for its dependencies; the tests import it from the clone, as
    # ``make test`` does (python -m puts the working folder first on sys.path).
    with_tensors = session.python == TENSORS_ON
    requirements = [r.replace("ipycache_ext[", ".[") for r in test_requirements(with_tensors)]
    session.install(".", *requirements)
    # Again, editable: the compiled modules for this Python are built into the clone,
    # beside the other Pythons' (each file is named for its Python), where the tests
    # import the package from.
    session.install("--no-deps", "-e", ".")
    # Off 3.11: no tensor libraries, and no test pinned to the bytes 3.11 writes.
    marker = [] if with_tensors else ["-m", "not tensors and not pinned"]
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *marker, *session.posargs)
