"""Writers of the report's tables: Markdown (returns, regressions, aggregates, AUC) and LaTeX (booktabs)."""

from __future__ import annotations

import math

import pandas as pd

from mbrlbench.algorithms.catalog import metric_note as catalog_metric_note
from mbrlbench.report.format import fmt, pct
from mbrlbench.report.verdicts import seeds_text


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
