"""The report's index.md: regressions first, then the runs, the figures, the tables, the protocol (what each
verdict means and can resolve), the versions and the warnings."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from mbrlbench.algorithms.catalog import ALGORITHM_NAMES, comparable
from mbrlbench.report import claims, stats, sweeps, verdicts, window, writers
from mbrlbench.report.format import write
from mbrlbench.report.load import Loaded
from mbrlbench.report.references import REFERENCES, normalization

if TYPE_CHECKING:
    from mbrlbench.report.build import ReportResult, Tables


def _protocol_text(delta: float) -> str:
    return f"""\
## Protocol

- **Ours at step S** is each seed's evaluation at the largest `env_step` <= S (mean of the suite's
  `eval.episodes` deterministic episodes). A run that stopped before S is `not reached` there.
- **The papers' numbers** come from `mbrlbench/references/paper_results.csv` (source and confidence on every
  row). The official MBPO curves are one deterministic episode per 1,000-step epoch per trial, across-trial
  std, gym v2 envs on MuJoCo 1.50; they look smoother than a 10-episode evaluation. Digitized and recalled
  numbers are drawn hollow and marked low confidence.
- **Verdicts** (one rule for the papers, the reference runs and the claims; docs/report.md explains it):
  d = ours - reference, with Welch's t interval (the paper's std and seed count where known, else its mean
  taken as exact). `reproduced` (`equivalent`) when the 90% CI of d lies within ±{delta:.0%} of the
  reference (two one-sided tests at 5%); else `below`/`above` (`worse`/`better`) when the 95% CI excludes 0;
  else `consistent, within ±X%`: the margin the data do establish. `too few seeds` below
  {verdicts.MIN_SEEDS} seeds a side. A false `below`/`above` between two sides of one distribution happens at
  most 5% of the time; whether a real gap is caught depends on the seeds and the spread, so each row gives
  **detectable**, the |d| found with 80% probability at these seeds (as % of the reference), and the **seeds**
  (ours; per side for two result sets) that would resolve ±10% and ±25%, `unreachable` when the paper's own
  seeds leave more uncertainty than that. `not comparable` when env or protocol differ (the catalog marks
  {", ".join(n for n in ALGORITHM_NAMES if not comparable(n))}), `no reference` where no paper number exists.
- **Curve windows.** Where an algorithm has an official curve on a task (MBPO: `references/mbpo_official.csv`,
  a point every 1,000 steps), the row "window" judges the mean of each seed's last {window.WIDTH}
  evaluations (up to where every run stopped) against the official curve's mean over the same steps; the
  paper's std there is the mean of the points' stds (an upper bound: the trials are not published).
- **Bands** are 95% Student-t CIs of the mean over seeds, drawn only with >= 3 seeds.
- **Claims** compare two algorithms on a task at the largest step both reached, by the same rule: "better"
  claims are `supported` when ours is significantly better, `contradicted` when significantly worse or
  equivalent within ±{delta:.0%}; "competitive" claims (MnM vs MBPO) are `supported` when ours is
  non-inferior (the 90% CI of d above -{delta:.0%} of the baseline), `contradicted` when significantly worse;
  else `inconclusive`. P(ours > baseline) (rliable's probability of improvement, 95% bootstrap CI) is shown
  as an effect size.
- **Normalized score** = (return - uniform-random policy's return) / (reference - random); reference = the
  MBPO paper's mean at the end of its official curve (inverted_pendulum: the maximum, 1000). Random returns:
  `mbrlbench/references/random_returns.csv` (`python -m mbrlbench.tasks.random_returns`). Scores are taken
  at each task's largest step that every run reached. IQM and mean use a bootstrap stratified by task.
- **Sample efficiency** (rliable): at each env step, the IQM of normalized score over every (task, seed) run,
  with a 95% bootstrap band stratified by task; each algorithm's curve stops at the smallest, over its
  tasks, of the step every run of the task reached, so every task counts at every point. **AUC** per (task,
  algorithm): each run's evaluation returns averaged over env steps (trapezoid rule) up to the step every run
  of the task reached, the mean over seeds with a 95% Student-t CI.
- **Reference runs** (`results/reference/` beside the package, or `--reference-runs DIR`): where they hold
  the same (task, algorithm), ours is compared with them at each step by the same rule (`mbrlbench
  compare`'s). Every `worse` cell is listed at the top of this page.
- Every bootstrap (PoI, aggregates) draws {stats.N_RESAMPLES:,} resamples with a fixed seed (the same data
  give the same report).
  Claims and verdicts are judged **per task**: nothing is pooled across tasks except the aggregates above.
"""


def write_index(
    out: Path,
    path: Path,
    loaded: Loaded,
    runs: pd.DataFrame,
    computed: Tables,
    delta: float,
    result: ReportResult,
) -> Path:
    """index.md: regressions first, then the runs, the figures, the tables, the protocol, the versions and the
    warnings."""
    lines = [*_runs_section(path, runs, computed.returns), *_figures_section(out)]
    lines += [
        "## Returns at the papers' step counts",
        "",
        "Files: [returns.md](returns.md), [returns.csv](returns.csv), [returns.tex](returns.tex).",
        "",
        writers.returns_markdown(computed.returns),
    ]
    lines += ["## The papers' claims, tested on these runs (per task)", "", claims.claims_markdown(computed.claims)]
    lines += _aggregate_section(computed.aggregate, computed.scores)
    if len(computed.auc):
        lines += [
            "## Area under the learning curve",
            "",
            "File: [auc.csv](auc.csv).",
            "",
            writers.auc_markdown(computed.auc),
        ]
    if len(computed.sweeps):
        lines += [
            "## Hyperparameter sweeps",
            "",
            "Files: [sweeps.md](sweeps.md), [sweeps.csv](sweeps.csv). Each sweep's points are compared at the step "
            "every run of the sweep reached; the best final mean is in bold. Overlapping CIs mean the seeds do "
            "not separate the points: add seeds before choosing.",
            "",
            sweeps.sweeps_markdown(computed.sweeps),
        ]
    if result.videos:
        lines += ["## Videos: each (task, algorithm)'s best seed, final policy", ""]
        lines += [f"- {t} / {a}: [{p.name}](videos/{p.name})" for t, a, p in result.videos] + [""]
    lines += [_protocol_text(delta), *_versions_section(loaded)]
    if result.warnings:
        lines += ["## Warnings", "", *[f"- {w}" for w in result.warnings], ""]
    return write(out / "index.md", "\n".join(lines))


def _runs_section(path: Path, runs: pd.DataFrame, returns: pd.DataFrame) -> list[str]:
    states = runs["state"].value_counts().to_dict()
    lines = [
        f"# mbrlbench report: `{path}`",
        "",
        f"{len(runs)} runs ({', '.join(f'{n} {s}' for s, n in states.items())}) of "
        f"{runs['suite'].nunique()} suite(s): {', '.join(sorted(runs['suite'].unique()))}. "
        f"Tasks: {', '.join(sorted(runs['task'].unique()))}. "
        f"Algorithms: {', '.join(sorted(runs['algorithm'].unique()))}.",
        "",
        "## Regressions against the reference runs",
        "",
        writers.regressions_markdown(returns),
        "## Runs",
        "",
        "| task | algorithm | seed | state | env step / budget | last return | fidelity |",
        "|---|---|---:|---|---|---:|---|",
    ]
    for r in runs.sort_values(["task", "algorithm", "seed"]).itertuples():
        budget = f"{int(r.budget):,}" if pd.notna(r.budget) else "?"
        lines.append(
            f"| {r.task} | {r.algorithm} | {r.seed} | {r.state} | {r.last_step:,} / {budget} | "
            f"{r.last_return:,.1f} | {r.fidelity} |"
        )
    return lines


def _figures_section(out: Path) -> list[str]:
    figures = [
        ("Learning curves", "curves"),
        ("Return against wall-clock time", "wallclock"),
        ("Diagnostics: model k-step error, critic bias, temperature", "diagnostics"),
        *((f"Metric {p.stem.removeprefix('metric-')}", p.stem) for p in sorted(out.glob("metric-*.png"))),
        ("Aggregate normalized scores", "aggregate"),
        ("Sample efficiency: IQM of normalized score against env steps", "efficiency"),
        ("Performance profiles", "profiles"),
        ("Hyperparameter sweeps: final return of each point", "sweeps"),
    ]
    lines = ["", "## Figures", ""]
    for title, stem in figures:
        if (out / f"{stem}.png").exists():
            pdf = f" ([pdf]({stem}.pdf))" if (out / f"{stem}.pdf").exists() else ""
            lines += [f"### {title}{pdf}", "", f"![{title}]({stem}.png)", ""]
    return lines


def _aggregate_section(aggregate: pd.DataFrame, scores: pd.DataFrame) -> list[str]:
    if not len(aggregate):
        return ["## Aggregate metrics", "", "No task here has a normalization (random and paper reference).", ""]
    norms = []
    for task in sorted(scores["task"].unique()):
        norm = normalization(task)
        if norm is not None:
            norms.append("{}: 0 = {:,.1f}, 1 = {:,.1f} ({})".format(task, *norm))
    return [
        "## Aggregate metrics",
        "",
        writers.aggregate_markdown(aggregate),
        "Normalization: " + "; ".join(norms) + ".",
        "",
    ]


def _versions_section(loaded: Loaded) -> list[str]:
    versions: dict[str, str] = {}
    for config in loaded.configs.values():
        versions.update(config.get("recorded", {}).get("versions", {}))
    report_versions = {p: metadata.version(p) for p in ("pandas", "scipy", "matplotlib")}
    return [
        "## Versions",
        "",
        "Runs: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())) + ".",
        "Report: " + ", ".join(f"{k} {v}" for k, v in report_versions.items()) + f". References: `{REFERENCES}`.",
        "",
    ]
