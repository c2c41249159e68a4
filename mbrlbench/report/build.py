"""``mbrlbench report``: load -> statistics -> figures and tables -> index.md and a terminal summary."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mbrlbench.errors import UserInputError
from mbrlbench.report import claims, index, plots, sweeps, tables, writers
from mbrlbench.report.format import fmt, pct, write
from mbrlbench.report.load import Loaded, load_runs
from mbrlbench.report.references import official_mbpo_curves, paper_results
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
            sweeps=sweeps.sweep_table(own, configs),
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
            result.files.append(index.write_index(stage, path, loaded, own_runs, computed, delta, result))
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
        files.append(write(out / "returns.tex", writers.returns_latex(computed.returns)))
    if "md" in fmt:
        files.append(write(out / "returns.md", writers.returns_markdown(computed.returns)))
        files.append(write(out / "claims.md", claims.claims_markdown(computed.claims)))
        if len(computed.aggregate):
            files.append(write(out / "aggregate.md", writers.aggregate_markdown(computed.aggregate)))
        if len(computed.auc):
            files.append(write(out / "auc.md", writers.auc_markdown(computed.auc)))
        if len(computed.sweeps):
            files.append(write(out / "sweeps.md", sweeps.sweeps_markdown(computed.sweeps)))
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
