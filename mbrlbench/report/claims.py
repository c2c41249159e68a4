"""The papers' claims (``algorithms/catalog.py``), tested per task inside one result set: each claim compares
two of its algorithms at the largest step both reached, by the verdict rule of ``verdicts`` (Welch's t with an
equivalence test), with the probability of improvement beside it as an effect size (rliable's, not the
verdict's basis)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mbrlbench.algorithms.catalog import CLAIMS
from mbrlbench.report import stats, verdicts
from mbrlbench.report.format import fmt, pct


def claim_verdict(judgement: verdicts.Judgement, kind: str, delta: float) -> str:
    """``supported`` / ``contradicted`` / ``inconclusive`` / ``too few seeds`` from ours-vs-baseline's
    judgement. "better": supported when ours is significantly better; contradicted when significantly
    worse or equivalent within ±delta (no improvement that large). "competitive": supported when ours is
    non-inferior (the 90% CI of the difference above -delta * |baseline|); contradicted when significantly
    worse."""
    label = judgement.label
    if label == verdicts.COMPARE_WORDS[verdicts.TOO_FEW]:
        return "too few seeds"
    if kind == "better":
        if label == "better":
            return "supported"
        return "contradicted" if label in ("worse", "equivalent") else "inconclusive"
    if judgement.low90 > -delta * abs(judgement.scale):
        return "supported"
    return "contradicted" if label == "worse" else "inconclusive"


def _row(paper: str, claim: str, ours: str, baseline: str, kind: str, task: str = "–") -> dict:
    return {"paper": paper, "claim": claim, "ours": ours, "baseline": baseline, "kind": kind, "task": task}


def claims_table(curves: pd.DataFrame, delta: float = 0.10) -> pd.DataFrame:
    rows = []
    for c in CLAIMS:
        paper, claim, ours, baseline, kind = c.paper, c.text, c.ours, c.baseline, c.kind
        tasks = sorted(
            set(curves.loc[curves["algorithm"] == ours, "task"])
            & set(curves.loc[curves["algorithm"] == baseline, "task"])
        )
        if not tasks:
            rows.append({**_row(paper, claim, ours, baseline, kind), "env_step": math.nan, "verdict": "not run"})
            continue
        for task in tasks:
            step = stats.common_step(curves, task, [ours, baseline])
            if step is None:
                continue
            a = stats.values_at_step(curves[(curves["task"] == task) & (curves["algorithm"] == ours)], step)
            b = stats.values_at_step(curves[(curves["task"] == task) & (curves["algorithm"] == baseline)], step)
            a_vals, b_vals = a["value"].dropna().to_numpy(), b["value"].dropna().to_numpy()
            point, low, high = stats.poi_with_ci(a_vals, b_vals)
            judgement = verdicts.against_runs(a_vals, b_vals, delta)
            rows.append(
                {
                    **_row(paper, claim, ours, baseline, kind, task),
                    "env_step": step,
                    "seeds": f"{len(a_vals)} vs {len(b_vals)}",
                    "ours_mean": float(np.mean(a_vals)) if len(a_vals) else math.nan,
                    "baseline_mean": float(np.mean(b_vals)) if len(b_vals) else math.nan,
                    "poi": point,
                    "poi_low": low,
                    "poi_high": high,
                    **{k: v for k, v in judgement.fields("test_").items()},
                    "verdict": claim_verdict(judgement, kind, delta),
                }
            )
    return pd.DataFrame(rows)


def claims_markdown(df: pd.DataFrame) -> str:
    lines = [
        "| paper | claim | test | task | env step | seeds | ours − baseline [95% CI] | P(ours > baseline) (95% CI) "
        "| detectable (80% power) | seeds for ±10% / ±25% | verdict |",
        "|---|---|---|---|---:|---|---|---|---:|---|---|",
    ]
    for r in df.to_dict("records"):
        if r["verdict"] == "not run":
            lines.append(
                f"| {r['paper']} | {r['claim']} | `{r['ours']}` vs `{r['baseline']}` | – | – | | | | | | **not run** |"
            )
            continue
        poi = f"{fmt(r['poi'], 2)} ({fmt(r['poi_low'], 2)} to {fmt(r['poi_high'], 2)})"
        diff = f"{fmt(r['test_diff'], 1)} [{fmt(r['test_diff_low'], 1)}, {fmt(r['test_diff_high'], 1)}]"
        lines.append(
            f"| {r['paper']} | {r['claim']} | `{r['ours']}` vs `{r['baseline']}` | {r['task']} "
            f"| {int(r['env_step']):,} "
            f"| {r['seeds']} | {diff} | {poi} | {pct(r['test_detectable_pct'])} "
            f"| {verdicts.seeds_text(r['test_seeds_10'])} / {verdicts.seeds_text(r['test_seeds_25'])} "
            f"| **{r['verdict']}** ({r['test_verdict_text']}) |"
        )
    return "\n".join(lines) + "\n"
