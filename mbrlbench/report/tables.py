"""Tables: returns at the papers' step counts with verdicts, the papers' claims, aggregate metrics; and
writers for Markdown, CSV and LaTeX (booktabs)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from mbrlbench.report import stats
from mbrlbench.report.references import normalization

# (paper, claim, ours, baseline, kind): each tested inside one suite when both sides ran (shared/algorithms.md).
# "better": P(ours > baseline) above 0.5; "competitive": not clearly worse, P(ours > baseline) above
# COMPETITIVE_POI (a non-inferiority margin).
CLAIMS = [
    ("MBPO", "MBPO learns faster than model-free SAC", "mbpo", "sac", "better"),
    ("TOM", "TOM's policy-aware weights beat the same model trained uniformly", "tom", "tom_uniform", "better"),
    ("MnM", "MnM is competitive with MBPO", "mnm", "mbpo", "competitive"),
    ("MG", "MG beats the same policy-gradient backbone with an MLE model", "mg", "mg_mle", "better"),
    ("MB-MPO", "MB-MPO is more sample-efficient than model-free TRPO", "mbmpo", "trpo", "better"),
    ("MB-MPO", "MB-MPO is more sample-efficient than model-free PPO", "mbmpo", "ppo", "better"),
]
COMPETITIVE_POI = 0.3


def claim_verdict(poi_low: float, poi_high: float, seeds: int, kind: str) -> str:
    """``supported`` when the PoI interval lies above the claim's threshold (0.5 for "better",
    ``COMPETITIVE_POI`` for "competitive"), ``contradicted`` when below it, else ``inconclusive``, which is
    also the verdict with fewer than ``stats.MIN_SEEDS_FOR_VERDICT`` seeds on either side."""
    threshold = 0.5 if kind == "better" else COMPETITIVE_POI
    if seeds < stats.MIN_SEEDS_FOR_VERDICT or not math.isfinite(poi_low):
        return "inconclusive"
    if poi_low > threshold:
        return "supported"
    if poi_high < threshold:
        return "contradicted"
    return "inconclusive"


def fmt(x: float, digits: int = 0) -> str:
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:,.{digits}f}"


def returns_table(
    curves: pd.DataFrame, runs: pd.DataFrame, papers: pd.DataFrame, extra_steps: list[int], delta: float
) -> pd.DataFrame:
    rows = []
    for (task, algo), group in runs.groupby(["task", "algorithm"], sort=True):
        sub = curves[(curves["task"] == task) & (curves["algorithm"] == algo)]
        paper_rows = papers[(papers["task"] == task) & (papers["algorithm"] == algo)]
        final = int(group["last_step"].min())
        steps = sorted({*paper_rows["env_steps"].astype(int), *extra_steps, final})  # final: where runs ended
        for step in steps:
            at = stats.values_at_step(sub, step)
            values = at["value"].dropna().to_numpy()
            reached = bool(len(at)) and bool(at["reached"].all())
            ref = paper_rows[paper_rows["env_steps"] == step]
            ref_row = ref.iloc[0] if len(ref) else None
            paper_std = (
                float(ref_row["return_std"]) if ref_row is not None and pd.notna(ref_row["return_std"]) else None
            )
            paper_n = int(ref_row["n_seeds_int"]) if ref_row is not None and pd.notna(ref_row["n_seeds_int"]) else None
            v = stats.verdict(
                values,
                reached,
                float(ref_row["return_mean"]) if ref_row is not None else None,
                paper_std,
                paper_n,
                bool(ref_row["comparable"]) if ref_row is not None else True,
                delta,
            )
            ci_low, ci_high = stats.mean_ci(values, 0.95) if reached else (math.nan, math.nan)
            rows.append(
                {
                    "task": task,
                    "algorithm": algo,
                    "fidelity": group["fidelity"].iloc[0],
                    "metric": group["metric"].iloc[0] if "metric" in group else "eval_return_mean",
                    "env_step": step,
                    "seeds": len(values) if reached else int(at["reached"].sum()),
                    "ours_mean": float(values.mean()) if reached and len(values) else math.nan,
                    "ours_std": float(values.std(ddof=1)) if reached and len(values) > 1 else math.nan,
                    "ours_ci95_low": ci_low,
                    "ours_ci95_high": ci_high,
                    "paper_mean": float(ref_row["return_mean"]) if ref_row is not None else math.nan,
                    "paper_std": paper_std if paper_std is not None else math.nan,
                    "paper_seeds": paper_n if paper_n is not None else math.nan,
                    "paper_source": ref_row["source"] if ref_row is not None else "",
                    "paper_confidence": ref_row["confidence"] if ref_row is not None else "",
                    "diff_ci90_low": v.diff_low,
                    "diff_ci90_high": v.diff_high,
                    "verdict": v.label,
                }
            )
    return pd.DataFrame(rows)


def _common_step(curves: pd.DataFrame, task: str, algorithms: list[str]) -> int | None:
    """The largest env step every run of these algorithms on this task reached."""
    sub = curves[(curves["task"] == task) & (curves["algorithm"].isin(algorithms))]
    if sub.empty:
        return None
    return int(sub.groupby("run_dir")["env_step"].max().min())


def claims_table(curves: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for paper, claim, ours, baseline, kind in CLAIMS:
        tasks = sorted(
            set(curves.loc[curves["algorithm"] == ours, "task"])
            & set(curves.loc[curves["algorithm"] == baseline, "task"])
        )
        if not tasks:
            rows.append(
                {
                    "paper": paper,
                    "claim": claim,
                    "ours": ours,
                    "baseline": baseline,
                    "task": "–",
                    "env_step": math.nan,
                    "seeds": "",
                    "poi": math.nan,
                    "poi_low": math.nan,
                    "poi_high": math.nan,
                    "verdict": "not run",
                }
            )
            continue
        for task in tasks:
            step = _common_step(curves, task, [ours, baseline])
            if step is None:
                continue
            a = stats.values_at_step(curves[(curves["task"] == task) & (curves["algorithm"] == ours)], step)
            b = stats.values_at_step(curves[(curves["task"] == task) & (curves["algorithm"] == baseline)], step)
            a_vals, b_vals = a["value"].dropna().to_numpy(), b["value"].dropna().to_numpy()
            point, low, high = stats.poi_with_ci(a_vals, b_vals)
            label = claim_verdict(low, high, min(len(a_vals), len(b_vals)), kind)
            rows.append(
                {
                    "paper": paper,
                    "claim": claim,
                    "ours": ours,
                    "baseline": baseline,
                    "task": task,
                    "env_step": step,
                    "seeds": f"{len(a_vals)} vs {len(b_vals)}",
                    "poi": point,
                    "poi_low": low,
                    "poi_high": high,
                    "verdict": label,
                }
            )
    return pd.DataFrame(rows)


def normalized_scores(curves: pd.DataFrame) -> pd.DataFrame:
    """Each run's score at its task's common step (the largest step every run of that task reached)."""
    rows = []
    for task in sorted(curves["task"].unique()):
        norm = normalization(task)
        if norm is None:
            continue
        zero, one, _ = norm
        step = _common_step(curves, task, list(curves["algorithm"].unique()))
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
                    "score": (r["value"] - zero) / (one - zero),
                }
            )
    return pd.DataFrame(rows, columns=["task", "algorithm", "seed", "env_step", "return", "score"])


def aggregate_table(scores: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for algo, sub in scores.groupby("algorithm", sort=True):
        groups = [g["score"].to_numpy() for _, g in sub.groupby("task")]
        iqm, iqm_low, iqm_high = stats.stratified_ci(groups, stats.iqm)
        mean, mean_low, mean_high = stats.stratified_ci(groups, lambda x: float(np.mean(x)))
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


# ----------------------------------------------------------------------------------------- writers
def returns_markdown(df: pd.DataFrame) -> str:
    lines = [
        "| task | algorithm | fidelity | env step | ours: mean ± std (95% CI) | seeds | paper | "
        "source (confidence) | 90% CI of ours − paper | verdict |",
        "|---|---|---|---:|---|---:|---|---|---|---|",
    ]
    for r in df.itertuples():
        ours = f"{fmt(r.ours_mean)} ± {fmt(r.ours_std)} ({fmt(r.ours_ci95_low)} to {fmt(r.ours_ci95_high)})"
        paper = f"{fmt(r.paper_mean)} ± {fmt(r.paper_std)}" if math.isfinite(r.paper_mean) else "–"
        src = f"{r.paper_source} ({r.paper_confidence})" if r.paper_source else "–"
        diff = f"{fmt(r.diff_ci90_low)} to {fmt(r.diff_ci90_high)}" if math.isfinite(r.diff_ci90_low) else "–"
        mark = "¹" if getattr(r, "metric", "eval_return_mean") != "eval_return_mean" else ""
        lines.append(
            f"| {r.task} | {r.algorithm}{mark} | {r.fidelity} | {r.env_step:,} | {ours} | {r.seeds} | {paper} "
            f"| {src} | {diff} | **{r.verdict}** |"
        )
    return "\n".join(lines) + "\n" + metric_note(df)


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
    return (
        f"\n¹ Ours is the return the paper plots, not the deterministic evaluation: {names} (MB-MPO: the "
        "stochastic pre-update policy's mean episode return, official `PrePolicy-AverageReturn`). The runner's "
        "deterministic evaluation of these runs is in `eval/deterministic_return`.\n"
    )


def claims_markdown(df: pd.DataFrame) -> str:
    lines = [
        "| paper | claim | test | task | env step | seeds | P(ours > baseline) (95% CI) | verdict |",
        "|---|---|---|---|---:|---|---|---|",
    ]
    for r in df.itertuples():
        poi = f"{fmt(r.poi, 2)} ({fmt(r.poi_low, 2)} to {fmt(r.poi_high, 2)})" if math.isfinite(r.poi) else "–"
        step = f"{int(r.env_step):,}" if math.isfinite(r.env_step) else "–"
        lines.append(
            f"| {r.paper} | {r.claim} | `{r.ours}` vs `{r.baseline}` | {r.task} | {step} | {r.seeds} "
            f"| {poi} | **{r.verdict}** |"
        )
    return "\n".join(lines) + "\n"


def aggregate_markdown(df: pd.DataFrame) -> str:
    lines = ["| algorithm | tasks | runs | IQM (95% CI) | mean (95% CI) |", "|---|---:|---:|---|---|"]
    for r in df.itertuples():
        lines.append(
            f"| {r.algorithm} | {r.tasks} | {r.runs} | {fmt(r.iqm, 2)} ({fmt(r.iqm_low, 2)} to "
            f"{fmt(r.iqm_high, 2)}) | {fmt(r.mean, 2)} ({fmt(r.mean_low, 2)} to {fmt(r.mean_high, 2)}) |"
        )
    return "\n".join(lines) + "\n"


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


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
