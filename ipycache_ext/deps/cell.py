"""What a cell reads and binds, found from its source without running it.

A cell is keyed (:func:`ipycache_ext.keys.key_of_cell`) on its code normalized at the
AST level (comments, blank lines and formatting don't count), the values of the names
it reads from the namespace before binding them, transitively the user code those
names lead to, and the magic's options.  Every name read counts, those starting with
``_`` too: ``_raw = df`` read by a later cell is an input like ``raw``, and so is
IPython's ``_`` (the last output) or ``_3`` when a cell reads it.  Only names the cell
binds before reading them are not inputs.  (A ``_`` name whose value cannot be hashed,
a lock or a connection, is keyed by its type: :func:`ipycache_ext.keys.key_of_cell`.)

The reads are found conservatively: a name bound only inside an ``if``/``for``/``try``
body still counts as read afterwards, because the branch may not run.  A name read
inside a function or lambda the cell defines counts unless the cell bound it before
the definition.  Reading too much can cost a miss; reading too little would return
stale results.
"""

from __future__ import annotations

import ast
import functools
import symtable
from dataclasses import dataclass

import xxhash

from ..parts import CellName
from .imports import Imported


@dataclass(frozen=True)
class CellFacts:
    """What a cell's source says, independent of any values."""

    code_digest: bytes
    reads: tuple[str, ...]
    binds: tuple[str, ...]
    imports: frozenset[str] = frozenset()
    chains: tuple[tuple[str, ...], ...] = ()
    star_modules: tuple[str, ...] = ()
    gone: frozenset[str] = frozenset()
    imported: tuple[tuple[str, Imported], ...] = ()  # names the cell's imports bind


class _Scope:
    """Names bound so far: definitely (``sure``) and anywhere in the cell (``all``)."""

    def __init__(self) -> None:
        self.sure: list[set[str]] = [set()]
        self.all: dict[str, None] = {}

    def bound(self, name: str) -> bool:
        return any(name in level for level in self.sure)

    def bind(self, name: str) -> None:
        self.sure[-1].add(name)
        self.all[name] = None


class _ReadsFinder(ast.NodeVisitor):
    """Walks the top level of a cell in execution order, collecting reads and binds."""

    def __init__(self) -> None:
        self.scope = _Scope()
        self.reads: dict[str, None] = {}
        self.imports: set[str] = set()
        self.star_modules: dict[str, None] = {}
        self.gone: set[str] = set()

    # ----- helpers -------------------------------------------------------------------

    def _read(self, name: str) -> None:
        if not self.scope.bound(name):
            self.reads[name] = None

    def _block(self, body: list[ast.stmt], bind_first: str | None = None) -> set[str]:
        """A body that may not run: what it binds is not sure afterwards.  Returns
        what it binds surely if it does run (for branches that all bind a name)."""
        self.scope.sure.append(set())
        if bind_first:
            self.scope.bind(bind_first)
        for stmt in body:
            self.visit(stmt)
        return self.scope.sure.pop()

    def _sure_after(self, *branches: set[str]) -> None:
        """Names every branch binds are bound whichever branch runs."""
        for name in set.intersection(*branches) if branches else ():
            self.scope.sure[-1].add(name)

    def _targets(self, node: ast.AST) -> None:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
                self.scope.bind(sub.id)
            elif isinstance(sub, ast.Name):
                self._read(sub.id)
            elif isinstance(sub, (ast.Attribute, ast.Subscript)):
                for inner in ast.iter_child_nodes(sub):
                    if not isinstance(inner, ast.expr_context):
                        self.visit(inner)

    def _scope_reads(self, node: ast.AST) -> None:
        """Reads of a function, lambda, class or comprehension: the global names its
        scopes (and the scopes nested in them) refer to, as the compiler resolves them,
        so a lambda's parameter never hides a global read beside it."""
        is_statement = isinstance(node, ast.stmt)
        try:
            top = symtable.symtable(ast.unparse(node), "<cell>", "exec" if is_statement else "eval")
        except SyntaxError:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                    self._read(sub.id)
            return
        stack = list(top.get_children()) if is_statement else [top]
        while stack:
            table = stack.pop()
            for sym in table.get_symbols():
                name = sym.get_name()
                if sym.is_referenced() and (table is top or sym.is_global()):
                    self._read(name)
                if sym.is_declared_global() and sym.is_assigned():
                    self.scope.all[name] = None
            stack.extend(table.get_children())

    def generic_visit(self, node: ast.AST) -> None:
        """The children in order, as :class:`ast.NodeVisitor` visits them, with a stack
        instead of recursion: a 500-term ``a + b + ...`` nests 500 deep."""
        stack = list(ast.iter_child_nodes(node))[::-1]
        while stack:
            child = stack.pop()
            visitor = getattr(self, "visit_" + child.__class__.__name__, None)
            if visitor is not None:
                visitor(child)
            else:
                stack.extend(list(ast.iter_child_nodes(child))[::-1])

    # ----- statements ----------------------------------------------------------------

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._read(node.id)
        else:
            self.scope.bind(node.id)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self._targets(target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        self._targets(node.target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self._read(node.target.id)
        self._targets(node.target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.scope.bind(node.target.id)

    def _import(self, name: str) -> None:
        self.scope.bind(name)
        self.imports.add(name)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._import((alias.asname or alias.name).split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self._import(alias.asname or alias.name)
            elif node.module and not node.level:
                self.star_modules[node.module] = None

    def _visit_def(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for deco in node.decorator_list:
            self.visit(deco)
        for default in node.args.defaults + [d for d in node.args.kw_defaults if d]:
            self.visit(default)
        self._scope_reads(node)
        self.scope.bind(node.name)

    visit_FunctionDef = _visit_def
    visit_AsyncFunctionDef = _visit_def

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._scope_reads(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in node.decorator_list + node.bases + [k.value for k in node.keywords]:
            self.visit(expr)
        self._scope_reads(node)
        self.scope.bind(node.name)

    def _visit_comprehension(self, node: ast.AST) -> None:
        self._scope_reads(node)
        for sub in ast.walk(node):
            if isinstance(sub, ast.NamedExpr):
                self.scope.bind(sub.target.id)

    visit_ListComp = _visit_comprehension
    visit_SetComp = _visit_comprehension
    visit_DictComp = _visit_comprehension
    visit_GeneratorExp = _visit_comprehension

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        # The loop variable counts as bound after the loop, as linters assume: a loop
        # over nothing that then reads it is the rare case left out.
        self._targets(node.target)
        self._block(node.body)
        self._block(node.orelse)

    visit_AsyncFor = visit_For

    def visit_While(self, node: ast.While) -> None:
        self.visit(node.test)
        self._block(node.body)
        self._block(node.orelse)

    def visit_If(self, node: ast.If) -> None:
        self.visit(node.test)
        body = self._block(node.body)
        if node.orelse:
            self._sure_after(body, self._block(node.orelse))

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self._targets(item.optional_vars)
        for stmt in node.body:
            self.visit(stmt)

    visit_AsyncWith = visit_With

    def visit_Try(self, node: ast.Try) -> None:
        body = self._block(node.body)
        handled = []
        for handler in node.handlers:
            if handler.type is not None:
                self.visit(handler.type)
            handled.append(self._block(handler.body, handler.name))
            if handler.name:
                self.gone.add(handler.name)  # Python unbinds it when the handler ends
        self._block(node.orelse)
        # Without handlers an exception ends the cell; with them, the body or one of
        # them ran to the end.
        self._sure_after(body, *handled)
        for stmt in node.finalbody:
            self.visit(stmt)

    visit_TryStar = visit_Try  # type: ignore[assignment]  # same fields as Try

    def visit_Match(self, node: ast.Match) -> None:
        self.visit(node.subject)
        for case in node.cases:
            self.scope.sure.append(set())
            for sub in ast.walk(case.pattern):
                for attr in ("name", "rest"):
                    name = getattr(sub, attr, None)
                    if isinstance(name, str):
                        self.scope.bind(name)
                if isinstance(sub, ast.MatchValue):
                    self.visit(sub.value)
            if case.guard is not None:
                self.visit(case.guard)
            for stmt in case.body:
                self.visit(stmt)
            self.scope.sure.pop()

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._targets(target)
            if isinstance(target, ast.Name):
                self.gone.add(target.id)

    def visit_Global(self, node: ast.Global) -> None:
        return None


@functools.lru_cache(maxsize=256)
def analyze(source: str) -> CellFacts:
    """Parse a (transformed, plain Python) cell and say what it reads and binds.

    Remembered per cell text (the facts are a function of the text alone): a cell run
    again is not parsed again."""
    tree = ast.parse(source)
    finder = _ReadsFinder()
    for stmt in tree.body:
        finder.visit(stmt)
    normalized = ast.dump(tree, annotate_fields=False, include_attributes=False)
    return CellFacts(
        xxhash.xxh3_128_digest(normalized.encode()),
        tuple(finder.reads),
        tuple(finder.scope.all),
        frozenset(finder.imports),
        _attribute_chains(tree),
        tuple(finder.star_modules),
        frozenset(finder.gone),
        _imports_of(tree),
    )


def _imports_of(tree: ast.AST) -> tuple[tuple[str, Imported], ...]:
    """What each import in the cell binds (anywhere: in a branch, in a function it
    defines), and ``m = importlib.import_module("m")`` with a constant name."""
    found: dict[tuple[str, Imported], None] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    found[(alias.asname, Imported(alias.name))] = None
                else:
                    top = alias.name.split(".")[0]
                    found[(top, Imported(alias.name, top="." in alias.name))] = None
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name != "*":
                    source = Imported(node.module or "", node.level, attr=alias.name)
                    found[(alias.asname or alias.name, source)] = None
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, call = node.targets[0], node.value
            if (
                isinstance(target, ast.Name)
                and isinstance(call, ast.Call)
                and _names_import_module(call.func)
                and len(call.args) == 1
                and isinstance(call.args[0], ast.Constant)
                and isinstance(call.args[0].value, str)
            ):
                found[(target.id, Imported(call.args[0].value))] = None
    return tuple(found)


def _names_import_module(func: ast.expr) -> bool:
    if isinstance(func, ast.Attribute):
        return func.attr == "import_module"
    return isinstance(func, ast.Name) and func.id == "import_module"


def _attribute_chains(tree: ast.AST) -> tuple[tuple[str, ...], ...]:
    """Every ``name.attr.attr`` the cell reads: a user module is keyed on what the
    cell reads of it (``mymod.helper``), as ``@memo`` keys ``cfg.threshold``."""
    chains: dict[tuple[str, ...], None] = {}
    for node in ast.walk(tree):
        attrs = []
        while isinstance(node, ast.Attribute):
            attrs.append(node.attr)
            node = node.value
        if attrs and isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            chains[(node.id, *reversed(attrs))] = None
    return tuple(chains)


def cell_name(given: str | None, facts: CellFacts, source: str) -> CellName:
    """The :class:`CellName` of a cell: imports are named only when nothing else is."""
    kept = [b for b in facts.binds if not b.startswith("_") and b not in facts.gone]
    shown = [b for b in kept if b not in facts.imports] or kept
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    return CellName(given or None, tuple(shown[:3]), len(shown) > 3, first)
