"""The package's shape, checked from its source (benchmarks/import_graph.py): the report stands apart from the
runner, the tasks and torch; algorithm modules import no other algorithm except the base class they extend;
no function grows past 80 lines."""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import import_graph  # noqa: E402

REPORT_MUST_NOT_REACH = ("torch", "gymnasium", "mujoco", "mbrlbench.tasks", "mbrlbench.suite")
TORCH_FREE_ALGORITHM_MODULES = ("mbrlbench.algorithms", "mbrlbench.algorithms.catalog")  # the facts, no code


def test_report_reaches_neither_runner_nor_tasks_nor_torch():
    _, edges = import_graph.graph()
    for module in ("mbrlbench.report.build", "mbrlbench.report.load", "mbrlbench.rundir"):
        reached = import_graph.reach(module, edges, lazy=True)
        bad = [
            m
            for m in reached
            if m in REPORT_MUST_NOT_REACH
            or m.startswith("mbrlbench.runner")
            or (m.startswith("mbrlbench.alg") and m not in TORCH_FREE_ALGORITHM_MODULES)
        ]
        assert not bad, (module, bad)


def test_the_graph_sees_real_edges():
    """The checker itself: it must find the edges that do exist (else the test above proves nothing)."""
    _, edges = import_graph.graph()
    pairs = {(e.source, e.target) for e in edges}
    assert ("mbrlbench.report.load", "mbrlbench.rundir") in pairs
    assert ("mbrlbench.runner.lifecycle", "torch") in pairs
    assert "torch" in import_graph.reach("mbrlbench.runner.lifecycle", edges)


def test_algorithm_modules_import_only_their_base_class():
    for path in sorted((ROOT / "mbrlbench" / "algorithms").glob("*.py")):
        if path.name in ("__init__.py", "base.py", "registry.py", "catalog.py"):
            continue
        tree = ast.parse(path.read_text())
        bases = {
            b.id
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef)
            for b in node.bases
            if isinstance(b, ast.Name)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mbrlbench.algorithms"):
                if node.module in ("mbrlbench.algorithms.base", "mbrlbench.algorithms.catalog"):
                    continue
                names = {alias.name for alias in node.names}
                assert node.module != "mbrlbench.algorithms.registry", f"{path.name} imports the registry"
                assert names <= bases, f"{path.name} imports {names - bases} from {node.module}, not a base class"


def test_no_function_longer_than_80_lines():
    assert import_graph.long_functions(80) == []


# One folder per floor, lowest first; a module may import its own floor and the floors below it. The report
# is a side floor: the run folder and support below it, the torch-free catalog of algorithm facts, nothing else.
FLOORS = {"": 0, "errors": 0, "rundir": 0, "support": 0, "references": 0, "tasks": 1, "components": 2}
FLOORS |= {"algorithms": 3, "runner": 4, "suite": 5, "cli": 6}


def _floor(module: str) -> int | str:
    top = module.split(".")[1] if "." in module else ""
    return "report" if top == "report" else FLOORS[top]


def test_no_module_imports_from_a_floor_above_its_own():
    _, edges = import_graph.graph()
    upward = []
    for edge in edges:
        if not edge.target.startswith("mbrlbench"):
            continue
        source, target = _floor(edge.source), _floor(edge.target)
        if source == "report":
            ok = target in (0, "report") or edge.target in TORCH_FREE_ALGORITHM_MODULES
        elif target == "report":
            ok = source == FLOORS["cli"]
        else:
            ok = target <= source
        if not ok:
            upward.append((edge.source, edge.target))
    assert upward == []
    assert _floor("mbrlbench.runner.spec") > _floor("mbrlbench.components.phases")  # the floors are ordered


def test_no_module_is_longer_than_400_lines():
    """A module over 400 lines has usually taken on a second job (issue 30): split it by job."""
    long = {
        p.relative_to(ROOT).as_posix(): n
        for p in (ROOT / "mbrlbench").rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 400
    }
    assert long == {}
