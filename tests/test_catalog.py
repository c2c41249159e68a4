"""The catalog (facts, torch-free) and the registry (code) describe the same algorithms, both ways; the report
takes every per-algorithm fact from the catalog."""

import subprocess
import sys

from mbrlbench.algorithms import catalog
from mbrlbench.algorithms.registry import ALGORITHMS, SPECS, VARIANTS


def test_every_catalog_entry_is_registered_and_every_registered_name_is_in_the_catalog():
    assert set(catalog.ALGORITHM_NAMES) == set(ALGORITHMS) == set(SPECS)
    assert set(catalog.VARIANT_NAMES) == set(VARIANTS)
    for name, variant in VARIANTS.items():
        entry = catalog.CATALOG[name]
        assert variant.algorithm == entry.base and variant.overrides == entry.overrides
        ALGORITHMS[variant.algorithm].config_cls(**variant.overrides)  # the overrides are fields of its config
    for name, entry in ALGORITHMS.items():
        facts = catalog.CATALOG[name]
        assert entry.presets is facts.presets and entry.paper_env_steps is facts.paper_env_steps
        assert entry.summary == facts.summary and entry.paper_metric == facts.paper_metric
        for preset in facts.presets.values():
            entry.config_cls(**preset)  # raises on a field the algorithm's config does not have or a bad value


def test_claims_name_catalog_entries_and_the_order_covers_every_entry():
    names = set(catalog.CATALOG)
    for claim in catalog.CLAIMS:
        assert {claim.ours, claim.baseline} <= names, claim
    assert set(catalog.ORDER) == names and len(catalog.ORDER) == len(names)
    assert not catalog.comparable("mbmpo") and not catalog.comparable("me_trpo") and catalog.comparable("mbpo")
    assert catalog.metric_note("me_trpo") == catalog.metric_note("mbmpo") != ""


def test_the_catalog_and_the_report_import_no_torch():
    code = (
        "import sys; import mbrlbench.algorithms.catalog, mbrlbench.report.build; "
        "bad = [m for m in ('torch', 'gymnasium', 'mujoco') if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_report_holds_no_per_algorithm_constant():
    """No string literal of the report's code (docstrings aside) is an algorithm's name."""
    import ast
    from pathlib import Path

    report = Path(__file__).resolve().parents[1] / "mbrlbench" / "report"
    for path in sorted(report.glob("*.py")):
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        literals = {
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
        }
        named = literals & set(catalog.CATALOG)
        assert not named, f"{path.name} names {named}: per-algorithm facts belong in the catalog"
