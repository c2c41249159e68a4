"""What the verdicts can resolve, measured by simulation (issue 27).

    python benchmarks/verdict_power.py [--draws 2000] [--runs results/reference /work/campaign/reference_hopper]

Prints, for the rules in ``mbrlbench/report/verdicts.py`` and, beside them, the rules they replaced:

1. every paper cell of ``paper_results.csv`` with a known std and seed count: the probability that a faithful
   reproduction (the paper's seed count, drawn from its mean and std) is ``reproduced`` / ``consistent`` /
   a false ``below``/``above``, the median margin it establishes (``consistent, within ±margin``), that a
   20/30/50% deficit is ``below``; the stated and the simulated detectable difference; the seeds that would
   resolve ±10% / ±25%;
2. the same for cells of CV 5/10/20/30/50% (mean 1,000, 5 vs 5 seeds), for the paper rule and for ``compare``;
3. the real coverage at 5 seeds of each interval the report uses or used (normal returns);
4. how much a window of the last 5 evaluations narrows the spread against a single point: on the official
   MBPO curves (estimated from their roughness) and on our runs (measured across seeds).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

from mbrlbench.report import calibration, verdicts, window
from mbrlbench.report.references import official_mbpo_curves, paper_results

CVS = (0.05, 0.10, 0.20, 0.30, 0.50)
DEFICITS = (0.20, 0.30, 0.50)
DELTA = 0.10


# ------------------------------------------------------------------------------ the rules replaced (af63408)
def legacy_paper_codes(mean, sd, m, n, shift, z, delta=DELTA):
    """The old paper rule: 90% Welch CI of d inside ±delta -> reproduced; entirely below/above that band ->
    below/above; else inconclusive (also below 5 seeds). Codes as ``verdicts`` (CONSISTENT = inconclusive)."""
    ours = mean * (1 + shift) + sd * z[:, :n]
    se, dof = verdicts.welch(ours.std(axis=1, ddof=1), n, sd, m)
    d = ours.mean(axis=1) - mean
    half = sps.t.ppf(0.95, dof) * se
    low, high, margin = d - half, d + half, delta * abs(mean)
    return np.select(
        [np.full(len(d), n < 5), (low >= -margin) & (high <= margin), high < -margin, low > margin],
        [verdicts.TOO_FEW, verdicts.EQUIVALENT, verdicts.LOWER, verdicts.HIGHER],
        verdicts.CONSISTENT,
    )


def legacy_compare_codes(mean, sd, n, shift, z_a, z_b, rng, delta=DELTA, resamples=1000):
    """The old compare rule: the 95% percentile-bootstrap CI of mean(A) - mean(B) against ±delta·|mean(B)|."""
    a = mean * (1 + shift) + sd * z_a[:, :n]
    b = mean + sd * z_b[:, :n]
    idx_a = rng.integers(0, n, (len(a), resamples, n))
    idx_b = rng.integers(0, n, (len(b), resamples, n))
    boot = np.take_along_axis(a[:, None, :], idx_a, 2).mean(2) - np.take_along_axis(b[:, None, :], idx_b, 2).mean(2)
    low, high = np.percentile(boot, 2.5, axis=1), np.percentile(boot, 97.5, axis=1)
    margin = delta * np.abs(b.mean(axis=1))
    return np.select(
        [(low >= -margin) & (high <= margin), high < -margin, low > margin],
        [verdicts.EQUIVALENT, verdicts.LOWER, verdicts.HIGHER],
        verdicts.CONSISTENT,
    )


def rate(codes, *which) -> float:
    return float(np.mean(np.isin(codes, which)))


# ------------------------------------------------------------------------------ 1. paper cells
def paper_cells(z: np.ndarray, draws_detect: int) -> pd.DataFrame:
    papers = paper_results()
    cells = papers[papers["return_std"].notna() & papers["n_seeds_int"].notna() & papers["comparable"]]
    rows = []
    for r in cells.itertuples():
        mean, sd, m = float(r.return_mean), float(r.return_std), int(r.n_seeds_int)

        def codes(shift: float, mean=mean, sd=sd, m=m, zz=z) -> np.ndarray:
            return calibration.paper_codes(mean, sd, m, m, shift, zz)

        outcomes = calibration.paper_outcomes(mean, sd, m, m, 0.0, z)
        faithful = outcomes["code"]
        simulated = calibration.simulated_detectable(
            lambda s, mean=mean, sd=sd, m=m: calibration.paper_codes(mean, sd, m, m, s, z[:draws_detect])
        )
        legacy = legacy_paper_codes(mean, sd, m, m, 0.0, z)
        rows.append(
            {
                "cell": f"{r.algorithm} {r.task} {int(r.env_steps) // 1000}k",
                "cv": sd / abs(mean),
                "m": m,
                "reproduced": rate(faithful, verdicts.EQUIVALENT),
                "consistent": rate(faithful, verdicts.CONSISTENT),
                "margin": float(np.median(outcomes["margin"])) / abs(mean),
                "false_alarm": rate(faithful, verdicts.LOWER, verdicts.HIGHER),
                **{f"below_{int(f * 100)}": rate(codes(-f), verdicts.LOWER) for f in DEFICITS},
                "detect_stated": calibration.stated_detectable_paper(mean, sd, m, m),
                "detect_simulated": simulated,
                "seeds_10": verdicts.seeds_needed(sd, sd, m, 0.10 * abs(mean), both_sides=False),
                "seeds_25": verdicts.seeds_needed(sd, sd, m, 0.25 * abs(mean), both_sides=False),
                "old_reproduced": rate(legacy, verdicts.EQUIVALENT),
                "old_below_30": rate(legacy_paper_codes(mean, sd, m, m, -0.30, z), verdicts.LOWER),
            }
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ 2. CV grid
def cv_grid(z_a: np.ndarray, z_b: np.ndarray, z_paper: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    old_draws = min(len(z_a), 1000)
    for cv in CVS:
        sd = 1000 * cv
        paper = {f: calibration.paper_codes(1000, sd, 5, 5, -f, z_a) for f in (0.0, *DEFICITS)}
        drawn = calibration.paper_codes(1000, sd, 5, 5, 0.0, z_a, z_paper=z_paper)
        comp = {f: calibration.compare_codes(1000, sd, 5, -f, z_a, z_b) for f in (0.0, *DEFICITS)}
        old_p = {f: legacy_paper_codes(1000, sd, 5, 5, -f, z_a) for f in (0.0, 0.30)}
        old_c = {f: legacy_compare_codes(1000, sd, 5, -f, z_a[:old_draws], z_b[:old_draws], rng) for f in (0.0, 0.30)}
        rows.append(
            {
                "cv": cv,
                "paper_reproduced": rate(paper[0.0], verdicts.EQUIVALENT),
                "paper_consistent": rate(paper[0.0], verdicts.CONSISTENT),
                "paper_false_alarm": rate(paper[0.0], verdicts.LOWER, verdicts.HIGHER),
                "paper_false_alarm_drawn": rate(drawn, verdicts.LOWER, verdicts.HIGHER),
                **{f"paper_below_{int(f * 100)}": rate(paper[f], verdicts.LOWER) for f in DEFICITS},
                "paper_detect": calibration.stated_detectable_paper(1000, sd, 5, 5),
                "cmp_equivalent": rate(comp[0.0], verdicts.EQUIVALENT),
                "cmp_false_worse": rate(comp[0.0], verdicts.LOWER),
                "cmp_false_any": rate(comp[0.0], verdicts.LOWER, verdicts.HIGHER),
                **{f"cmp_worse_{int(f * 100)}": rate(comp[f], verdicts.LOWER) for f in DEFICITS},
                "cmp_detect": calibration.stated_detectable_compare(1000, sd, 5),
                "cmp_seeds_10": verdicts.seeds_needed(sd, sd, math.nan, 100.0, both_sides=True),
                "cmp_seeds_25": verdicts.seeds_needed(sd, sd, math.nan, 250.0, both_sides=True),
                "old_paper_reproduced": rate(old_p[0.0], verdicts.EQUIVALENT),
                "old_paper_below_30": rate(old_p[0.30], verdicts.LOWER),
                "old_cmp_equivalent": rate(old_c[0.0], verdicts.EQUIVALENT),
                "old_cmp_false_worse": rate(old_c[0.0], verdicts.LOWER),
                "old_cmp_worse_30": rate(old_c[0.30], verdicts.LOWER),
            }
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ 3. coverage
def coverage(z_a: np.ndarray, z_b: np.ndarray, rng: np.random.Generator, n: int = 5, resamples: int = 1000) -> dict:
    draws = min(len(z_a), 2000)
    a, b = 100 + 20 * z_a[:draws, :n], 110 + 20 * z_b[:draws, :n]  # true mean 100; true difference -10
    t = sps.t.ppf(0.975, n - 1) * a.std(axis=1, ddof=1) / math.sqrt(n)
    idx = rng.integers(0, n, (draws, resamples, n))
    boot_a = np.take_along_axis(a[:, None, :], idx, 2)
    boot_b = np.take_along_axis(b[:, None, :], rng.integers(0, n, (draws, resamples, n)), 2)
    boot_mean = boot_a.mean(2)
    boot_diff = boot_mean - boot_b.mean(2)
    se, dof = verdicts.welch(a.std(axis=1, ddof=1), n, b.std(axis=1, ddof=1), n)
    d = a.mean(1) - b.mean(1)
    half = sps.t.ppf(0.975, dof) * se
    true_poi = sps.norm.cdf(-10 / (20 * math.sqrt(2)))
    greater = (boot_a[:, :, :, None] > boot_b[:, :, None, :]).mean(axis=(2, 3))
    poi_low, poi_high = np.percentile(greater, 2.5, axis=1), np.percentile(greater, 97.5, axis=1)

    def inside(low, high, truth):
        return float(np.mean((low <= truth) & (truth <= high)))

    return {
        "Student t CI of the mean (report bands, ours' CI)": inside(a.mean(1) - t, a.mean(1) + t, 100),
        "percentile bootstrap CI of the mean (the old bands)": inside(
            np.percentile(boot_mean, 2.5, 1), np.percentile(boot_mean, 97.5, 1), 100
        ),
        "Welch CI of a difference (verdicts)": inside(d - half, d + half, -10),
        "percentile bootstrap CI of a difference (the old compare)": inside(
            np.percentile(boot_diff, 2.5, 1), np.percentile(boot_diff, 97.5, 1), -10
        ),
        "percentile bootstrap CI of P(A > B) (claims' effect size)": inside(poi_low, poi_high, true_poi),
    }


# ------------------------------------------------------------------------------ 4. windows
def official_window_effect(width: int = window.WIDTH) -> pd.DataFrame:
    """Per task: the official curve's median across-trial std and an estimate of the part of it that is
    independent from point to point (from the mean curve's second differences: a mean over 5 trials of
    independent noise s gives var(second difference) = 6 s^2 / 5 where the trend is smooth), and the std of
    a window mean that follows: sqrt(std^2 - s^2 (1 - 1/width))."""
    rows = []
    for task, curve in official_mbpo_curves().groupby("task"):
        curve = curve.sort_values("env_steps")
        point_noise = math.sqrt(5 * np.var(np.diff(curve["return_mean"].to_numpy(), 2)) / 6)
        std = float(curve["return_std"].median())
        win = math.sqrt(max(std**2 - point_noise**2 * (1 - 1 / width), 0.0))
        rows.append({"task": task, "median std": std, "point noise": point_noise, "window/point": win / std})
    return pd.DataFrame(rows)


def our_window_effect(paths: list[Path], width: int = window.WIDTH) -> pd.DataFrame:
    """Per (task, algorithm) with >= 3 seeds: std across seeds of the last common evaluation against the std
    of each seed's mean over the last ``width`` common evaluations."""
    from mbrlbench.report.load import load_runs

    rows = []
    for path in paths:
        if not path.is_dir():
            continue
        curves = load_runs(path).curves
        for (task, algo), cell in curves.groupby(["task", "algorithm"]):
            steps = window.evaluation_steps(cell)
            if cell["run_dir"].nunique() < 3 or len(steps) < width:
                continue
            last = tuple(steps[-width:])
            point = window.window_values(cell, last[-1:])
            win = window.window_values(cell, last)
            if point.std(ddof=1) == 0:
                continue
            rows.append(
                {
                    "task": task,
                    "algorithm": algo,
                    "seeds": len(point),
                    "window": f"{last[0]:,}-{last[-1]:,}",
                    "point std": float(point.std(ddof=1)),
                    "window std": float(win.std(ddof=1)),
                    "window/point": float(win.std(ddof=1) / point.std(ddof=1)),
                }
            )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=2000, help="Simulated experiments per probability.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=Path, nargs="*", default=[Path("results/reference")])
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    z_a, z_b, z_p = (rng.standard_normal((args.draws, 10)) for _ in range(3))
    pd.set_option("display.width", 250, "display.max_columns", 40, "display.max_rows", 200)
    fmt = {"float_format": lambda x: f"{x:.2f}"}

    cells = paper_cells(z_a, min(args.draws, 1000))
    print(f"## 1. Paper verdict on every cell with a known std and seed count ({len(cells)} cells, {args.draws} draws)")
    print(cells.to_string(index=False, **fmt))
    for name, col in (("new rule", "reproduced"), ("old rule", "old_reproduced")):
        print(
            f"{name}: P(reproduced | faithful) >= 0.8 in {int((cells[col] >= 0.8).sum())} of {len(cells)} cells; "
            f"median {cells[col].median():.2f}"
        )
    ratio = cells["detect_stated"] / cells["detect_simulated"]
    print(f"stated / simulated detectable difference: {ratio.min():.2f} to {ratio.max():.2f}")
    print(f"\n## 2. Cells of a given CV (mean 1,000; 5 vs 5 seeds; delta = {DELTA:.0%})")
    grid = cv_grid(z_a, z_b, z_p, rng)
    print("paper rule (new | old):")
    print(
        grid[
            ["cv", *[c for c in grid if c.startswith("paper_")], "old_paper_reproduced", "old_paper_below_30"]
        ].to_string(index=False, **fmt)
    )
    print("compare rule (new | old):")
    print(
        grid[
            [
                "cv",
                *[c for c in grid if c.startswith("cmp_")],
                "old_cmp_equivalent",
                "old_cmp_false_worse",
                "old_cmp_worse_30",
            ]
        ].to_string(index=False, **fmt)
    )
    print("\n## 3. Real coverage of nominal 95% intervals at 5 seeds (normal returns)")
    for name, value in coverage(z_a, z_b, rng).items():
        print(f"  {value:.3f}  {name}")
    print(f"\n## 4. A window of the last {window.WIDTH} evaluations against one point")
    print("official MBPO curves (trials not published: estimated from the mean curve's roughness):")
    print(official_window_effect().to_string(index=False, **fmt))
    ours = our_window_effect(args.runs)
    print(f"our runs ({', '.join(str(p) for p in args.runs)}):")
    print(ours.to_string(index=False, **fmt) if len(ours) else "  no cell with >= 3 seeds and a spread")


if __name__ == "__main__":
    main()
