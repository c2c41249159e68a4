"""The report against reference runs (issue 18): a cell outside its reference runs' band is ``worse`` and is
listed at the top of index.md; within it ``equivalent``; and the sample-efficiency curve and AUC, checked
against hand computations on synthetic runs."""

import math

import numpy as np
import pandas as pd
import pytest
from helpers import cli, make_run

from mbrlbench.report import stats, tables
from mbrlbench.report.build import build_report
from mbrlbench.report.references import normalization

STEPS = [500, 1000, 1500, 2000]


def _cell(root, algo, level, seeds=5, noise=10.0, suite="syn"):
    rng = np.random.default_rng(len(str(root)) + int(level))
    for seed in range(seeds):
        returns = level * np.array([0.2, 0.5, 0.8, 1.0]) + rng.normal(0, noise, 4)
        make_run(root, "inverted_pendulum", algo, seed, STEPS, returns, suite=suite)


@pytest.fixture
def runs(tmp_path):
    """Reference: mbpo at ~1000 and sac at ~300, 5 seeds each. Ours: mbpo halved (outside the band), sac the
    same level (inside it)."""
    _cell(tmp_path / "reference", "mbpo", 1000.0, suite="reference")
    _cell(tmp_path / "reference", "sac", 300.0, suite="reference")
    _cell(tmp_path / "ours", "mbpo", 500.0)
    _cell(tmp_path / "ours", "sac", 300.0, noise=3.0)
    return tmp_path


def test_a_cell_outside_its_reference_band_is_worse_and_listed_first(runs, tmp_path):
    out = tmp_path / "report"
    result = build_report(runs / "ours", out, reference_runs=runs / "reference", console=None)
    table = result.returns.set_index(["algorithm", "env_step"])
    assert table.loc[("mbpo", 2000), "ref_verdict"] == "worse"
    assert table.loc[("mbpo", 2000), "ref_seeds"] == 5
    assert table.loc[("mbpo", 2000), "ref_diff_high"] < -100  # ~ -500
    assert table.loc[("sac", 2000), "ref_verdict"] == "equivalent"
    index = (out / "index.md").read_text()
    regressions = index.split("## Regressions against the reference runs")[1].split("## Runs")[0]
    assert "1 of 2 compared cells are worse" in regressions and "inverted_pendulum / mbpo at 2,000" in regressions
    assert "sac" not in regressions
    assert index.index("## Regressions") < index.index("## Runs")
    assert "**worse, by " in (out / "returns.md").read_text()


def test_no_worse_cell_says_so_and_two_seeds_are_too_few(runs, tmp_path):
    ours = tmp_path / "few"
    _cell(ours, "mbpo", 500.0, seeds=2)  # far below, but 2 seeds: no verdict
    result = build_report(ours, tmp_path / "r", reference_runs=runs / "reference")
    assert result.returns.set_index("env_step").loc[2000, "ref_verdict"] == "too few seeds"
    assert "No cell is worse than its reference runs" in (tmp_path / "r" / "index.md").read_text()


def test_reference_runs_that_stop_earlier_are_not_compared(runs, tmp_path):
    ours = tmp_path / "longer"
    for seed in range(5):
        make_run(ours, "inverted_pendulum", "sac", seed, [*STEPS, 3000], [60, 150, 240, 300, 310 + seed])
    result = build_report(ours, tmp_path / "r", reference_runs=runs / "reference")
    table = result.returns.set_index("env_step")
    assert table.loc[3000, "ref_verdict"] == "reference not reached"


def test_reporting_the_reference_folder_itself_reports_its_runs(runs, tmp_path):
    result = build_report(runs / "reference", tmp_path / "r")
    assert set(result.returns["algorithm"]) == {"mbpo", "sac"}
    assert set(result.returns["ref_verdict"]) == {"no reference runs"}


def test_cli_reference_runs_flag_and_bad_folder(runs, tmp_path):
    def report(*args):
        return cli("report", *args)

    proc = report(str(runs / "ours"), "--reference-runs", str(runs / "reference"), "--format", "md,csv")
    assert proc.returncode == 0, proc.stderr
    assert "worse than the reference runs" in proc.stderr
    proc = report(str(runs / "ours"), "--reference-runs", str(tmp_path / "missing"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--reference-runs" in proc.stderr


# ----------------------------------------------------------------------------- sample efficiency and AUC
def test_sample_efficiency_is_the_iqm_of_normalized_scores_at_each_step(runs):
    from mbrlbench.report.load import load_runs

    curves = load_runs(runs / "ours").curves
    table = tables.sample_efficiency(curves).set_index(["algorithm", "env_step"])
    zero, one, _ = normalization("inverted_pendulum")
    for step in STEPS:
        values = stats.values_at_step(curves[curves["algorithm"] == "mbpo"], step)["value"].to_numpy()
        scores = np.sort((values - zero) / (one - zero))
        assert table.loc[("mbpo", step), "iqm"] == pytest.approx(scores[1:4].mean())  # 5 runs: trim 1 each end
        assert table.loc[("mbpo", step), "iqm_low"] <= table.loc[("mbpo", step), "iqm"]
        assert table.loc[("mbpo", step), "iqm"] <= table.loc[("mbpo", step), "iqm_high"]
    assert list(table.loc["mbpo"].index) == STEPS and set(table["runs"]) == {5}


def test_auc_is_the_trapezoid_mean_over_training_on_a_common_span(tmp_path):
    make_run(tmp_path, "inverted_pendulum", "a", 0, [0, 1000, 2000, 3000], [0.0, 100.0, 100.0, 900.0])
    make_run(tmp_path, "inverted_pendulum", "b", 0, [0, 1000, 2000], [0.0, 200.0, 200.0])
    from mbrlbench.report.load import load_runs

    auc = tables.auc_table(load_runs(tmp_path).curves).set_index("algorithm")
    assert (auc["env_step"] == 2000).all()  # the step every run of the task reached, for both
    assert auc.loc["a", "auc"] == pytest.approx((50 + 100) * 1000 / 2000)
    assert auc.loc["b", "auc"] == pytest.approx((100 + 200) * 1000 / 2000)
    assert math.isnan(auc.loc["a", "auc_low"])  # one seed: no band


def test_bootstraps_use_ten_thousand_resamples_and_are_reproducible():
    assert stats.N_RESAMPLES >= 10_000
    a, b = np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.array([2.0, 3.0, 4.0, 5.0, 9.0])
    assert stats.poi_with_ci(a, b) == stats.poi_with_ci(a, b)
    point, low, high = stats.poi_with_ci(a, b)
    assert point == pytest.approx((6 + 0.5 * 4) / 25)  # wins: 3>2, 4>2,3, 5>2,3,4; ties: 2, 3, 4, 5
    assert 0 <= low <= point <= high <= 1


def test_batched_probability_of_improvement_equals_mann_whitney():
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(3)
    for _ in range(20):
        a, b = rng.integers(0, 5, 6).astype(float), rng.integers(0, 5, 4).astype(float)
        expected = mannwhitneyu(a, b).statistic / (len(a) * len(b))
        assert stats.probability_of_improvement(a, b) == pytest.approx(expected)
    stacked = np.stack([rng.normal(size=5) for _ in range(7)])
    batched = stats._poi(stacked, stacked[::-1], axis=-1)
    assert batched.shape == (7,)
    assert batched[2] == pytest.approx(stats.probability_of_improvement(stacked[2], stacked[4]))


def test_claims_are_stated_per_task(runs, tmp_path):
    build_report(runs / "ours", tmp_path / "r", reference_runs=runs / "reference")
    index = (tmp_path / "r" / "index.md").read_text()
    assert "judged **per task**" in index and f"{stats.N_RESAMPLES:,} resamples" in index
    efficiency = pd.read_csv(tmp_path / "r" / "efficiency.csv")
    assert {"algorithm", "env_step", "iqm", "iqm_low", "iqm_high"} <= set(efficiency.columns)
    assert (tmp_path / "r" / "efficiency.png").exists() and "efficiency.png" in index
