"""The stable codes the rule checks create, read from their source with ``ast`` (nothing to register).

A code is the first argument (or ``code=``) of ``Violation(...)`` or ``Notice(...)`` in
``gateway/workflow/rules/*.py``.  The scan follows a code through a module constant or an
imported one, a local variable (also one bound by a ``for`` over a literal table), a
conditional expression, and a parameter: when a function passes its parameter on as the
code (``CheckResult.refuse(code, ...)``), its callers' arguments are codes too.  What it
cannot read is reported with its place, unless :data:`DYNAMIC` says where those codes come
from, so a code made in a new way fails the test instead of slipping through.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
RULES = "gateway/workflow/rules"

#: Callables whose argument is a code: name → (position, keyword).
SINKS: dict[str, tuple[int, str]] = {"Violation": (0, "code"), "Notice": (0, "code")}

#: Expressions the scan cannot read, and where their codes come from: a file and the callable
#: whose first argument is the code there, or ``None`` when they are no rule codes.
DYNAMIC: dict[str, tuple[str, str] | None] = {
    # submission.py passes on the code of the ServiceCodeError that normalise() raised
    "exc.code": ("gateway/documents/service_codes.py", "ServiceCodeError"),
    # a warning of the municipality's profile, returned as a notice: mapped as kind ``warning``
    "warning.code": None,
    # signatures.py passes on the МЧД's failures (an unreadable file, then each failed check)
    "outcome.code": ("signing/power_of_attorney.py", "PoaFormatError"),
    "f.code": ("signing/power_of_attorney.py", "Failure"),
}


@dataclass(frozen=True)
class Site:
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class Scan:
    codes: dict[str, list[Site]] = field(default_factory=dict)
    unreadable: list[tuple[Site, str]] = field(default_factory=list)

    def add(self, code: str, site: Site) -> None:
        sites = self.codes.setdefault(code, [])
        if site not in sites:
            sites.append(site)


@dataclass
class _Module:
    path: str
    tree: ast.Module
    parents: dict[ast.AST, ast.AST]
    constants: dict[str, str]
    imports: dict[str, tuple[str, str]]


def _module_file(module: str) -> Path:
    return REPO / (module.replace(".", "/") + ".py")


def _load(path: Path) -> _Module:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    constants: dict[str, str] = {}
    imports: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            constants.update({t.id: node.value.value for t in node.targets if isinstance(t, ast.Name)})
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(node.value, ast.Constant):
            if isinstance(node.value.value, str):
                constants[node.target.id] = node.value.value
        elif isinstance(node, ast.ImportFrom) and node.module:
            imports.update({a.asname or a.name: (node.module, a.name) for a in node.names})
    where = path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else str(path)
    return _Module(where, tree, parents, constants, imports)


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _enclosing(module: _Module, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    while node in module.parents:
        node = module.parents[node]
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return node
    return None


def _parameter_sink(module: _Module, func: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> tuple[str, int, str]:
    params = [a.arg for a in (*func.args.posonlyargs, *func.args.args)]
    in_class = isinstance(module.parents.get(func), ast.ClassDef)
    if in_class and params and params[0] in ("self", "cls"):
        params = params[1:]
    position = params.index(name) if name in params else -1  # keyword-only: by name only
    return func.name, position, name


def _bindings(func: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> Iterator[ast.expr]:
    """The expressions a local ``name`` takes: assignments, and ``for`` targets over literal tables."""
    for node in ast.walk(func):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            yield node.value
        elif isinstance(node, ast.For) and isinstance(node.iter, ast.Tuple | ast.List):
            if isinstance(node.target, ast.Name) and node.target.id == name:
                yield from node.iter.elts
            elif isinstance(node.target, ast.Tuple):
                names = [t.id if isinstance(t, ast.Name) else None for t in node.target.elts]
                if name in names:
                    index = names.index(name)
                    for row in node.iter.elts:
                        if isinstance(row, ast.Tuple | ast.List) and len(row.elts) > index:
                            yield row.elts[index]
                        else:
                            yield row


class Scanner:
    def __init__(self, files: list[Path], sinks: dict[str, tuple[int, str]]) -> None:
        self.modules = [_load(f) for f in files]
        self.sinks = dict(sinks)
        self.scan = Scan()
        self.dynamic: list[tuple[str, str]] = []

    def run(self) -> Scan:
        """Scan until no new sink appears (a parameter passed on as a code makes its function one)."""
        seen: set[int] = set()
        while True:
            before = len(self.sinks)
            for module in self.modules:
                for node in ast.walk(module.tree):
                    if not isinstance(node, ast.Call) or id(node) in seen or (name := _callee(node)) not in self.sinks:
                        continue
                    position, keyword = self.sinks[name]
                    arg = next((k.value for k in node.keywords if k.arg == keyword), None)
                    if arg is None and 0 <= position < len(node.args):
                        arg = node.args[position]
                    if arg is None:
                        continue
                    seen.add(id(node))
                    self._resolve(module, arg, _enclosing(module, node), Site(module.path, node.lineno), depth=0)
            if len(self.sinks) == before:
                return self.scan

    def _resolve(self, module: _Module, expr: ast.expr, func: ast.FunctionDef | ast.AsyncFunctionDef | None,
                 site: Site, depth: int) -> None:  # fmt: skip
        if depth > 10:
            self.scan.unreadable.append((site, ast.unparse(expr)))
        elif isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            self.scan.add(expr.value, site)
        elif isinstance(expr, ast.IfExp):
            for branch in (expr.body, expr.orelse):
                self._resolve(module, branch, func, site, depth + 1)
        elif isinstance(expr, ast.Name):
            self._resolve_name(module, expr, func, site, depth)
        elif (text := ast.unparse(expr)) in DYNAMIC:
            source = DYNAMIC[text]
            if source is not None and source not in self.dynamic:
                self.dynamic.append(source)
        else:
            self.scan.unreadable.append((site, ast.unparse(expr)))

    def _resolve_name(self, module: _Module, expr: ast.Name, func: ast.FunctionDef | ast.AsyncFunctionDef | None,
                      site: Site, depth: int) -> None:  # fmt: skip
        name = expr.id
        if func is not None:
            params = {a.arg for a in (*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs)}
            if name in params:
                sink, position, keyword = _parameter_sink(module, func, name)
                self.sinks.setdefault(sink, (position, keyword))
                return
            local = list(_bindings(func, name))
            if local:
                for bound in local:
                    self._resolve(module, bound, func, site, depth + 1)
                return
        if name in module.constants:
            self.scan.add(module.constants[name], site)
        elif name in module.imports:
            source, original = module.imports[name]
            path = _module_file(source)
            value = _load(path).constants.get(original) if path.exists() else None
            if value is None:
                self.scan.unreadable.append((site, f"{name} (from {source})"))
            else:
                self.scan.add(value, site)
        else:
            self.scan.unreadable.append((site, name))


def rule_codes() -> Scan:
    """Every code the rule checks create, with where; and what the scan could not read."""
    scanner = Scanner(sorted((REPO / RULES).glob("*.py")), SINKS)
    scan = scanner.run()
    for path, callable_name in scanner.dynamic:
        extra = Scanner([REPO / path], {callable_name: (0, "code")}).run()
        for code, sites in extra.codes.items():
            scan.codes.setdefault(code, []).extend(sites)
        scan.unreadable += extra.unreadable
    return scan


def collected_test_nodes() -> set[str]:
    """The pytest node ids of every test function and method under tests/ (parameters aside)."""
    nodes: set[str] = set()
    for path in sorted((REPO / "tests").rglob("test_*.py")):
        rel = path.relative_to(REPO).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
                nodes.add(f"{rel}::{node.name}")
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                for member in node.body:
                    if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef) and member.name.startswith("test"):
                        nodes.add(f"{rel}::{node.name}::{member.name}")
    return nodes
