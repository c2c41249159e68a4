"""Tables: returns at the papers' step counts with verdicts (and curve-window verdicts), aggregate metrics;
and writers for Markdown, CSV and LaTeX (booktabs). Claims: ``claims.py``."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mbrlbench.algorithms.catalog import metric_note as catalog_metric_note
from mbrlbench.report import stats, verdicts, window
from mbrlbench.report.format import fmt, pct
from mbrlbench.report.references import normalization, score
from mbrlbench.report.stats import common_step
from mbrlbench.report.verdicts import seeds_text


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


def _auc_cell(runs: pd.DataFrame, until: int) -> tuple[int, dict[str, float]]:
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
            seeds, auc = _auc_cell(sub, until)
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


def split_sweep_name(run_name: str) -> tuple[str, dict[str, str]] | None:
    """``mbpo@ensemble_size=3,num_elites=2`` -> ``("mbpo", {"ensemble_size": "3", "num_elites": "2"})``: the
    swept entry and its keys with their rendered values (the inverse of ``suite.sweep_name``, whose rendered
    values never hold ``,`` or ``=``); None for a run that is not a sweep point."""
    source, at, point = run_name.partition("@")
    if not at or not source or not point:
        return None
    pairs = [piece.partition("=") for piece in point.split(",")]
    if any(not key or not eq for key, eq, _ in pairs):
        return None
    return source, {key: value for key, _, value in pairs}


def sweep_table(curves: pd.DataFrame, configs: dict[str, dict]) -> pd.DataFrame:
    """One row per sweep point and task, its swept hyperparameters as columns (the values config.yaml
    recorded, not the folder name's rendering): the return at the step every run of the sweep on that task
    reached and the mean return over training up to it, each with its 95% CI over seeds (Student t / the
    bootstrap band, as the returns and AUC tables). ``best`` marks the point with the highest final mean."""
    if curves.empty:
        return pd.DataFrame()
    points_of: dict[tuple[str, str], dict[str, dict[str, str]]] = {}  # (task, entry) -> run name -> rendered
    for task in sorted(curves["task"].unique()):
        for algo in sorted(curves.loc[curves["task"] == task, "algorithm"].unique()):
            parsed = split_sweep_name(str(algo))
            if parsed is not None:
                points_of.setdefault((task, parsed[0]), {})[algo] = parsed[1]
    rows: list[dict] = []
    for (task, source), points in points_of.items():
        until = common_step(curves, task, list(points))
        if until is None:
            continue
        cell_rows = []
        for algo, rendered in points.items():
            sub = curves[(curves["task"] == task) & (curves["algorithm"] == algo)]
            hyper = configs.get(str(sub["run_dir"].iloc[0]), {}).get("hyperparameters", {})
            final = stats.values_at_step(sub, until)["value"].dropna().to_numpy()
            low, high = stats.mean_ci(final)
            _, auc = _auc_cell(sub, until)
            cell_rows.append(
                {
                    "task": task,
                    "sweep": source,
                    "algorithm": algo,
                    **{f"hp/{k}": _cell_value(hyper.get(k, v)) for k, v in rendered.items()},
                    "env_step": until,
                    "seeds": len(final),
                    "final_mean": float(final.mean()) if len(final) else math.nan,
                    "final_low": low,
                    "final_high": high,
                    **auc,
                }
            )
        hp = [k for k in cell_rows[0] if k.startswith("hp/")]
        try:  # the points in the order of their swept values (numeric where numeric), for table and figure
            cell_rows.sort(key=lambda row: tuple(row.get(k) for k in hp))
        except TypeError:  # values of mixed kinds: keep the suite's order
            pass
        means = np.array([row["final_mean"] for row in cell_rows], dtype=float)
        best = int(np.argmax(np.where(np.isnan(means), -np.inf, means)))
        for i, row in enumerate(cell_rows):
            row["best"] = i == best and bool(np.isfinite(means[i]))
        rows += cell_rows
    return pd.DataFrame(rows)


def swept_columns(cell: pd.DataFrame) -> list[str]:
    """The ``hp/...`` columns of one sweep's rows (sweep_table's frame holds every sweep's keys)."""
    return [c for c in cell.columns if c.startswith("hp/") and cell[c].notna().any()]


def _cell_value(value: object) -> object:
    """A hyperparameter as one table cell: lists joined by ``_`` as in run names, scalars kept."""
    if isinstance(value, list | tuple):
        return "_".join(str(v) for v in value)
    return value


# ----------------------------------------------------------------------------------------- writers
def returns_markdown(df: pd.DataFrame) -> str:
    with_ref = "ref_verdict" in df and bool((df["ref_seeds"] > 0).any())
    head = (
        "| task | algorithm | fidelity | env step | ours: mean ± std (95% CI) | seeds | paper | "
        "source (confidence) | ours − paper [95% CI] | verdict | detectable (80% power) | seeds for ±10% / ±25% |"
    )
    lines = [
        head + (" vs reference runs: mean (seeds), verdict; detectable; seeds for ±10% |" if with_ref else ""),
        "|---|---|---|---:|---|---:|---|---|---|---|---:|---|" + ("---|" if with_ref else ""),
    ]
    for r in df.to_dict("records"):
        ours = f"{fmt(r['ours_mean'])} ± {fmt(r['ours_std'])} ({fmt(r['ours_ci95_low'])} to {fmt(r['ours_ci95_high'])})"
        paper = f"{fmt(r['paper_mean'])} ± {fmt(r['paper_std'])}" if math.isfinite(r["paper_mean"]) else "–"
        src = f"{r['paper_source']} ({r['paper_confidence']})" if r["paper_source"] else "–"
        judged = isinstance(r.get("verdict_text"), str)
        diff = f"{fmt(r['diff'])} [{fmt(r['diff_low'])}, {fmt(r['diff_high'])}]" if judged else "–"
        verdict = r["verdict_text"] if judged else r["verdict"]
        power = f"{pct(r['detectable_pct'])} ({fmt(r['detectable'])})" if judged else "–"
        seeds = f"{seeds_text(r['seeds_10'])} / {seeds_text(r['seeds_25'])}" if judged else "–"
        mark = "¹" if r.get("metric", "eval_return_mean") != "eval_return_mean" else ""
        step = f"{r['env_step']:,}" + (f" (window {r['window']})" if r.get("window") else "")
        line = (
            f"| {r['task']} | {r['algorithm']}{mark} | {r['fidelity']} | {step} | {ours} | {r['seeds']} | {paper} "
            f"| {src} | {diff} | **{verdict}** | {power} | {seeds} |"
        )
        if with_ref:
            line += f" {reference_cell(r)} |"
        lines.append(line)
    return "\n".join(lines) + "\n" + metric_note(df)


def reference_cell(r: dict) -> str:
    """The reference-run column of one returns row: "1,000 (5): **worse, by 40% to 60%**; ±12%; 5"."""
    if not r["ref_seeds"]:
        return "–"
    if not isinstance(r.get("ref_verdict_text"), str):
        return f"{fmt(r['ref_mean'])} ({r['ref_seeds']}): **{r['ref_verdict']}**"
    return (
        f"{fmt(r['ref_mean'])} ({r['ref_seeds']}): **{r['ref_verdict_text']}**; {pct(r['ref_detectable_pct'])}; "
        f"{seeds_text(r['ref_seeds_10'])}"
    )


COMPARED = ("better", "worse", "equivalent", "consistent")


def regressions_markdown(df: pd.DataFrame) -> str:
    """The top of index.md: every cell worse than its reference runs, or a line saying none is."""
    if "ref_verdict" not in df or not bool((df["ref_seeds"] > 0).any()):
        return "No reference runs of these cells: nothing to test for a regression.\n"
    compared = df[df["ref_verdict"].isin(COMPARED)]
    worse = compared[compared["ref_verdict"] == "worse"]
    if worse.empty:
        return f"No cell is worse than its reference runs ({len(compared)} (task, algorithm, step) compared).\n"
    lines = [f"**{len(worse)} of {len(compared)} compared cells are worse than their reference runs:**", ""]
    for r in worse.to_dict("records"):
        lines.append(
            f"- {r['task']} / {r['algorithm']} at {r['env_step']:,} steps: ours {fmt(r['ours_mean'])} ({r['seeds']} "
            f"seeds) against {fmt(r['ref_mean'])} ({r['ref_seeds']} seeds); 95% CI of the difference "
            f"{fmt(r['ref_diff_low'])} to {fmt(r['ref_diff_high'])}"
        )
    return "\n".join(lines) + "\n"


def metric_note(df: pd.DataFrame) -> str:
    """A footnote naming, per algorithm whose paper reports another return than the deterministic
    evaluation, the column used as "ours" (the deterministic one stays in ``eval/deterministic_return``)."""
    if "metric" not in df:
        return ""
    other = df[df["metric"].fillna("eval_return_mean") != "eval_return_mean"]
    pairs = sorted(set(zip(other["algorithm"], other["metric"], strict=True)))
    if not pairs:
        return ""
    names = "; ".join(f"`{algo}`: `{metric}`" for algo, metric in pairs)
    notes = sorted({note for algo, _ in pairs if (note := catalog_metric_note(str(algo)))})
    what = f" ({'; '.join(notes)})" if notes else ""
    return (
        f"\n¹ Ours is the return the paper plots, not the deterministic evaluation: {names}{what}. The runner's "
        "deterministic evaluation of these runs is in `eval/deterministic_return`.\n"
    )


def aggregate_markdown(df: pd.DataFrame) -> str:
    lines = ["| algorithm | tasks | runs | IQM (95% CI) | mean (95% CI) |", "|---|---:|---:|---|---|"]
    for r in df.itertuples():
        lines.append(
            f"| {r.algorithm} | {r.tasks} | {r.runs} | {fmt(r.iqm, 2)} ({fmt(r.iqm_low, 2)} to "
            f"{fmt(r.iqm_high, 2)}) | {fmt(r.mean, 2)} ({fmt(r.mean_low, 2)} to {fmt(r.mean_high, 2)}) |"
        )
    return "\n".join(lines) + "\n"


def auc_markdown(df: pd.DataFrame) -> str:
    lines = [
        "| task | algorithm | up to env step | seeds | mean return over training (95% CI) | normalized |",
        "|---|---|---:|---:|---|---:|",
    ]
    for r in df.itertuples():
        lines.append(
            f"| {r.task} | {r.algorithm} | {r.env_step:,} | {r.seeds} | {fmt(r.auc, 1)} ({fmt(r.auc_low, 1)} to "
            f"{fmt(r.auc_high, 1)}) | {fmt(r.auc_score, 2)} |"
        )
    return "\n".join(lines) + "\n"


def sweeps_markdown(df: pd.DataFrame) -> str:
    """One table per (task, swept entry): a row per point, its swept values as columns, the best in bold."""
    out = []
    for (task, source), cell in df.groupby(["task", "sweep"], sort=True):
        keys = swept_columns(cell)
        step = int(cell["env_step"].iloc[0])
        out += [
            f"**{task} / {source}** (at {step:,} env steps, reached by every run of the sweep)",
            "",
            "| "
            + " | ".join(k.removeprefix("hp/") for k in keys)
            + f" | seeds | return at {step:,} (95% CI) | mean return over training (95% CI) |",
            "|" + "---|" * len(keys) + "---:|---|---|",
        ]
        for r in cell.to_dict("records"):  # sweep_table's order
            bold = "**" if r["best"] else ""
            final = f"{bold}{fmt(r['final_mean'], 1)}{bold} ({fmt(r['final_low'], 1)} to {fmt(r['final_high'], 1)})"
            auc = f"{fmt(r['auc'], 1)} ({fmt(r['auc_low'], 1)} to {fmt(r['auc_high'], 1)})"
            out.append("| " + " | ".join(str(r[k]) for k in keys) + f" | {r['seeds']} | {final} | {auc} |")
        out.append("")
    return "\n".join(out)


def _tex_escape(text: str) -> str:
    for a, b in (
        ("\\", r"\textbackslash{}"),
        ("&", r"\&"),
        ("%", r"\%"),
        ("_", r"\_"),
        ("#", r"\#"),
        ("±", r"$\pm$"),
        ("–", "--"),
        ("−", "-"),
    ):
        text = text.replace(a, b)
    return text


def returns_latex(df: pd.DataFrame) -> str:
    """A booktabs table (needs \\usepackage{booktabs})."""
    out = [
        r"\begin{tabular}{llrrlll}",
        r"\toprule",
        r"Task & Algorithm & Env steps & Seeds & Ours (mean $\pm$ std) & Paper & Verdict \\",
        r"\midrule",
    ]
    for r in df.itertuples():
        ours = f"{fmt(r.ours_mean)} ± {fmt(r.ours_std)}"
        paper = f"{fmt(r.paper_mean)} ± {fmt(r.paper_std)}" if math.isfinite(r.paper_mean) else "–"
        cells = [r.task, r.algorithm, f"{r.env_step:,}", str(r.seeds), ours, paper, r.verdict]
        out.append(" & ".join(_tex_escape(str(c)) for c in cells) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(out) + "\n"
