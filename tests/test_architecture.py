"""The house rules, checked: no import cycle between saoma's packages, and no module or function
too long to read whole (or a one-line reason in the module's docstring).

A unit is a top-level package or module under ``saoma`` (``saoma.payments``, ``saoma.db``). Every
import counts, also one inside a function: a function-level import is how a cycle hides, not how
one goes away. Imports under ``if TYPE_CHECKING:`` are listed on their own: they are not executed,
so they do not make a cycle, but they are still a dependency a reader sees.

What offends today is listed in KNOWN_* below, each with why; the test also fails when a listed
offender no longer offends, so the lists only shrink.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "saoma"
MODULE_LINES_MAX = 500
FUNCTION_LINES_MAX = 70
# A module longer than the limits says why on a line of its docstring starting with this.
LONGER_MARKER = "Longer than usual:"

# Imports that point the wrong way (from a lower package to a higher one), each on a cycle; none
# today: every package owns its tables, and what several need (ids, money) lives in saoma.core.
KNOWN_BACK_EDGES: dict[tuple[str, str], str] = {}

# Modules over MODULE_LINES_MAX lines without a reason.
KNOWN_LONG_MODULES: set[str] = set()

# Functions over FUNCTION_LINES_MAX lines (decorators and docstring included).
KNOWN_LONG_FUNCTIONS: set[str] = set()


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, dotted
    target: str  # the imported module, dotted
    line: int
    type_only: bool  # under ``if TYPE_CHECKING:``


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> Iterator[Path]:
    return (p for p in sorted(SRC.rglob("*.py")) if "migrations" not in p.parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _targets(node: ast.Import | ast.ImportFrom, source: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative: from the importing module's package
        base = source.split(".")
        base = base[: len(base) - node.level + (1 if is_package else 0)]
        stem = ".".join(base + ([node.module] if node.module else []))
    else:
        stem = node.module or ""
    # ``from saoma.payments import models`` imports saoma.payments.models: both name the unit.
    return [stem] + [f"{stem}.{alias.name}" for alias in node.names]


def imports_of(path: Path) -> list[Import]:
    return imports_in(path.read_text(), module_name(path), is_package=path.name == "__init__.py")


def imports_in(text: str, source: str, *, is_package: bool = False) -> list[Import]:
    """Every import of a saoma module in ``text``, the module ``source``, at any depth."""
    found: list[Import] = []

    def visit(node: ast.AST, type_only: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, type_only)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            for target in _targets(node, source, is_package):
                if target.startswith("saoma"):
                    found.append(Import(source, target, node.lineno, type_only))
        for child in ast.iter_child_nodes(node):
            visit(child, type_only)

    visit(ast.parse(text), False)
    return found


def unit(module: str) -> str:
    """``saoma.payments.service`` → ``saoma.payments``; ``saoma.db`` stays."""
    return ".".join(module.split(".")[:2])


def unit_graph(*, type_only: bool) -> dict[str, dict[str, list[Import]]]:
    """unit → unit it imports → the imports that make the edge."""
    graph: dict[str, dict[str, list[Import]]] = defaultdict(lambda: defaultdict(list))
    for path in modules():
        for imp in imports_of(path):
            a, b = unit(imp.source), unit(imp.target)
            if a != b and b != "saoma" and imp.type_only == type_only:
                graph[a][b].append(imp)
    return graph


def strongly_connected(graph: dict[str, dict[str, list[Import]]]) -> list[list[str]]:
    """Tarjan's components with more than one unit: each is a knot of cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def cycles(graph: dict[str, dict[str, list[Import]]]) -> list[list[str]]:
    """Each two-unit cycle, and for a larger knot one shortest cycle through each of its units:
    enough to name every edge to cut without listing the exponentially many cycles."""
    found: list[list[str]] = []
    for component in strongly_connected(graph):
        members = set(component)
        for start in component:
            path = _shortest_cycle(graph, start, members)
            if path and sorted(path) not in [sorted(c) for c in found]:
                found.append(path)
    return found


def _shortest_cycle(
    graph: dict[str, dict[str, list[Import]]], start: str, members: set[str]
) -> list[str] | None:
    frontier = [[start]]
    seen = {start}
    while frontier:
        following = []
        for path in frontier:
            for w in sorted(graph.get(path[-1], {})):
                if w == start:
                    return path
                if w in members and w not in seen:
                    seen.add(w)
                    following.append([*path, w])
        frontier = following
    return None


def describe(cycle: list[str], graph: dict[str, dict[str, list[Import]]]) -> str:
    lines = [" -> ".join([*cycle, cycle[0]])]
    for a, b in zip(cycle, [*cycle[1:], cycle[0]], strict=True):
        first = graph[a][b][0]
        lines.append(f"    {a} -> {b}: {first.source} line {first.line} imports {first.target}")
    return "\n".join(lines)


def reaches(graph: dict[str, dict[str, list[Import]]], start: str, goal: str) -> bool:
    seen, todo = {start}, [start]
    while todo:
        for w in graph.get(todo.pop(), {}):
            if w == goal:
                return True
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return False


def test_no_import_cycle_between_packages() -> None:
    graph = unit_graph(type_only=False)
    rest = {
        a: {b: found for b, found in targets.items() if (a, b) not in KNOWN_BACK_EDGES}
        for a, targets in graph.items()
    }
    new = cycles(rest)
    assert not new, "import cycles between packages:\n" + "\n".join(describe(c, graph) for c in new)
    stale = sorted(
        edge
        for edge in KNOWN_BACK_EDGES
        if edge[1] not in graph.get(edge[0], {}) or not reaches(graph, edge[1], edge[0])
    )
    assert not stale, f"no longer on a cycle, take them off KNOWN_BACK_EDGES: {stale}"


def test_the_cycles_of_today_are_printed() -> None:
    """Every cycle the known back edges make, as the failure above would print it (``-s``)."""
    graph = unit_graph(type_only=False)
    for cycle in cycles(graph):
        print(describe(cycle, graph))
    assert all(frozenset(c) & {a for a, _ in KNOWN_BACK_EDGES} for c in cycles(graph))


def _reason(tree: ast.Module) -> bool:
    doc = ast.get_docstring(tree) or ""
    return any(line.strip().startswith(LONGER_MARKER) for line in doc.splitlines())


def _functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, int]]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            name = prefix + node.name
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            yield name, (node.end_lineno or node.lineno) - start + 1
            yield from _functions(node, name + ".")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, prefix + node.name + ".")


def oversize() -> tuple[dict[str, int], dict[str, int]]:
    """Modules over the line limit and functions over theirs, outside modules that say why."""
    long_modules: dict[str, int] = {}
    long_functions: dict[str, int] = {}
    for path in modules():
        text = path.read_text()
        tree = ast.parse(text, str(path))
        if _reason(tree):
            continue
        name = module_name(path)
        lines = len(text.splitlines())
        if lines > MODULE_LINES_MAX:
            long_modules[name] = lines
        for function, length in _functions(tree):
            if length > FUNCTION_LINES_MAX:
                long_functions[f"{name}:{function}"] = length
    return long_modules, long_functions


def test_modules_and_functions_are_short_or_say_why() -> None:
    long_modules, long_functions = oversize()
    new_modules = {m: n for m, n in long_modules.items() if m not in KNOWN_LONG_MODULES}
    new_functions = {f: n for f, n in long_functions.items() if f not in KNOWN_LONG_FUNCTIONS}
    assert not new_modules, (
        f"modules over {MODULE_LINES_MAX} lines (split them, or give a line starting"
        f" {LONGER_MARKER!r} in the module docstring): {new_modules}"
    )
    assert not new_functions, f"functions over {FUNCTION_LINES_MAX} lines: {new_functions}"
    stale = (KNOWN_LONG_MODULES - set(long_modules)) | (KNOWN_LONG_FUNCTIONS - set(long_functions))
    assert not stale, f"short now, take them off the KNOWN lists: {sorted(stale)}"


def test_the_walker_sees_function_level_and_type_only_imports() -> None:
    text = (
        "from typing import TYPE_CHECKING\n"
        "from . import models\n"
        "if TYPE_CHECKING:\n"
        "    from saoma.api import app\n"
        "def later():\n"
        "    import saoma.web.routes\n"
    )
    found = {(i.target, i.type_only) for i in imports_in(text, "saoma.payments.sample")}
    assert ("saoma.payments.models", False) in found
    assert ("saoma.api.app", True) in found
    assert ("saoma.web.routes", False) in found
    graph: dict[str, dict[str, list[Import]]] = {
        "a": {"b": []},
        "b": {"c": []},
        "c": {"a": [], "d": []},
        "d": {},
    }
    assert cycles(graph) == [["a", "b", "c"]]  # d hangs off the cycle and is not on it


def type_only_edges() -> list[str]:
    """Unit edges made only by ``if TYPE_CHECKING:`` imports: not executed, so not a cycle,
    but a dependency a reader still sees (printed with ``-s``)."""
    return [
        f"{a} -> {b} ({found[0].source} line {found[0].line})"
        for a, targets in sorted(unit_graph(type_only=True).items())
        for b, found in sorted(targets.items())
    ]


def test_type_only_edges_are_kept_apart() -> None:
    for edge in type_only_edges():
        print("type only:", edge)
    runtime = unit_graph(type_only=False)
    for a, targets in unit_graph(type_only=True).items():
        for b, found in targets.items():
            assert all(i.type_only for i in found)
            assert all(not i.type_only for i in runtime.get(a, {}).get(b, []))
