"""The verdicts' operating characteristics, measured by simulation: how often each rule says what, when the
truth is known. ``benchmarks/verdict_power.py`` prints them for every paper cell; the tests hold the rules
to their contract with them.

Returns are drawn normal with a cell's mean and std. Two set-ups:

- **paper**: our ``n`` seeds against a published mean, std and seed count; the published mean is the truth
  (``paper_drawn=False``, as "a faithful reproduction draws from the paper's own mean and std"), or is itself
  drawn from its ``m`` seeds (``paper_drawn=True``: the paper's mean is an estimate too);
- **compare**: two result sets of ``n`` seeds each.

A shift is a fraction of the reference mean added to our side's mean (-0.3: a 30% deficit), std unchanged.
"""

from __future__ import annotations

import numpy as np

from mbrlbench.report import verdicts

LABELS = ("equivalent", "lower", "higher", "consistent", "too few")


def _probabilities(codes: np.ndarray) -> dict[str, float]:
    return {name: float(np.mean(codes == code)) for code, name in enumerate(LABELS)}


def paper_outcomes(
    mean: float,
    sd: float,
    m: int,
    n: int,
    shift: float,
    z_ours: np.ndarray,
    delta: float = 0.10,
    z_paper: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """``verdicts.classify``'s arrays (codes, 95% CI, margin) of ``len(z_ours)`` simulated reproductions
    (``z_ours``: standard normals, draws x n; ``z_paper``: draws x m when the paper's mean and std are drawn
    too)."""
    ours = mean * (1 + shift) + sd * z_ours[:, :n]
    paper_mean, paper_sd = np.full(len(ours), mean), np.full(len(ours), sd)
    if z_paper is not None:
        paper = mean + sd * z_paper[:, :m]
        paper_mean, paper_sd = paper.mean(axis=1), paper.std(axis=1, ddof=1)
    se, dof = verdicts.welch(ours.std(axis=1, ddof=1), n, paper_sd, m)
    return verdicts.classify(ours.mean(axis=1) - paper_mean, se, dof, paper_mean, delta, n >= verdicts.MIN_SEEDS)


def paper_codes(mean, sd, m, n, shift, z_ours, delta=0.10, z_paper=None) -> np.ndarray:
    """Verdict codes of simulated reproductions (see ``paper_outcomes``)."""
    return paper_outcomes(mean, sd, m, n, shift, z_ours, delta, z_paper)["code"]


def compare_codes(mean: float, sd: float, n: int, shift: float, z_a: np.ndarray, z_b: np.ndarray, delta: float = 0.10):
    """Verdict codes of simulated comparisons: A of ``n`` seeds with its mean shifted, against B of ``n``."""
    a = mean * (1 + shift) + sd * z_a[:, :n]
    b = mean + sd * z_b[:, :n]
    se, dof = verdicts.welch(a.std(axis=1, ddof=1), n, b.std(axis=1, ddof=1), n)
    b_mean = b.mean(axis=1)
    return verdicts.classify(a.mean(axis=1) - b_mean, se, dof, b_mean, delta, n >= verdicts.MIN_SEEDS)["code"]


def paper_probabilities(mean, sd, m, n, shift, z_ours, delta=0.10, z_paper=None) -> dict[str, float]:
    return _probabilities(paper_codes(mean, sd, m, n, shift, z_ours, delta, z_paper))


def compare_probabilities(mean, sd, n, shift, z_a, z_b, delta=0.10) -> dict[str, float]:
    return _probabilities(compare_codes(mean, sd, n, shift, z_a, z_b, delta))


def simulated_detectable(codes_at, power: float = verdicts.POWER, step: float = 0.0025, limit: float = 3.0) -> float:
    """The smallest deficit (a fraction of the mean) that ``codes_at(shift)`` calls lower with ``power``,
    scanned in steps of ``step`` and interpolated; NaN when none up to ``limit``."""
    previous_f, previous_p = 0.0, float(np.mean(codes_at(0.0) == verdicts.LOWER))
    f = step
    while f <= limit:
        p = float(np.mean(codes_at(-f) == verdicts.LOWER))
        if p >= power:
            return previous_f + (f - previous_f) * (power - previous_p) / max(p - previous_p, 1e-12)
        previous_f, previous_p = f, p
        f += step if f < 0.5 else 4 * step
    return float("nan")


def stated_detectable_paper(mean: float, sd: float, m: int, n: int) -> float:
    """The detectable difference the report states for a cell, as a fraction of its mean, when our seeds
    spread as the paper's (the spread the tool would estimate, on average)."""
    se, dof = verdicts.welch(sd, n, sd, m)
    return float(verdicts.detectable(se, dof)) / abs(mean)


def stated_detectable_compare(mean: float, sd: float, n: int) -> float:
    se, dof = verdicts.welch(sd, n, sd, n)
    return float(verdicts.detectable(se, dof)) / abs(mean)
