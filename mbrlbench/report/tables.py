"""Tables: returns at the papers' step counts with verdicts (and curve-window verdicts), normalized scores,
aggregate metrics, sample efficiency and AUC. Their Markdown and LaTeX: ``writers.py``; sweeps: ``sweeps.py``;
claims: ``claims.py``."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mbrlbench.report import stats, verdicts, window
from mbrlbench.report.references import normalization, score
from mbrlbench.report.stats import common_step


def vs_reference_runs(values: np.ndarray, reached: bool, ref: pd.DataFrame | None, step: int, delta: float) -> dict:
    """Ours at ``step`` against the reference runs of the same (task, algorithm) by ``compare``'s rule; the
    verdict is ``no reference runs`` without any and ``reference not reached`` where they stop before ``step``."""
    row: dict = {"ref_seeds": 0, "ref_mean": math.nan}
    if ref is None or ref.empty:
        return {**row, "ref_verdict": "no reference runs"}
    at = stats.values_at_step(ref, step)
    ref_values = at["value"].dropna().to_numpy()
    row.update(ref_seeds=len(ref_values), ref_mean=float(ref_values.mean()) if len(ref_values) else math.nan)
    if not bool(at["reached"].all()) or not len(ref_values):
        return {**row, "ref_verdict": "reference not reached"}
    if not reached or not len(values):
        return {**row, "ref_verdict": "not reached"}
    return {**row, **verdicts.against_runs(values, ref_values, delta).fields("ref_")}


def vs_paper(values: np.ndarray, reached: bool, paper: pd.Series | None, delta: float) -> dict:
    """Ours against the paper's number at this step (a row of paper_results.csv, or None): the verdict, the
    95% CI of the difference, the margin it establishes and its power."""
    std = float(paper["return_std"]) if paper is not None and pd.notna(paper["return_std"]) else None
    n = int(paper["n_seeds_int"]) if paper is not None and pd.notna(paper["n_seeds_int"]) else None
    mean = float(paper["return_mean"]) if paper is not None else None
    comparable = bool(paper["comparable"]) if paper is not None else True
    row = {
        "paper_mean": mean if mean is not None else math.nan,
        "paper_std": std if std is not None else math.nan,
        "paper_seeds": n if n is not None else math.nan,
        "paper_source": paper["source"] if paper is not None else "",
        "paper_confidence": paper["confidence"] if paper is not None else "",
    }
    if mean is None or not math.isfinite(mean):
        return {**row, "verdict": "no reference"}
    if not comparable:
        return {**row, "verdict": "not comparable"}
    if not reached or not len(values):
        return {**row, "verdict": "not reached"}
    return {**row, **verdicts.against_paper(values, verdicts.paper_side(mean, std, n), delta).fields()}


def _ours(task: str, algo: str, group: pd.DataFrame, step: int, values: np.ndarray, reached: bool) -> dict:
    ci_low, ci_high = stats.mean_ci(values, 0.95) if reached else (math.nan, math.nan)
    return {
        "task": task,
        "algorithm": algo,
        "fidelity": group["fidelity"].iloc[0],
        "metric": group["metric"].iloc[0] if "metric" in group else "eval_return_mean",
        "env_step": step,
        "window": "",
        "seeds": len(values),
        "ours_mean": float(values.mean()) if reached and len(values) else math.nan,
        "ours_std": float(values.std(ddof=1)) if reached and len(values) > 1 else math.nan,
        "ours_ci95_low": ci_low,
        "ours_ci95_high": ci_high,
    }


def window_row(
    task: str,
    algo: str,
    group: pd.DataFrame,
    sub: pd.DataFrame,
    official: pd.DataFrame,
    papers: pd.DataFrame,
    delta: float,
) -> dict | None:
    """The curve-window verdict of a cell whose algorithm has an official curve on this task: the mean of
    the last ``window.WIDTH`` evaluations (up to where every run stopped) against the official curve's."""
    curve = official[(official["task"] == task) & (official["algorithm"] == algo)] if len(official) else official
    if curve.empty:
        return None
    final = int(group["last_step"].min())
    found = window.official_window(curve, window.evaluation_steps(sub), final)
    if found is None:
        return None
    values = window.window_values(sub, found.steps)
    seeds = papers.loc[(papers["task"] == task) & (papers["algorithm"] == algo), "n_seeds_int"].dropna()
    n = int(seeds.iloc[0]) if len(seeds) else None
    judgement = verdicts.against_paper(values, verdicts.paper_side(found.paper_mean, found.paper_std, n), delta)
    return {
        **_ours(task, algo, group, final, values, True),
        "window": found.label,
        "paper_mean": found.paper_mean,
        "paper_std": found.paper_std,
        "paper_seeds": n if n is not None else math.nan,
        "paper_source": f"official curve (references/mbpo_official.csv), mean of {len(found.steps)} points",
        "paper_confidence": "high",
        **judgement.fields(),
        "ref_seeds": 0,
        "ref_mean": math.nan,
        "ref_verdict": "–",
    }


def returns_table(
    curves: pd.DataFrame,
    runs: pd.DataFrame,
    papers: pd.DataFrame,
    extra_steps: list[int],
    delta: float,
    ref_curves: pd.DataFrame | None = None,
    official: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per (task, algorithm, step): ours against the paper (``verdict``) and, where reference runs of
    the cell exist (``ref_curves``), against them (``ref_verdict``); plus, where the algorithm has an official
    curve on the task, a curve-window row at the step where the runs stopped."""
    rows = []
    official = official if official is not None else pd.DataFrame()
    for (task, algo), group in runs.groupby(["task", "algorithm"], sort=True):
        sub = curves[(curves["task"] == task) & (curves["algorithm"] == algo)]
        ref_cell = (
            ref_curves[(ref_curves["task"] == task) & (ref_curves["algorithm"] == algo)]
            if ref_curves is not None and len(ref_curves)
            else None
        )
        paper_rows = papers[(papers["task"] == task) & (papers["algorithm"] == algo)]
        final = int(group["last_step"].min())
        steps = sorted({*paper_rows["env_steps"].astype(int), *extra_steps, final})  # final: where runs ended
        for step in steps:
            at = stats.values_at_step(sub, step)
            reached = bool(len(at)) and bool(at["reached"].all())
            values = at["value"].dropna().to_numpy() if reached else np.array([])
            paper = paper_rows[paper_rows["env_steps"] == step]
            ours = _ours(task, algo, group, step, values, reached)
            if not reached:
                ours["seeds"] = int(at["reached"].sum())
            rows.append(
                {
                    **ours,
                    **vs_paper(values, reached, paper.iloc[0] if len(paper) else None, delta),
                    **vs_reference_runs(values, reached, ref_cell, step, delta),
                }
            )
        row = window_row(str(task), str(algo), group, sub, official, papers, delta)
        if row is not None:
            rows.append(row)
    return pd.DataFrame(rows)


def normalized_scores(curves: pd.DataFrame) -> pd.DataFrame:
    """Each run's score at its task's common step (the largest step every run of that task reached)."""
    rows = []
    for task in sorted(curves["task"].unique()):
        norm = normalization(task)
        if norm is None:
            continue
        step = common_step(curves, task, list(curves["algorithm"].unique()))
        if step is None:
            continue
        at = stats.values_at_step(curves[curves["task"] == task], step)
        for _, r in at.dropna(subset=["value"]).iterrows():
            rows.append(
                {
                    "task": task,
                    "algorithm": r["algorithm"],
                    "seed": r["seed"],
                    "env_step": step,
                    "return": r["value"],
                    "score": score(r["value"], norm),
                }
            )
    return pd.DataFrame(rows, columns=["task", "algorithm", "seed", "env_step", "return", "score"])


def aggregate_table(scores: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for algo, sub in scores.groupby("algorithm", sort=True):
        groups = [g["score"].to_numpy() for _, g in sub.groupby("task")]
        iqm, iqm_low, iqm_high = stats.stratified_ci(groups, stats.iqm)
        mean, mean_low, mean_high = stats.stratified_ci(groups, stats.mean)
        rows.append(
            {
                "algorithm": algo,
                "tasks": sub["task"].nunique(),
                "runs": len(sub),
                "iqm": iqm,
                "iqm_low": iqm_low,
                "iqm_high": iqm_high,
                "mean": mean,
                "mean_low": mean_low,
                "mean_high": mean_high,
            }
        )
    return pd.DataFrame(rows)


MAX_CURVE_POINTS = 40  # points of the sample-efficiency curve per algorithm (each one a 10,000-resample bootstrap)


def _score_grid(curves: pd.DataFrame) -> list[int]:
    """Steps of an algorithm's sample-efficiency curve: its evaluation steps up to the smallest, over tasks,
    of the step every run of the task reached (so every task counts at every point), thinned evenly."""
    algorithms = list(curves["algorithm"].unique())
    limit = min(common_step(curves, task, algorithms) or 0 for task in curves["task"].unique())
    steps = np.unique(curves.loc[curves["eval_return_mean"].notna(), "env_step"].astype(int))
    steps = steps[steps <= limit]
    if len(steps) > MAX_CURVE_POINTS:
        steps = steps[np.unique(np.linspace(0, len(steps) - 1, MAX_CURVE_POINTS).round().astype(int))]
    return [int(x) for x in steps]


def sample_efficiency(curves: pd.DataFrame) -> pd.DataFrame:
    """rliable's sample-efficiency curve: per algorithm, the IQM of normalized score over every (task, seed)
    run at each env step, with a 95% bootstrap CI stratified by task (seeds resampled within each task).
    Tasks without a normalization are left out; each run's score at S is its evaluation at the largest step <= S."""
    columns = ["algorithm", "env_step", "tasks", "runs", "iqm", "iqm_low", "iqm_high"]
    norms = {t: normalization(t) for t in curves["task"].unique()} if len(curves) else {}
    scored = curves[curves["task"].map(lambda t: norms.get(t) is not None)] if len(curves) else curves
    rows = []
    for algo, sub in scored.groupby("algorithm", sort=True):
        for step in _score_grid(sub):
            groups = []
            for task, task_curves in sub.groupby("task"):
                values = stats.values_at_step(task_curves, step)["value"].dropna().to_numpy()
                groups.append(score(values, norms[task]))  # type: ignore[arg-type]
            point, low, high = stats.stratified_ci(groups, stats.iqm)
            rows.append([algo, step, len(groups), sum(len(g) for g in groups), point, low, high])
    return pd.DataFrame(rows, columns=columns)


def _mean_over_training(run: pd.DataFrame, until: int) -> float:
    """A run's evaluation returns up to ``until`` averaged over env steps (trapezoid rule over its own
    evaluation steps, divided by their span): the area under its learning curve per step."""
    points = run[(run["env_step"] <= until) & run["eval_return_mean"].notna()].sort_values("env_step")
    x, y = points["env_step"].to_numpy(float), points["eval_return_mean"].to_numpy(float)
    if len(x) == 0:
        return math.nan
    if len(x) == 1 or x[-1] == x[0]:
        return float(y[-1])
    return float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x)) / (x[-1] - x[0]))


def auc_cell(runs: pd.DataFrame, until: int) -> tuple[int, dict[str, float]]:
    """The mean over training up to ``until`` of each run of a cell: the count of runs with a value, and their
    mean over seeds with a 95% Student-t CI (``auc``, ``auc_low``, ``auc_high``)."""
    values = np.array([_mean_over_training(run, until) for _, run in runs.groupby("run_dir")])
    values = values[np.isfinite(values)]
    low, high = stats.mean_band(values[:, None])
    return len(values), {
        "auc": float(values.mean()) if len(values) else math.nan,
        "auc_low": float(low[0]),
        "auc_high": float(high[0]),
    }


def auc_table(curves: pd.DataFrame) -> pd.DataFrame:
    """Area under the learning curve per (task, algorithm), as the mean return over training up to the step
    every run of the task reached (the same span for every algorithm of a task), with a 95% Student-t CI
    over seeds; ``auc_score`` is the same on the normalized scale where the task has one."""
    rows = []
    for task in sorted(curves["task"].unique()):
        until = common_step(curves, task, list(curves["algorithm"].unique()))
        if until is None:
            continue
        norm = normalization(task)
        for algo, sub in curves[curves["task"] == task].groupby("algorithm", sort=True):
            seeds, auc = auc_cell(sub, until)
            rows.append(
                {
                    "task": task,
                    "algorithm": algo,
                    "env_step": until,
                    "seeds": seeds,
                    **auc,
                    "auc_score": score(auc["auc"], norm) if norm else math.nan,
                }
            )
    return pd.DataFrame(
        rows, columns=["task", "algorithm", "env_step", "seeds", "auc", "auc_low", "auc_high", "auc_score"]
    )
