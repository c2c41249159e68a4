"""The import graph of ``mbrlbench/`` read from the source (AST, no import executed), and its function lengths.

    python benchmarks/import_graph.py            # edges between package modules, grouped by layer
    python benchmarks/import_graph.py --reach mbrlbench.report.build   # what a module pulls in, transitively
    python benchmarks/import_graph.py --long 80  # functions longer than 80 lines

An import inside ``if TYPE_CHECKING:`` is not an edge (it never runs). Imports inside functions are edges
(they run when the function does) and are marked ``(lazy)``.
"""

from __future__ import annotations

import argparse
import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mbrlbench"
THIRD_PARTY_OF_INTEREST = ("torch", "gymnasium", "mujoco")


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    lazy: bool


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, package: str) -> Iterator[tuple[str, list[str], bool]]:
    """(imported module, names imported from it, lazy) for every import that can run."""

    def visit(node: ast.AST, lazy: bool) -> Iterator[tuple[str, list[str], bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                yield from (item for stmt in child.orelse for item in visit(stmt, lazy))
                continue
            inner = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                yield from ((alias.name, [], inner) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:  # relative import
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, base]) if base else ".".join(anchor)
                yield base, [alias.name for alias in child.names], inner
            else:
                yield from visit(child, inner)

    yield from visit(tree, False)


def graph() -> tuple[set[str], list[Edge]]:
    modules = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
    edges: set[Edge] = set()
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for base, names, lazy in _imports(ast.parse(path.read_text()), package):
            # ``from mbrlbench.algorithms import mbpo`` imports the module mbpo; ``from x import y`` otherwise x
            submodules = [f"{base}.{n}" for n in names if f"{base}.{n}" in modules]
            for target in submodules or [base]:
                if target in modules and target != name:
                    edges.add(Edge(name, target, lazy))
                elif target.split(".")[0] in THIRD_PARTY_OF_INTEREST:
                    edges.add(Edge(name, target.split(".")[0], lazy))
    eager = {(e.source, e.target) for e in edges if not e.lazy}
    kept = [e for e in edges if not (e.lazy and (e.source, e.target) in eager)]
    return set(modules), sorted(kept, key=lambda e: (e.source, e.target))


def reach(start: str, edges: list[Edge], lazy: bool = False) -> set[str]:
    """Modules (and heavy third-party packages) importing ``start`` pulls in; ``lazy`` adds imports made
    inside functions (they run only when called)."""
    seen, todo = {start}, [start]
    while todo:
        node = todo.pop()
        for e in edges:
            if e.source == node and (lazy or not e.lazy) and e.target not in seen:
                seen.add(e.target)
                todo.append(e.target)
    return seen - {start}


def long_functions(limit: int) -> list[tuple[str, str, int]]:
    """(file:line, function, length) of every function longer than ``limit`` lines."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > limit:
                    found.append((f"{path.relative_to(PACKAGE.parent)}:{node.lineno}", node.name, length))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reach", help="print what this module imports, transitively (eager imports)")
    parser.add_argument("--long", type=int, help="print functions longer than this many lines")
    args = parser.parse_args()
    _, edges = graph()
    if args.long:
        for where, name, length in long_functions(args.long):
            print(f"{where} {name} {length}")
        return
    if args.reach:
        print("\n".join(sorted(reach(args.reach, edges))))
        return
    short = {e.source: e.source.removeprefix("mbrlbench.") or "mbrlbench" for e in edges}
    for source in sorted(short):
        targets = [
            e.target.removeprefix("mbrlbench.") + (" (lazy)" if e.lazy else "") for e in edges if e.source == source
        ]
        print(f"{short[source]} -> {', '.join(targets)}")


if __name__ == "__main__":
    main()
