"""Verdicts whose operating characteristics are known: one rule for ours against a paper, one result set
against another (``compare``, the report's reference-run column) and the papers' claims.

The rule is Welch's unequal-variance t (Colas, Sigaud & Oudeyer 2018 recommend it over the bootstrap at
few seeds; the percentile bootstrap of a mean covers ~85%, not 95%, at 5 seeds: benchmarks/verdict_power.py)
with an equivalence test beside it (TOST: Schuirmann 1987; Lakens 2017). With d = mean(ours) - mean(ref):

1. ``too few seeds`` below ``MIN_SEEDS`` on a side that has seeds;
2. the 90% CI of d within ±delta·|mean(ref)| (two one-sided tests at 5%): ``reproduced`` / ``equivalent``;
3. else the 95% CI of d excludes 0 (a two-sided test at 5%): ``below``/``above`` or ``worse``/``better``;
4. else ``consistent``, with the margin the data do establish: the 90% CI lies within ±margin.

A false ``below``/``above`` (or ``worse``/``better``) between two sides drawn from one distribution is at most
5% (2.5% each way); whether a real difference is caught depends on the seeds and the spread, so every verdict
carries its power: the smallest |d| that step 3 catches with 80% probability at these seeds and spreads, and
the seeds that would resolve ±10% and ±25% (both: a difference that large caught, and no difference shown
equivalent within it, each with 80% probability).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

MIN_SEEDS = 3  # a spread from 2 seeds has one degree of freedom: intervals of +-12.7 standard errors
ALPHA = 0.05  # each test's level: the difference test two-sided, the equivalence test as two one-sided tests
POWER = 0.80
RESOLVE = (0.10, 0.25)  # the margins whose seed counts every verdict states
MAX_SEEDS = 10_000  # seed counts are searched up to here; more is stated as "> 10,000"

# The words of each use: (equivalent, lower, higher, consistent, too few)
PAPER_WORDS = ("reproduced", "below", "above", "consistent", "too few seeds")
COMPARE_WORDS = ("equivalent", "worse", "better", "consistent", "too few seeds")
EQUIVALENT, LOWER, HIGHER, CONSISTENT, TOO_FEW = range(5)


@dataclass(frozen=True)
class Side:
    """One side of a comparison: its mean, spread (sample std) and seed count. ``n = inf`` (with ``sd = 0``)
    is a reference taken as exact: a paper number whose spread or seed count is unknown."""

    mean: float
    sd: float
    n: float

    @classmethod
    def of(cls, values: np.ndarray) -> Side:
        values = np.asarray(values, dtype=float)
        sd = float(values.std(ddof=1)) if len(values) > 1 else math.nan
        return cls(float(values.mean()) if len(values) else math.nan, sd, float(len(values)))

    @classmethod
    def exact(cls, mean: float) -> Side:
        return cls(float(mean), 0.0, math.inf)


def welch(sd_a, n_a, sd_b, n_b) -> tuple[np.ndarray, np.ndarray]:
    """Standard error of mean(a) - mean(b) and its Welch-Satterthwaite degrees of freedom (arrays broadcast);
    a side with ``n = inf`` adds nothing. A zero standard error has infinite degrees of freedom."""
    sd_a, n_a, sd_b, n_b = (np.asarray(x, dtype=float) for x in (sd_a, n_a, sd_b, n_b))
    exact_b = np.isinf(n_b)
    var_a = sd_a**2 / n_a
    var_b = np.where(exact_b, 0.0, sd_b**2 / np.where(exact_b, 1.0, n_b))
    denom = var_a**2 / (n_a - 1) + np.where(exact_b, 0.0, var_b**2 / np.where(exact_b, 2.0, n_b - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        dof = np.where(denom > 0, (var_a + var_b) ** 2 / np.where(denom > 0, denom, 1.0), np.inf)
    return np.sqrt(var_a + var_b), dof


def classify(diff, se, dof, scale, delta: float, enough) -> dict[str, np.ndarray]:
    """The rule on arrays (the calibration harness draws thousands at once): codes, the 95% CI of d and the
    margin the 90% CI establishes (its largest |bound|)."""
    diff, se, dof, scale = (np.asarray(x, dtype=float) for x in (diff, se, dof, scale))
    t95, t90 = stats.t.ppf(1 - ALPHA / 2, dof), stats.t.ppf(1 - ALPHA, dof)
    margin = np.abs(diff) + t90 * se
    low, high = diff - t95 * se, diff + t95 * se
    code = np.select(
        [~np.asarray(enough, bool), margin <= delta * np.abs(scale), high < 0, low > 0],
        [TOO_FEW, EQUIVALENT, LOWER, HIGHER],
        CONSISTENT,
    )
    return {"code": code, "low": low, "high": high, "margin": margin}


def detectable(se, dof) -> np.ndarray:
    """The smallest |d| the two-sided 5% test catches with 80% probability: (t_.975 + t_.80) standard errors."""
    return (stats.t.ppf(1 - ALPHA / 2, dof) + stats.t.ppf(POWER, dof)) * np.asarray(se, dtype=float)


def seeds_needed(sd_a: float, sd_b: float, n_b: float, target: float, both_sides: bool) -> float:
    """Seeds on our side (on each side when ``both_sides``) for which a difference of ``target`` is caught,
    and no difference shown equivalent within ±target, each with 80% probability, at these spreads.
    ``inf`` when no count reaches it (the reference's own seeds leave more uncertainty than ``target``),
    ``MAX_SEEDS + 1`` when more than ``MAX_SEEDS`` would be needed."""
    if not (math.isfinite(sd_a) and math.isfinite(target)) or target <= 0:
        return math.nan
    n = np.arange(MIN_SEEDS, MAX_SEEDS + 1, dtype=float)
    se, dof = welch(sd_a, n, sd_b, n if both_sides else n_b)
    k = np.maximum(
        stats.t.ppf(1 - ALPHA / 2, dof) + stats.t.ppf(POWER, dof),  # catch a difference of target
        stats.t.ppf(1 - ALPHA, dof) + stats.t.ppf(1 - (1 - POWER) / 2, dof),  # TOST at d = 0
    )
    ok = np.flatnonzero(k * se <= target)
    if len(ok):
        return float(n[ok[0]])
    if not both_sides and math.isfinite(n_b):  # as our seeds grow, only the reference's uncertainty is left
        floor_dof = n_b - 1
        k_limit = max(
            stats.t.ppf(1 - ALPHA / 2, floor_dof) + stats.t.ppf(POWER, floor_dof),
            stats.t.ppf(1 - ALPHA, floor_dof) + stats.t.ppf(1 - (1 - POWER) / 2, floor_dof),
        )
        if k_limit * sd_b / math.sqrt(n_b) > target:
            return math.inf
    return float(MAX_SEEDS + 1)


@dataclass(frozen=True)
class Judgement:
    """A verdict with what it can resolve. Absolute figures are in return units; ``*_pct`` divide by the
    reference's |mean| (the scale of delta)."""

    label: str
    diff: float = math.nan
    low: float = math.nan  # 95% CI of d
    high: float = math.nan
    margin: float = math.nan  # the 90% CI of d lies within +-margin
    detectable: float = math.nan  # |d| caught with 80% probability at these seeds
    seeds_10: float = math.nan  # seeds to resolve +-10% (see seeds_needed); inf: unreachable
    seeds_25: float = math.nan
    scale: float = math.nan

    def pct(self, value: float) -> float:
        return 100 * value / abs(self.scale) if self.scale and math.isfinite(self.scale) else math.nan

    @property
    def low90(self) -> float:
        """The lower bound of the 90% CI of d (a one-sided 95% bound: non-inferiority)."""
        return self.diff - (self.margin - abs(self.diff))

    @property
    def margin_pct(self) -> float:
        return self.pct(self.margin)

    @property
    def detectable_pct(self) -> float:
        return self.pct(self.detectable)

    def text(self) -> str:
        """``consistent, within ±23%``; ``below, by 15% to 48%``; the label alone where no figure applies."""
        if not math.isfinite(self.margin_pct):
            return self.label
        if self.label in (PAPER_WORDS[LOWER], COMPARE_WORDS[LOWER]):
            return f"{self.label}, by {-self.pct(self.high):.0f}% to {-self.pct(self.low):.0f}%"
        if self.label in (PAPER_WORDS[HIGHER], COMPARE_WORDS[HIGHER]):
            return f"{self.label}, by {self.pct(self.low):.0f}% to {self.pct(self.high):.0f}%"
        return f"{self.label}, within ±{self.margin_pct:.0f}%"

    def fields(self, prefix: str = "") -> dict[str, float | str]:
        """The judgement as table columns (``prefix`` tells the paper's from the reference runs')."""
        return {
            f"{prefix}verdict": self.label,
            f"{prefix}verdict_text": self.text(),
            f"{prefix}diff": self.diff,
            f"{prefix}diff_low": self.low,
            f"{prefix}diff_high": self.high,
            f"{prefix}margin_pct": self.margin_pct,
            f"{prefix}detectable": self.detectable,
            f"{prefix}detectable_pct": self.detectable_pct,
            f"{prefix}seeds_10": self.seeds_10,
            f"{prefix}seeds_25": self.seeds_25,
        }


def judge(ours: Side, ref: Side, delta: float, words: tuple[str, ...], both_sides: bool) -> Judgement:
    """The rule on one cell. ``both_sides``: the seed counts needed are per side (two result sets); else
    ours only (the reference is a paper with its seeds fixed)."""
    if ours.n < MIN_SEEDS or (math.isfinite(ref.n) and ref.n < MIN_SEEDS):
        return Judgement(words[TOO_FEW], diff=ours.mean - ref.mean, scale=ref.mean)
    se, dof = welch(ours.sd, ours.n, ref.sd, ref.n)
    diff = ours.mean - ref.mean
    out = classify(diff, se, dof, ref.mean, delta, True)
    scale = abs(ref.mean)
    return Judgement(
        label=words[int(out["code"])],
        diff=diff,
        low=float(out["low"]),
        high=float(out["high"]),
        margin=float(out["margin"]),
        detectable=float(detectable(se, dof)),
        seeds_10=seeds_needed(ours.sd, ref.sd, ref.n, RESOLVE[0] * scale, both_sides),
        seeds_25=seeds_needed(ours.sd, ref.sd, ref.n, RESOLVE[1] * scale, both_sides),
        scale=ref.mean,
    )


def paper_side(mean: float, std: float | None, n: int | None) -> Side:
    """A paper's number as a side: its mean, std and seed count where all are known, else exact."""
    if std is None or n is None or not math.isfinite(std) or n < 2:
        return Side.exact(mean)
    return Side(float(mean), float(std), float(n))


def against_paper(ours: np.ndarray, paper: Side, delta: float) -> Judgement:
    return judge(Side.of(ours), paper, delta, PAPER_WORDS, both_sides=False)


def against_runs(a: np.ndarray, b: np.ndarray, delta: float) -> Judgement:
    return judge(Side.of(a), Side.of(b), delta, COMPARE_WORDS, both_sides=True)


def seeds_text(n: float) -> str:
    if not math.isfinite(n):
        return "–" if math.isnan(n) else "unreachable"
    return f"> {MAX_SEEDS:,}" if n > MAX_SEEDS else f"{int(n):,}"
