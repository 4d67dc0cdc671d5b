"""The package's shape, as docs/architecture.md draws it: folders in the order data flows
through them, no module importing one that imports it back (at any level, annotations
included), short modules, a small top level, and every sentence a user reads coming from
``messages``."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "ipycache_ext"

# The layers, in the order a call flows through them: a module imports only from its own
# layer and the ones after it.  The last ones are the vocabulary every layer shares.
LAYERS = (
    ("ipycache_ext", "ipycache_ext.memo", "ipycache_ext.admin", "ipycache_ext.ipython"),
    ("ipycache_ext.engine",),
    ("ipycache_ext.keys",),
    ("ipycache_ext.deps",),
    ("ipycache_ext.hashing",),
    ("ipycache_ext.store",),
    ("ipycache_ext.notify",),
    ("ipycache_ext.config",),
    ("ipycache_ext.errors",),
    ("ipycache_ext.messages",),
    ("ipycache_ext.parts",),
)
TOP_LEVEL = {"__init__", "config", "errors", "parts", "admin", "memo", "notify"}
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    """``ipycache_ext.keys.call`` -> its file, for every module of the package (a compiled
    one by its stub, ``.pyi``)."""
    found = {}
    sources = set(PACKAGE.rglob("*.py"))
    stubs = {p for p in PACKAGE.rglob("*.pyi") if p.with_suffix(".py") not in sources}
    for path in sorted(sources | stubs):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _import_nodes(
    name: str, path: Path, modules: dict[str, Path]
) -> list[tuple[ast.stmt, str, str | None]]:
    """(statement, imported module, alias) for each of the package's modules that ``name``
    imports: at the top, inside a function, or for annotations only (those bind the two
    modules together as much as any)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: list[tuple[ast.stmt, str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.extend((node, alias.name, alias.asname) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                child = f"{base}.{alias.name}"
                if child in modules:
                    found.append((node, child, alias.asname))
                else:
                    found.append((node, base, None))
    return [(node, m, asname) for node, m, asname in found if m in modules and m != name]


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    return {m for _, m, _ in _import_nodes(name, path, modules)}


def _layer(name: str) -> int:
    for rank, prefixes in enumerate(LAYERS):
        if any(name == p or (p != "ipycache_ext" and name.startswith(p + ".")) for p in prefixes):
            return rank
    raise AssertionError(f"{name} belongs to no layer: add it to LAYERS")


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
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
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


def test_no_module_is_longer_than_four_hundred_lines() -> None:
    long = {
        name: n
        for name, path in _modules().items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_no_module_imports_from_a_layer_before_its_own() -> None:
    modules = _modules()
    upward = sorted(
        f"{name} -> {m}"
        for name, path in modules.items()
        for m in _imports(name, path, modules)
        if _layer(m) < _layer(name)
    )
    assert upward == []


def test_the_top_level_holds_only_the_shared_modules() -> None:
    loose = {path.stem for path in PACKAGE.glob("*.py")}
    assert loose <= TOP_LEVEL, sorted(loose - TOP_LEVEL)


def test_the_package_imports_its_own_modules_by_their_names() -> None:
    """``from ..store import owners as persisted`` hides which module a name comes from;
    a module is imported under its own name (a function may take a private alias)."""
    modules = _modules()
    aliased = sorted(
        f"{name}:{node.lineno}: {m} as {asname}"
        for name, path in modules.items()
        for node, m, asname in _import_nodes(name, path, modules)
        if asname is not None and asname != m.rsplit(".", 1)[-1]
    )
    assert aliased == []


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


ARCHITECTURE = PACKAGE.parent / "docs" / "architecture.md"


def test_the_architecture_page_names_the_layers_in_their_order() -> None:
    text = ARCHITECTURE.read_text()
    sentence = text.split("Layers, first to last:", 1)[1].split("\n\n", 1)[0]
    named = [re.findall(r"`([\w/]+)`", part) for part in sentence.split("→")]
    layers = [
        [p.removeprefix("ipycache_ext").removeprefix(".") or "__init__" for p in layer]
        for layer in LAYERS
    ]
    assert [[n.rstrip("/") for n in names] for names in named] == layers


def test_the_architecture_page_lists_every_module_of_every_folder() -> None:
    listed: dict[str, set[str]] = {}
    for line in (
        ARCHITECTURE.read_text().split("## The modules", 1)[1].split("##", 1)[0].split("\n- ")
    ):
        line = line.strip().lstrip("- ")
        if not line.startswith("`"):
            continue
        folder, names = line[1:].split("`", 1)
        listed[folder.rstrip("/")] = {n for n in names.replace("\n", " ").split() if n != "·"}
    found: dict[str, set[str]] = {}
    for path in _modules().values():
        folder = path.parent.relative_to(PACKAGE).as_posix()
        if folder != "." and path.stem != "__init__":
            found.setdefault(folder, set()).add(path.stem)
    assert listed == found


def test_every_file_the_architecture_page_names_exists() -> None:
    """A name is a path from the package or the tests (or, in a folder's line, from it)."""
    files = [
        p.relative_to(PACKAGE.parent).as_posix()
        for p in [*PACKAGE.rglob("*.py"), *(PACKAGE.parent / "tests").rglob("*.py")]
    ]
    named = set(re.findall(r"\b([\w/]+\.py)\b", ARCHITECTURE.read_text()))
    missing = sorted(n for n in named if not any(f == n or f.endswith("/" + n) for f in files))
    assert missing == []


def test_every_magic_setting_is_a_config_declaration_and_nothing_else() -> None:
    """``%config MemoMagics`` is generated from ``config.py``: the same names, the same
    help, and no trait written by hand in the front end."""
    from ipycache_ext.config import declarations
    from ipycache_ext.ipython.magics import MemoMagics

    traits = MemoMagics.class_traits(config=True)
    declared = {name: facts for name, facts in declarations() if facts.magic}
    assert set(traits) == set(declared)
    assert all(traits[name].help == facts.help for name, facts in declared.items())
    magics = PACKAGE / "ipython" / "magics.py"
    by_hand = [
        f"magics.py:{node.lineno}"
        for node in ast.walk(ast.parse(magics.read_text()))
        if isinstance(node, ast.keyword) and node.arg == "config"
    ]
    assert by_hand == []


def test_keys_and_backends_import_nothing_above_their_place() -> None:
    """A key is data, worded by the engine through ``messages``; a backend moves bytes
    and knows nothing of the tier, the leases or the owners that use it (only the
    entry format and path rules below it)."""
    modules = _modules()
    below_backends = ("segments", "guard", "signed")
    found = sorted(
        f"{name} -> {m}"
        for name, path in modules.items()
        for m in _imports(name, path, modules)
        if (name.startswith("ipycache_ext.keys.") and m.startswith("ipycache_ext.messages"))
        or (
            name.startswith("ipycache_ext.store.backends.")
            and m.startswith("ipycache_ext.store.")
            and not m.startswith("ipycache_ext.store.backends")
            and m.rsplit(".", 1)[1] not in below_backends
        )
    )
    assert found == []
