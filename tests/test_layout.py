"""The package's shape: the engine imports without IPython, no module imports another
that imports it back, and every sentence a user reads comes from ``messages``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "ipycache_ext"


def _modules() -> dict[str, Path]:
    """``ipycache_ext.keys.call`` -> its file, for every module of the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports, at the top or inside a function."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    tree = ast.parse(path.read_text())
    typing_only = {
        id(sub)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for sub in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue  # imported for annotations only, never at run time
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                child = f"{base}.{alias.name}"
                found.add(child if child in modules else base)
    return {m for m in found if m in modules and m != name}


def test_importing_the_package_imports_no_ipython_module() -> None:
    code = (
        "import sys, ipycache_ext\n"
        "from ipycache_ext import memo\n"
        "@memo\ndef f(x):\n    return x\n"
        "f(1)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('IPython', 'ipykernel', 'traitlets', 'jupyter_client')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_no_module_of_the_package_is_part_of_an_import_cycle() -> None:
    modules = _modules()
    # A package's __init__ only re-exports its modules: leaving it out of the graph
    # keeps "package -> its module -> a sibling -> package" from counting as a cycle.
    graph = {
        name: {m for m in _imports(name, path, modules) if modules[m].name != "__init__.py"}
        for name, path in modules.items()
        if path.name != "__init__.py"
    }
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_no_module_is_longer_than_about_four_hundred_lines() -> None:
    long = {
        name: n
        for name, path in _modules().items()
        if (n := len(path.read_text().splitlines())) > 450
    }
    assert long == {}


def _prose(node: ast.AST) -> str | None:
    """The text of a string or f-string that reads as a sentence (three words or more)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
    elif isinstance(node, ast.JoinedStr):
        text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    else:
        return None
    words = [w for w in text.split() if any(c.isalpha() for c in w)]
    return text if len(words) >= 3 else None


def test_every_sentence_a_user_reads_comes_from_messages() -> None:
    """Outside ``messages.py`` no exception is raised with prose of its own, and no
    note is built from a literal: the wording lives in one place."""
    found = []
    for name, path in _modules().items():
        if name == "ipycache_ext.messages" or name.startswith("ipycache_ext.messages."):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            raised = called[:1].isupper() and called.endswith(("Error", "Exception", "Rejected"))
            if not (raised or called in ("emit", "print", "warn", "UsageError")):
                continue
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                text = _prose(arg)
                if text is not None:
                    found.append(f"{name}:{node.lineno}: {text!r}")
    assert found == []
