"""The verdict rule and its contract (issue 27), measured by simulation with fixed seeds: false alarms at most
5% between sides of one distribution, reproductions of low-spread cells recognised, real deficits caught, and
the stated power within 20% of the simulated one. Plus the curve-window verdict against the official curve."""

import math

import numpy as np
import pandas as pd
import pytest
from helpers import make_run
from scipy import stats as sps

from mbrlbench.report import calibration, stats, verdicts, window
from mbrlbench.report.build import build_report
from mbrlbench.report.claims import claim_verdict
from mbrlbench.report.references import official_mbpo_curves, paper_results

CVS = (0.05, 0.10, 0.20, 0.30, 0.50)
DRAWS = 20_000  # Monte Carlo error of a 5% rate: 0.15%


@pytest.fixture(scope="module")
def normals():
    rng = np.random.default_rng(2027)
    return tuple(rng.standard_normal((DRAWS, 10)) for _ in range(3))


# ------------------------------------------------------------------------------------------ the rule
@pytest.mark.parametrize(
    "ours,label,text",
    [
        ([1000, 1001, 999, 1000, 1000], "reproduced", "reproduced, within ±0%"),
        ([700, 701, 699, 700, 700], "below", "below, by 30% to 30%"),
        ([1300, 1301, 1299, 1300, 1300], "above", "above, by 30% to 30%"),
        ([600, 1400, 1000, 800, 1200], "consistent", "consistent, within ±30%"),
        ([1000, 1001], "too few seeds", "too few seeds"),
    ],
)
def test_rule_against_an_exact_paper_number(ours, label, text):
    judgement = verdicts.against_paper(np.array(ours, float), verdicts.Side.exact(1000.0), 0.10)
    assert judgement.label == label
    assert judgement.text() == text


def test_welch_interval_and_margin_by_hand():
    ours = np.array([10.0, 12.0, 14.0, 16.0, 18.0])
    j = verdicts.against_paper(ours, verdicts.paper_side(11.0, 3.0, 4), 0.10)
    va, vb = ours.var(ddof=1) / 5, 9.0 / 4
    dof = (va + vb) ** 2 / (va**2 / 4 + vb**2 / 3)
    se = math.sqrt(va + vb)
    assert j.low == pytest.approx(3.0 - sps.t.ppf(0.975, dof) * se)
    assert j.high == pytest.approx(3.0 + sps.t.ppf(0.975, dof) * se)
    assert j.margin == pytest.approx(3.0 + sps.t.ppf(0.95, dof) * se)  # the 90% CI's largest |bound|
    assert j.detectable == pytest.approx((sps.t.ppf(0.975, dof) + sps.t.ppf(0.8, dof)) * se)
    assert j.label == "consistent" and j.low90 == pytest.approx(3.0 - sps.t.ppf(0.95, dof) * se)


def test_equal_constant_sides_are_equivalent_and_unequal_ones_differ():
    same = verdicts.against_runs(np.full(5, 1000.0), np.full(5, 1000.0), 0.10)
    assert same.label == "equivalent" and same.margin == 0 and same.seeds_10 == verdicts.MIN_SEEDS
    worse = verdicts.against_runs(np.full(5, 500.0), np.full(5, 1000.0), 0.10)
    assert worse.label == "worse" and worse.low == worse.high == -500.0


def test_seeds_needed_is_unreachable_when_the_papers_own_seeds_leave_more_doubt():
    # hopper at 15k: 459 +- 215 over 5 trials: the paper's standard error alone is 21% of its mean
    j = verdicts.against_paper(np.array([400.0, 450, 500, 380, 520]), verdicts.paper_side(458.6, 214.7, 5), 0.10)
    assert math.isinf(j.seeds_10) and math.isinf(j.seeds_25)
    assert verdicts.seeds_text(j.seeds_10) == "unreachable"
    # a tight paper cell: more of our seeds do resolve it
    tight = verdicts.against_paper(np.array([990.0, 1010, 1000, 980, 1020]), verdicts.paper_side(1000, 20, 5), 0.1)
    assert tight.seeds_10 == verdicts.MIN_SEEDS and math.isfinite(tight.seeds_25)


def test_stated_seed_counts_deliver_the_power_they_promise():
    for cv in (0.10, 0.20):
        need = int(verdicts.seeds_needed(cv * 1000, cv * 1000, math.nan, 100.0, both_sides=True))
        zs = [np.random.default_rng(need).standard_normal((4000, need)) for _ in range(2)]
        same = calibration.compare_probabilities(1000, cv * 1000, need, 0.0, *zs)
        gap = calibration.compare_probabilities(1000, cv * 1000, need, -0.10, *zs)
        assert same["equivalent"] >= 0.75, (cv, need, same)
        assert gap["lower"] >= 0.75, (cv, need, gap)


# ------------------------------------------------------------------------------------------ the contract
@pytest.mark.parametrize("cv", CVS)
def test_false_alarms_at_most_5_percent_between_sides_of_one_distribution(cv, normals):
    z_ours, z_b, z_paper = normals
    sd = cv * 1000
    for p in (
        calibration.paper_probabilities(1000, sd, 5, 5, 0.0, z_ours),  # the paper's mean is the truth
        calibration.paper_probabilities(1000, sd, 5, 5, 0.0, z_ours, z_paper=z_paper),  # ... or an estimate too
        calibration.paper_probabilities(1000, sd, 5, 10, 0.0, z_ours, z_paper=z_paper),
        calibration.compare_probabilities(1000, sd, 5, 0.0, z_ours, z_b),
        calibration.compare_probabilities(1000, sd, 10, 0.0, z_ours, z_b),
    ):
        assert p["lower"] + p["higher"] <= 0.05, p


def test_faithful_reproduction_of_low_spread_cells_is_reproduced(normals):
    z_ours = normals[0]
    assert calibration.paper_probabilities(1000, 50, 5, 5, 0.0, z_ours)["equivalent"] >= 0.8
    papers = paper_results()
    cv = (papers["return_std"] / papers["return_mean"]).abs()
    tight = papers[(cv <= 0.05) & papers["n_seeds_int"].notna() & papers["comparable"]]
    assert len(tight) == 2  # MBPO: ant at 25k and halfcheetah at 125k (CV 3.4%)
    for r in tight.itertuples():
        m = int(r.n_seeds_int)
        p = calibration.paper_probabilities(r.return_mean, r.return_std, m, m, 0.0, z_ours)
        assert p["equivalent"] >= 0.8, (r.task, r.env_steps, p)


@pytest.mark.parametrize("cv", [0.05, 0.10])
def test_a_30_percent_deficit_is_caught_with_5_seeds(cv, normals):
    z_ours, z_b, _ = normals
    assert calibration.paper_probabilities(1000, cv * 1000, 5, 5, -0.30, z_ours)["lower"] >= 0.8
    assert calibration.compare_probabilities(1000, cv * 1000, 5, -0.30, z_ours, z_b)["lower"] >= 0.8


@pytest.mark.parametrize("cv", [0.10, 0.20, 0.30])
def test_stated_detectable_difference_is_within_20_percent_of_the_simulated(cv, normals):
    z_ours, z_b, _ = normals
    z_small, zb_small = z_ours[:4000], z_b[:4000]
    sd = cv * 1000
    simulated = calibration.simulated_detectable(lambda s: calibration.paper_codes(1000, sd, 5, 5, s, z_small))
    assert calibration.stated_detectable_paper(1000, sd, 5, 5) == pytest.approx(simulated, rel=0.2)
    simulated = calibration.simulated_detectable(lambda s: calibration.compare_codes(1000, sd, 5, s, z_small, zb_small))
    assert calibration.stated_detectable_compare(1000, sd, 5) == pytest.approx(simulated, rel=0.2)


def test_the_band_is_a_t_interval_that_covers_95_percent_at_5_seeds(normals):
    values = 100 + 20 * normals[0][:4000, :5]
    low, high = stats.mean_band(values.T)
    coverage = np.mean((low <= 100) & (100 <= high))
    assert 0.935 <= coverage <= 0.965


def test_claims_use_the_rule_and_the_claim_kind():
    better = verdicts.against_runs(
        np.array([2000.0, 2100, 1900, 2050, 1950]), np.array([1000.0, 1100, 900, 1050, 950]), 0.1
    )
    same = verdicts.against_runs(
        np.array([1000.0, 1001, 999, 1000, 1000]), np.array([1000.0, 1002, 998, 1000, 1000]), 0.1
    )
    vague = verdicts.against_runs(
        np.array([600.0, 1400, 1000, 800, 1200]), np.array([1000.0, 1100, 900, 1050, 950]), 0.1
    )
    few = verdicts.against_runs(np.array([2000.0, 2100]), np.array([1000.0, 1100]), 0.1)
    assert claim_verdict(better, "better", 0.1) == "supported"
    assert claim_verdict(same, "better", 0.1) == "contradicted"  # equivalent within 10%: no improvement that large
    assert claim_verdict(vague, "better", 0.1) == "inconclusive"
    assert claim_verdict(few, "better", 0.1) == "too few seeds"
    assert claim_verdict(same, "competitive", 0.1) == "supported"
    worse = verdicts.against_runs(
        np.array([1000.0, 1100, 900, 1050, 950]), np.array([2000.0, 2100, 1900, 2050, 1950]), 0.1
    )
    assert claim_verdict(worse, "competitive", 0.1) == "contradicted"
    assert claim_verdict(vague, "competitive", 0.1) == "inconclusive"


# ------------------------------------------------------------------------------------------ curve windows
def test_official_window_matches_the_last_five_evaluations():
    curve = official_mbpo_curves()
    curve = curve[curve["task"] == "hopper"]
    found = window.official_window(curve, list(range(1000, 16_000, 1000)), 15_000)
    assert found is not None and found.steps == (11_000, 12_000, 13_000, 14_000, 15_000)
    points = curve[curve["env_steps"].between(11_000, 15_100)]
    assert found.paper_mean == pytest.approx(points["return_mean"].mean())
    assert found.paper_std == pytest.approx(points["return_std"].mean())
    assert window.official_window(curve, [1000, 2000, 3000], 3000) is None  # before the official curve starts


def test_a_run_stopping_between_paper_cells_gets_a_window_verdict(tmp_path):
    root = tmp_path / "results"
    steps = list(range(1000, 16_000, 1000))  # stops at 15k: no paper cell there (25k is the first)
    for seed in range(5):
        make_run(root, "hopper", "mbpo", seed, steps, [s / 15_000 * 420 + 30 * (seed - 2) for s in steps])
    result = build_report(root, tmp_path / "report", formats=("csv", "md"))
    rows = result.returns[result.returns["window"].astype(str).str.len() > 0]
    assert len(rows) == 1
    row = rows.iloc[0]
    assert row["env_step"] == 15_000 and row["window"] == "11,000-15,000 (5 evaluations)"
    expected = np.mean([s / 15_000 * 420 for s in range(11_000, 16_000, 1000)])
    assert row["ours_mean"] == pytest.approx(expected)
    assert row["verdict"] == "consistent" and row["seeds_10"] == math.inf
    point = result.returns[(result.returns["env_step"] == 15_000) & (result.returns["window"] == "")]
    assert point.iloc[0]["verdict"] == "no reference"  # the point itself has no paper number
    assert "window 11,000-15,000" in (tmp_path / "report" / "returns.md").read_text()


def test_window_values_average_each_run_over_the_steps():
    curves = pd.DataFrame(
        {
            "run_dir": ["a"] * 3 + ["b"] * 3,
            "task": "hopper",
            "algorithm": "mbpo",
            "seed": [0] * 3 + [1] * 3,
            "env_step": [1000, 2000, 3000] * 2,
            "eval_return_mean": [1.0, 2.0, 3.0, 10.0, 20.0, 30.0],
        }
    )
    assert window.window_values(curves, (2000, 3000)).tolist() == [2.5, 25.0]
    assert window.evaluation_steps(curves) == [1000, 2000, 3000]
