"""Curve-window verdicts: runs that stop between the papers' table cells are judged against the official
MBPO curve (``references/mbpo_official.csv``, one point per 1,000-step epoch) over the last evaluations both
have, averaged per seed.

Why a window: one evaluation is a noisy summary of where a run is; the mean over the last ``WIDTH``
evaluations is steadier (``benchmarks/verdict_power.py`` measures by how much, on our runs and on the
official curves), and it gives every stopping step a verdict, not only the papers' cells.

The official curve gives a mean and an across-trial std per point, not the trials, so the std of a trial's
window mean is unknown; we use the mean of the points' stds, its upper bound (the std of a mean is at most
the mean of the stds), so the paper's side is never made to look more certain than it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mbrlbench.report import stats

WIDTH = 5  # evaluations averaged per seed
TOLERANCE = 500  # an official point matches an evaluation within this many env steps (official: k*1000 + ~20)


@dataclass(frozen=True)
class Window:
    steps: tuple[int, ...]  # our evaluation steps, oldest first
    paper_mean: float  # mean of the official means at the matched points
    paper_std: float  # mean of the official stds (an upper bound on the std of a trial's window mean)

    @property
    def label(self) -> str:
        return f"{self.steps[0]:,}-{self.steps[-1]:,} ({len(self.steps)} evaluations)"


def official_window(curve: pd.DataFrame, eval_steps: list[int], until: int, width: int = WIDTH) -> Window | None:
    """The last ``width`` of ``eval_steps`` (<= ``until``) that each have an official point within
    ``TOLERANCE`` steps, with the official mean and std over them; None when fewer than ``width`` match."""
    official = curve.sort_values("env_steps")
    points = official["env_steps"].to_numpy()
    matched: list[tuple[int, int]] = []
    for step in sorted(s for s in eval_steps if s <= until):
        nearest = int(np.argmin(np.abs(points - step))) if len(points) else -1
        if nearest >= 0 and abs(points[nearest] - step) <= TOLERANCE:
            matched.append((step, nearest))
    if len(matched) < width:
        return None
    matched = matched[-width:]
    rows = official.iloc[[i for _, i in matched]]
    return Window(
        steps=tuple(s for s, _ in matched),
        paper_mean=float(rows["return_mean"].mean()),
        paper_std=float(rows["return_std"].mean()),
    )


def window_values(curves: pd.DataFrame, steps: tuple[int, ...]) -> np.ndarray:
    """Each run's mean over ``steps`` of its evaluation at the largest step <= each (runs missing any: dropped)."""
    per_step = [stats.values_at_step(curves, s).set_index("run_dir")["value"] for s in steps]
    table = pd.concat(per_step, axis=1)
    return table.dropna().mean(axis=1).to_numpy()


def evaluation_steps(curves: pd.DataFrame) -> list[int]:
    """The evaluation steps every run of a cell has (a resumed or shorter run may lack some)."""
    have = curves[curves["eval_return_mean"].notna()].groupby("run_dir")["env_step"].apply(set)
    common = set.intersection(*have) if len(have) else set()
    return sorted(int(s) for s in common)
