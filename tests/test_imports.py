"""The import graph of b2bmetrics/: no cycle, no streamlit, and the store below the metrics.

Read from the source with `ast`. Two graphs:

* the dependencies: every import counts, at module level and inside functions (a lazy import
  hides a cycle from Python, not from a reader), but not under `if TYPE_CHECKING:`; importing
  `a.b.c` is a dependency on `a.b.c` only, not on the rest of package `a.b`.
* what runs at import time: the module-level imports, where importing `a.b.c` from outside
  package `a.b` also runs `a.b`'s `__init__` first (and so what that `__init__` itself imports at
  module level). A cycle there is an ImportError in some import order.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "b2bmetrics"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, *, lazy: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement except those under `if TYPE_CHECKING:` (and, unless `lazy`, those
    inside functions, which run only when called)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if not lazy and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """Dotted names a statement imports (for `from x import y`: `x.y` when that is a module, else `x`)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    if node.level:
        is_package = MODULES.get(module, Path()).name == "__init__.py"
        base_parts = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
        base = ".".join([*base_parts, *([node.module] if node.module else [])])
    else:
        base = node.module or ""
    for alias in node.names:
        yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base


def _module_of(target: str) -> str | None:
    """The b2bmetrics module a dotted name is (or is in: `import pkg.mod.attr` style names)."""
    parts = target.split(".")
    while parts and ".".join(parts) not in MODULES:
        parts.pop()
    return ".".join(parts) or None


def _depends_on(module: str, target: str) -> set[str]:
    """The b2bmetrics module `module` depends on by importing `target` (none outside b2bmetrics)."""
    found = _module_of(target)
    return {found} if found and found != module else set()


def _runs(module: str, target: str) -> set[str]:
    """The b2bmetrics modules that importing `target` runs: the module and the `__init__` of each
    package on the way that does not contain `module` (its own packages ran before it)."""
    found = _module_of(target)
    if not found:
        return set()
    parts = found.split(".")
    names = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return {n for n in names if n in MODULES and n != module and not (module + ".").startswith(n + ".")}


def _all_imports(*, lazy: bool) -> dict[str, set[str]]:
    """Module -> every dotted name it imports (inside or outside b2bmetrics)."""
    out: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        out[module] = {t for node in _imports(tree, lazy=lazy) for t in _targets(module, node)}
    return out


IMPORTS = _all_imports(lazy=True)
GRAPH: dict[str, set[str]] = {m: {d for t in ts for d in _depends_on(m, t)} for m, ts in IMPORTS.items()}
AT_IMPORT: dict[str, set[str]] = {m: {d for t in ts for d in _runs(m, t)}
                                  for m, ts in _all_imports(lazy=False).items()}


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_graph_is_read_from_the_source() -> None:
    """The walk sees what the package really imports (a guard against a walk that finds nothing)."""
    assert "b2bmetrics.store.database" in MODULES and "b2bmetrics.metrics.funnel" in MODULES
    assert "b2bmetrics.store.materialize" in GRAPH["b2bmetrics.store.database"]
    assert "b2bmetrics.filters" in GRAPH["b2bmetrics.metrics.funnel"]
    # a child is not its package: depending on store.materialize is not depending on store/__init__
    assert "b2bmetrics.store" not in GRAPH["b2bmetrics.metrics.funnel"]
    # but importing it from outside runs the package's __init__ (not the package's other modules)
    assert "b2bmetrics.store" in AT_IMPORT["b2bmetrics.metrics.funnel"]
    assert "b2bmetrics.store.database" not in AT_IMPORT["b2bmetrics.metrics.funnel"]
    assert "b2bmetrics.store.database" in AT_IMPORT["b2bmetrics.store"]
    # a lazy import inside a function is a dependency, and runs nothing at import time
    assert "b2bmetrics.metrics.funnel" in GRAPH["b2bmetrics.metrics"]
    assert "b2bmetrics.metrics.funnel" not in AT_IMPORT["b2bmetrics.metrics"]


def test_the_cycle_finder_names_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert _find_cycle(graph) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_b2bmetrics() -> None:
    cycle = _find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_module_is_imported_while_it_is_being_imported() -> None:
    """No loop through a package `__init__`: e.g. `filters` importing `metrics._rules` runs
    `metrics/__init__`, which must not import `filters` back at module level."""
    cycle = _find_cycle(AT_IMPORT)
    assert cycle is None, "import-time cycle: " + " -> ".join(cycle or [])


def test_b2bmetrics_never_imports_streamlit() -> None:
    bad = {m: sorted(t for t in ts if t.split(".")[0] == "streamlit") for m, ts in IMPORTS.items()}
    assert not {m: ts for m, ts in bad.items() if ts}


def _reach(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _in(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_the_store_knows_no_metric() -> None:
    """The store keeps relations beside the data; what they mean belongs to the metrics, which
    declare them. Nothing of the store reaches metrics, filters, access or ingest, even indirectly."""
    above = ("b2bmetrics.metrics", "b2bmetrics.filters", "b2bmetrics.access", "b2bmetrics.ingest")
    store = [m for m in MODULES if _in(m, ("b2bmetrics.store",))]
    bad = {m: sorted(d for d in _reach(GRAPH, m) | _reach(AT_IMPORT, m) if _in(d, above)) for m in store}
    assert not {m: d for m, d in bad.items() if d}
    # the mechanism itself: the configuration, the schema, the backend protocol and the errors
    allowed = {"b2bmetrics.config", "b2bmetrics.schema", "b2bmetrics.backend", "b2bmetrics.errors"}
    assert GRAPH["b2bmetrics.store.materialize"] <= allowed
