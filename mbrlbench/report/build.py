"""``mbrlbench report``: load -> statistics -> figures and tables -> index.md and a terminal summary."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mbrlbench.algorithms.catalog import ALGORITHM_NAMES, comparable
from mbrlbench.errors import UserInputError
from mbrlbench.report import claims, plots, stats, tables, verdicts, window
from mbrlbench.report.format import fmt, pct, write
from mbrlbench.report.load import Loaded, load_runs
from mbrlbench.report.references import REFERENCES, normalization, official_mbpo_curves, paper_results
from mbrlbench.report.verdicts import seeds_text
from mbrlbench.rundir import POLICY, REFERENCE_FOLDER
from mbrlbench.support.console import plain_console
from mbrlbench.support.outputs import check_output_dir, staged

FORMATS = ("png", "pdf", "md", "tex", "csv")
# results/reference of this checkout (committed earlier runs), drawn beside new ones; found from the package's
# place, not the working directory (absent in a wheel install: then there is none)
REPO_REFERENCE = Path(__file__).resolve().parents[2] / "results" / REFERENCE_FOLDER
VERDICT_STYLE = {
    "reproduced": "green",
    "above": "green",
    "below": "red",
    "consistent": "yellow",
    "too few seeds": "dim",
    "supported": "green",
    "contradicted": "red",
    "inconclusive": "yellow",
}


class NoRuns(Exception):
    """PATH holds no readable run."""


@dataclass
class ReportResult:
    out: Path
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    returns: pd.DataFrame | None = None
    seconds: float = 0.0
    videos: list[tuple[str, str, Path]] = field(default_factory=list)  # (task, algorithm, clip)


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


@dataclass
class Tables:
    """Every table of a report, computed from the runs (and the reference runs, when there are any)."""

    returns: pd.DataFrame
    claims: pd.DataFrame
    scores: pd.DataFrame
    aggregate: pd.DataFrame
    efficiency: pd.DataFrame
    auc: pd.DataFrame
    sweeps: pd.DataFrame

    @classmethod
    def compute(
        cls,
        own: pd.DataFrame,
        own_runs: pd.DataFrame,
        papers: pd.DataFrame,
        steps: list[int],
        delta: float,
        ref_curves: pd.DataFrame | None,
        configs: dict[str, dict],
    ) -> Tables:
        scores = tables.normalized_scores(own)
        return cls(
            returns=tables.returns_table(own, own_runs, papers, steps, delta, ref_curves, official_mbpo_curves()),
            claims=claims.claims_table(own, delta),
            scores=scores,
            aggregate=tables.aggregate_table(scores) if len(scores) else pd.DataFrame(),
            efficiency=tables.sample_efficiency(own),
            auc=tables.auc_table(own),
            sweeps=tables.sweep_table(own, configs),
        )

    def csvs(self) -> dict[str, pd.DataFrame]:
        return {
            "returns": self.returns,
            "claims": self.claims,
            "aggregate": self.aggregate,
            "scores": self.scores,
            "efficiency": self.efficiency,
            "auc": self.auc,
            "sweeps": self.sweeps,
        }


def build_report(
    path: Path,
    out: Path | None = None,
    formats: tuple[str, ...] = FORMATS,
    steps: list[int] | None = None,
    reference: Path | None = None,
    delta: float = 0.10,
    console: Console | None = None,
    metrics: list[str] | None = None,
    film: Callable[[Path, Path], Path] | None = None,
    reference_runs: Path | None = None,
) -> ReportResult:
    """Everything ``mbrlbench report`` writes; ``metrics``: progress.csv columns to draw one figure each;
    ``film(run_dir, target)``: films a run's saved policy (the CLI passes ``policy_eval``'s, which needs torch,
    so that this module never imports it): one clip per (task, algorithm), of its best seed;
    ``reference_runs``: the runs to test ours against (default: reference runs under PATH, else this
    checkout's results/reference)."""
    start = time.time()
    console = console or plain_console(stderr=True)
    path = Path(path)
    papers = paper_results(reference)  # a bad --reference file is refused before anything is read or written
    metrics = metrics or []
    loaded = load_runs(path, wanted=_wanted_columns(metrics))
    for warning in loaded.warnings:
        console.print(Text.assemble(("warning: ", "yellow"), warning))
    own, own_runs, ref_curves = _split_reference(loaded, path, reference_runs)
    logged = sorted(c for c in loaded.logged if "/" in c)
    unknown = [m for m in metrics if m not in logged]
    if unknown:
        raise UserInputError(
            f"--metrics {','.join(unknown)}: not a diagnostic these runs logged; logged: {', '.join(logged) or 'none'}"
        )
    out = Path(out) if out else path / "report"
    check_output_dir(out, "--out")
    result = ReportResult(out=out, warnings=list(loaded.warnings))
    fmt = list(formats)
    with staged(out) as stage:
        result.files += _figures(own, papers, ref_curves, stage, fmt, metrics)
        computed = Tables.compute(own, own_runs, papers, steps or [], delta, ref_curves, loaded.configs)
        if len(computed.aggregate):
            result.files += plots.aggregates(computed.aggregate, stage / "aggregate", fmt)
            result.files += plots.performance_profiles(computed.scores, stage / "profiles", fmt)
        if len(computed.efficiency):
            result.files += plots.sample_efficiency(computed.efficiency, stage / "efficiency", fmt)
        if len(computed.sweeps):
            result.files += plots.sweeps(computed.sweeps, stage / "sweeps", fmt)
        result.returns = computed.returns
        if film is not None:
            result.videos = _film_best_seeds(own_runs, stage / "videos", film, console)
        result.files += _write_tables(stage, fmt, computed)
        if "md" in fmt:
            result.files.append(_index(stage, path, loaded, own_runs, computed, delta, result))
        result.files = [out / f.relative_to(stage) for f in result.files]
        result.videos = [(t, a, out / p.relative_to(stage)) for t, a, p in result.videos]
    result.seconds = time.time() - start
    _summary(console, computed.returns, computed.claims)
    return result


def _wanted_columns(metrics: list[str]) -> Callable[[str], bool]:
    """The progress.csv columns a report reads (the loader adds the required ones and each run's metric):
    the diagnostics its figure draws and the asked-for metrics; the rest is never parsed."""
    prefixes = tuple(prefix for prefix, _ in plots.DIAGNOSTIC_DEFAULTS)
    return lambda column: column.startswith(prefixes) or column in metrics


def _write_tables(out: Path, fmt: list[str], computed: Tables) -> list[Path]:
    files = []
    if "csv" in fmt:
        for name, df in computed.csvs().items():
            if len(df):
                df.to_csv(out / f"{name}.csv", index=False)
                files.append(out / f"{name}.csv")
    if "tex" in fmt:
        files.append(write(out / "returns.tex", tables.returns_latex(computed.returns)))
    if "md" in fmt:
        files.append(write(out / "returns.md", tables.returns_markdown(computed.returns)))
        files.append(write(out / "claims.md", claims.claims_markdown(computed.claims)))
        if len(computed.aggregate):
            files.append(write(out / "aggregate.md", tables.aggregate_markdown(computed.aggregate)))
        if len(computed.auc):
            files.append(write(out / "auc.md", tables.auc_markdown(computed.auc)))
        if len(computed.sweeps):
            files.append(write(out / "sweeps.md", tables.sweeps_markdown(computed.sweeps)))
    return files


def _split_reference(
    loaded: Loaded, path: Path, reference_runs: Path | None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """(our curves, our runs, the reference runs' curves or None). Reporting a folder of reference runs
    alone (e.g. results/reference) reports them as ours, with nothing to test them against."""
    curves, runs = loaded.curves, loaded.runs
    is_ref = curves["reference"].astype(bool) if len(curves) else pd.Series(dtype=bool)
    own, own_runs = (curves[~is_ref], runs[~runs["reference"].astype(bool)]) if len(curves) else (curves, runs)
    if own.empty and len(curves) and reference_runs is None:
        return curves, runs, None
    if own.empty:
        raise NoRuns(f"{path}: no readable run (no progress.csv with rows under it)")
    if reference_runs is not None:
        ref = load_runs(reference_runs).curves
        if ref.empty:
            raise UserInputError(f"--reference-runs {reference_runs}: no readable run under it")
        return own, own_runs, ref
    return own, own_runs, _reference_curves(loaded, path)


def _film_best_seeds(
    runs: pd.DataFrame, folder: Path, film: Callable[[Path, Path], Path], console: Console
) -> list[tuple[str, str, Path]]:
    """One clip per (task, algorithm): the seed with the best last evaluation that kept its policy.pt."""
    clips = []
    with_policy = runs[[(Path(d) / POLICY).exists() for d in runs["run_dir"]]]
    for (task, algo), group in with_policy.groupby(["task", "algorithm"]):
        best = group.sort_values("last_return", ascending=False).iloc[0]
        clip = film(Path(best["run_dir"]), folder / f"{task}-{algo}-seed{best['seed']}.mp4")
        console.print(f"video: {clip}", highlight=False, markup=False)
        clips.append((str(task), str(algo), clip))
    return clips


def _reference_curves(loaded: Loaded, path: Path) -> pd.DataFrame | None:
    """Reference runs under PATH, else this checkout's results/reference (never the working directory's)."""
    curves = loaded.curves
    ref = curves[curves["reference"].astype(bool)] if len(curves) else None
    if (ref is None or ref.empty) and REPO_REFERENCE.exists() and path.resolve() != REPO_REFERENCE.resolve():
        ref = load_runs(REPO_REFERENCE).curves
    return ref if ref is not None and len(ref) else None


def metric_stem(metric: str) -> str:
    """File stem of a metric's figure: ``model/kstep_error_5`` -> ``metric-model-kstep_error_5``."""
    return "metric-" + metric.replace("/", "-")


def _figures(
    own: pd.DataFrame,
    papers: pd.DataFrame,
    ref_curves: pd.DataFrame | None,
    out: Path,
    fmt: list[str],
    metrics: list[str],
) -> list[Path]:
    files = plots.learning_curves(own, papers, official_mbpo_curves(), out / "curves", fmt, ref_curves)
    files += plots.wallclock(own, out / "wallclock", fmt)
    diagnostics = plots.default_diagnostics([c for c in own.columns if own[c].notna().any()])
    if diagnostics:
        files += plots.metric_curves(own, diagnostics, out / "diagnostics", fmt)
    for metric in metrics:
        files += plots.metric_curves(own, [metric], out / metric_stem(metric), fmt)
    return files


def _index(
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
        tables.returns_markdown(computed.returns),
    ]
    lines += ["## The papers' claims, tested on these runs (per task)", "", claims.claims_markdown(computed.claims)]
    lines += _aggregate_section(computed.aggregate, computed.scores)
    if len(computed.auc):
        lines += [
            "## Area under the learning curve",
            "",
            "File: [auc.csv](auc.csv).",
            "",
            tables.auc_markdown(computed.auc),
        ]
    if len(computed.sweeps):
        lines += [
            "## Hyperparameter sweeps",
            "",
            "Files: [sweeps.md](sweeps.md), [sweeps.csv](sweeps.csv). Each sweep's points are compared at the step "
            "every run of the sweep reached; the best final mean is in bold. Overlapping CIs mean the seeds do "
            "not separate the points: add seeds before choosing.",
            "",
            tables.sweeps_markdown(computed.sweeps),
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
        tables.regressions_markdown(returns),
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
        tables.aggregate_markdown(aggregate),
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


def _summary(console: Console, returns: pd.DataFrame, claims: pd.DataFrame) -> None:
    table = Table(title="returns against the papers")
    for col in ("task", "algorithm", "env step", "ours", "seeds", "paper", "verdict", "detectable", "seeds ±10/25%"):
        table.add_column(col, justify="right" if col in ("env step", "seeds", "detectable") else "left")
    for r in returns.to_dict("records"):
        judged = isinstance(r.get("verdict_text"), str)
        step = f"{r['env_step']:,}" + (f" (window {r['window']})" if r.get("window") else "")
        table.add_row(
            Text(str(r["task"])),
            Text(str(r["algorithm"])),
            step,
            f"{fmt(r['ours_mean'])} ± {fmt(r['ours_std'])}",
            str(r["seeds"]),
            fmt(r["paper_mean"]),
            Text(r["verdict_text"] if judged else r["verdict"], style=VERDICT_STYLE.get(r["verdict"], "")),
            pct(r["detectable_pct"]) if judged else "–",
            f"{seeds_text(r['seeds_10'])} / {seeds_text(r['seeds_25'])}" if judged else "–",
        )
    console.print(table)
    if "ref_verdict" in returns:
        for r in returns[returns["ref_verdict"] == "worse"].to_dict("records"):
            console.print(
                Text.assemble(
                    ("worse than the reference runs: ", "red"),
                    f"{r['task']} / {r['algorithm']} at {r['env_step']:,} steps: {fmt(r['ours_mean'])} against "
                    f"{fmt(r['ref_mean'])} ({r['ref_verdict_text']})",
                )
            )
    ran = claims[claims["verdict"] != "not run"]
    for r in ran.to_dict("records"):
        console.print(
            f"claim ({r['paper']}) {r['claim']} on {r['task']}: {r['test_verdict_text']}, P(ours > baseline) = "
            f"{fmt(r['poi'], 2)} -> {r['verdict']}",
            highlight=False,
            markup=False,
        )
