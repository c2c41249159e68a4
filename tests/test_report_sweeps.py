"""The report's sweep table: each sweep's points side by side, with their swept values, at a common step."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import make_run

from mbrlbench.report import stats, sweeps
from mbrlbench.report.build import build_report
from mbrlbench.suite import sweep_name


@pytest.mark.parametrize(
    "point", [{"rollout_length": 5}, {"ensemble_size": 3, "num_elites": 2}, {"hidden": [200, 200], "lr": 3e-4}]
)
def test_split_sweep_name_inverts_the_suites_naming(point):
    source, rendered = sweeps.split_sweep_name(sweep_name("mbpo", point))
    assert (source, list(rendered)) == ("mbpo", list(point))
    assert sweep_name(source, rendered) == sweep_name("mbpo", point)  # the rendered values, as in the name


@pytest.mark.parametrize("name", ["mbpo", "mbpo@", "@k=1", "mbpo@k", "mbpo@k=1,=2"])
def test_a_plain_or_malformed_name_is_not_a_sweep_point(name):
    assert sweeps.split_sweep_name(name) is None


@pytest.fixture
def swept(tmp_path):
    """rollout_length 1, 5 and 15 (3 seeds each; length 15's seed 2 stopped early) and a plain sac run."""
    root = tmp_path / "results"
    level = {1: 100.0, 5: 300.0, 15: 200.0}
    for length, top in level.items():
        for seed in range(3):
            steps = [1000, 2000, 3000] if (length, seed) != (15, 2) else [1000, 2000]
            returns = [top * s / 3000 + 10 * seed for s in steps]
            make_run(
                root,
                "hopper",
                sweep_name("mbpo", {"rollout_length": length}),
                seed,
                steps,
                returns,
                config_extra={"algorithm": "mbpo", "hyperparameters": {"rollout_length": length}},
            )
    make_run(root, "hopper", "sac", 0, [1000, 2000, 3000], [1.0, 2.0, 3.0])
    return root


def test_sweep_table_compares_points_at_the_step_every_run_reached(swept, tmp_path):
    out = tmp_path / "report"
    build_report(swept, out)
    table = pd.read_csv(out / "sweeps.csv")
    assert list(table["hp/rollout_length"]) == [1, 5, 15]  # values from config.yaml, in numeric order
    assert set(table["sweep"]) == {"mbpo"} and "sac" not in set(table["algorithm"])
    assert set(table["env_step"]) == {2000}  # length 15's seed 2 stopped there
    row = table.set_index("hp/rollout_length").loc[5]
    finals = np.array([300.0 * 2000 / 3000 + 10 * seed for seed in range(3)])
    assert row["seeds"] == 3 and row["final_mean"] == pytest.approx(finals.mean())
    assert (row["final_low"], row["final_high"]) == pytest.approx(stats.mean_ci(finals))
    aucs = np.array([(300.0 / 3 + 200.0) / 2 + 10 * seed for seed in range(3)])  # trapezoid over 1000..2000
    assert row["auc"] == pytest.approx(aucs.mean())
    assert table.loc[table["best"], "hp/rollout_length"].tolist() == [5]


def test_sweep_section_lists_points_in_numeric_order_and_draws_a_figure(swept, tmp_path):
    out = tmp_path / "report"
    build_report(swept, out)
    index = (out / "index.md").read_text()
    assert "## Hyperparameter sweeps" in index and "sweeps.png" in index
    section = (out / "sweeps.md").read_text()
    first_cells = [
        line.split("|")[1].strip() for line in section.splitlines() if line.startswith("| ") and "---" not in line
    ]
    assert first_cells == ["rollout_length", "1", "5", "15"]  # numeric, not "1, 15, 5"
    assert "**210.0**" in section  # the best point's final mean in bold: 300 * 2/3 + mean(0, 10, 20)
    assert (out / "sweeps.png").stat().st_size > 10_000


def test_no_sweep_no_section(tmp_path):
    root = tmp_path / "results"
    make_run(root, "hopper", "mbpo", 0, [1000, 2000], [1.0, 2.0])
    build_report(root, tmp_path / "report")
    assert not (tmp_path / "report" / "sweeps.md").exists()
    assert "Hyperparameter sweeps" not in (tmp_path / "report" / "index.md").read_text()
