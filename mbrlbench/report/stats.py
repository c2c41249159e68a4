"""Statistics of the report, on scipy: bootstrap bands, returns at a step, the equivalence verdict,
probability of improvement and normalized-score aggregates with stratified bootstrap CIs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

N_RESAMPLES = 10_000  # rliable's default; the issue-18 floor for claims
MIN_SEEDS_FOR_BAND = 3
MIN_SEEDS_FOR_VERDICT = 5


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)  # fixed: the same data always gives the same report


def mean_band(matrix: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile-bootstrap CI of the mean over seeds (rows), one per column; NaN with < 3 seeds.

    Percentile rather than BCa: BCa is NaN on constant data (e.g. a pendulum pinned at 1000)."""
    n_cols = matrix.shape[1]
    low, high = np.full(n_cols, np.nan), np.full(n_cols, np.nan)
    if matrix.shape[0] < MIN_SEEDS_FOR_BAND or n_cols == 0:
        return low, high
    res = stats.bootstrap(
        (matrix,),
        np.mean,
        axis=0,
        vectorized=True,
        confidence_level=confidence,
        n_resamples=N_RESAMPLES,
        method="percentile",
        rng=_rng(),
    )
    return np.asarray(res.confidence_interval.low), np.asarray(res.confidence_interval.high)


def values_at_step(curves: pd.DataFrame, step: int) -> pd.DataFrame:
    """Each run's evaluation at the largest env_step <= step (NaN evaluations skipped), and whether the run
    got that far."""
    rows = []
    for run_dir, df in curves.groupby("run_dir", sort=False):
        before = df[(df["env_step"] <= step) & df["eval_return_mean"].notna()]
        first = df.iloc[0]
        rows.append(
            {
                "run_dir": run_dir,
                "task": first["task"],
                "algorithm": first["algorithm"],
                "seed": first["seed"],
                "value": float(before.iloc[-1]["eval_return_mean"]) if len(before) else float("nan"),
                "reached": bool(df["env_step"].max() >= step),
            }
        )
    return pd.DataFrame(rows, columns=["run_dir", "task", "algorithm", "seed", "value", "reached"])


def mean_ci(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Student-t CI of the mean of a few seeds (NaN below 2 seeds)."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return math.nan, math.nan
    if np.all(values == values[0]):
        return float(values[0]), float(values[0])
    ci = stats.ttest_1samp(values, 0.0).confidence_interval(confidence)
    return float(ci.low), float(ci.high)


def difference_ci(
    ours: np.ndarray, paper_mean: float, paper_std: float | None, paper_n: int | None, confidence: float = 0.90
) -> tuple[float, float]:
    """CI of mean(ours) - paper: Welch's interval when the paper's spread and seed count are known,
    else the one-sample t interval of ours shifted by the paper's mean."""
    ours = np.asarray(ours, dtype=float)
    n = len(ours)
    if n < 2:
        return math.nan, math.nan
    if paper_std is None or paper_n is None or not math.isfinite(paper_std) or paper_n < 2:
        low, high = mean_ci(ours, confidence)
        return low - paper_mean, high - paper_mean
    var_a, var_b = ours.var(ddof=1) / n, paper_std**2 / paper_n
    se = math.sqrt(var_a + var_b)
    if se == 0:
        d = float(ours.mean() - paper_mean)
        return d, d
    dof = (var_a + var_b) ** 2 / (var_a**2 / (n - 1) + var_b**2 / (paper_n - 1))
    half = stats.t.ppf(0.5 + confidence / 2, dof) * se
    d = float(ours.mean() - paper_mean)
    return d - half, d + half


@dataclass(frozen=True)
class Verdict:
    label: str
    diff_low: float
    diff_high: float


def verdict(
    ours: np.ndarray,
    reached: bool,
    paper_mean: float | None,
    paper_std: float | None = None,
    paper_n: int | None = None,
    comparable: bool = True,
    delta: float = 0.10,
) -> Verdict:
    """The equivalence rule: ``reproduced`` when the 90% CI of (ours - paper) lies within +-delta*|paper|,
    ``below``/``above`` when it lies entirely outside that band, else ``inconclusive``, which is also the
    verdict with fewer than 5 seeds. ``not reached`` / ``not comparable`` / ``no reference`` come first."""
    if paper_mean is None or not math.isfinite(paper_mean):
        return Verdict("no reference", math.nan, math.nan)
    if not comparable:
        return Verdict("not comparable", math.nan, math.nan)
    if not reached or len(ours) == 0:
        return Verdict("not reached", math.nan, math.nan)
    low, high = difference_ci(ours, paper_mean, paper_std, paper_n)
    if len(ours) < MIN_SEEDS_FOR_VERDICT or not math.isfinite(low):
        return Verdict("inconclusive", low, high)
    margin = delta * abs(paper_mean)
    if -margin <= low and high <= margin:
        return Verdict("reproduced", low, high)
    if high < -margin:
        return Verdict("below", low, high)
    if low > margin:
        return Verdict("above", low, high)
    return Verdict("inconclusive", low, high)


def _poi(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    """P(X > Y) + P(X = Y)/2 over every pair of a's and b's values along ``axis`` (batched: the bootstrap
    passes resamples stacked on the leading axes)."""
    a, b = np.moveaxis(np.asarray(a, float), axis, -1), np.moveaxis(np.asarray(b, float), axis, -1)
    greater = (a[..., :, None] > b[..., None, :]).mean(axis=(-2, -1))
    ties = (a[..., :, None] == b[..., None, :]).mean(axis=(-2, -1))
    return greater + 0.5 * ties


def probability_of_improvement(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """P(X > Y) + P(X = Y)/2 for X from a's seeds, Y from b's (the Mann-Whitney U statistic / (n m))."""
    return float(_poi(np.asarray(a, float), np.asarray(b, float)))


def poi_with_ci(a: np.ndarray, b: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    point = probability_of_improvement(a, b)
    if min(len(a), len(b)) < 2:
        return point, math.nan, math.nan
    low, high = _independent_bootstrap((np.asarray(a, float), np.asarray(b, float)), _poi, confidence)
    return point, low, high


def _mean_difference(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(a, axis=axis) - np.mean(b, axis=axis)


def _independent_bootstrap(samples: tuple[np.ndarray, ...], statistic, confidence: float) -> tuple[float, float]:
    """Percentile bootstrap resampling each sample on its own (seeds of one algorithm, or of one task).

    ``statistic(*samples, axis=-1)`` must be vectorized, so that N_RESAMPLES = 10,000 costs milliseconds."""
    res = stats.bootstrap(
        samples,
        statistic,
        paired=False,
        vectorized=True,
        confidence_level=confidence,
        n_resamples=N_RESAMPLES,
        method="percentile",
        rng=_rng(),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def compare_verdict(a: np.ndarray, b: np.ndarray, delta: float) -> tuple[str, float, float]:
    """The rule of ``compare`` and of the report's reference-run column: (verdict, 95% bootstrap CI of
    mean(a) - mean(b)). With >= MIN_SEEDS_FOR_VERDICT seeds on each side, ``equivalent`` when the CI lies
    within +-delta*|mean(b)|, ``worse`` / ``better`` when entirely below / above it, else ``inconclusive``."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if min(len(a), len(b)) < 2:
        return "inconclusive", math.nan, math.nan
    if np.all(a == a[0]) and np.all(b == b[0]):
        low = high = float(a[0] - b[0])
    else:
        low, high = _independent_bootstrap((a, b), _mean_difference, 0.95)
    if min(len(a), len(b)) < MIN_SEEDS_FOR_VERDICT:
        return "inconclusive", low, high
    margin = delta * abs(float(np.mean(b)))
    if -margin <= low and high <= margin:
        return "equivalent", low, high
    if high < -margin:
        return "worse", low, high
    if low > margin:
        return "better", low, high
    return "inconclusive", low, high


def iqm(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Interquartile mean (25% trimmed from each end), rliable's aggregate."""
    return np.asarray(stats.trim_mean(np.asarray(x, dtype=float), 0.25, axis=axis))


def mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(np.asarray(x, dtype=float), axis=axis)


def stratified_ci(groups: Sequence[np.ndarray], statistic, confidence: float = 0.95) -> tuple[float, float, float]:
    """Point estimate and a bootstrap CI resampling seeds within each task (stratified by task), as rliable
    does; ``statistic(x, axis)`` is applied to the pooled runs."""
    groups = [np.asarray(g, dtype=float) for g in groups if len(g)]
    if not groups:
        return math.nan, math.nan, math.nan
    point = float(statistic(np.concatenate(groups), axis=-1))
    if min(len(g) for g in groups) < 2:
        return point, math.nan, math.nan

    def pooled(*resampled: np.ndarray, axis: int = -1) -> np.ndarray:
        return statistic(np.concatenate(resampled, axis=axis), axis=axis)

    low, high = _independent_bootstrap(tuple(groups), pooled, confidence)
    return point, low, high
