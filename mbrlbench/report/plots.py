"""Figures: learning curves with the papers overlaid, return against wall-clock, aggregates, profiles.

Every figure uses the same color per algorithm (``color_of``), thousands separators and a legend set
below the panels, clear of the data.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FuncFormatter, MaxNLocator

from mbrlbench.algorithms.catalog import ORDER
from mbrlbench.report import stats
from mbrlbench.report.sweeps import swept_columns

KNOWN_ORDER = list(ORDER)  # the catalog's order: each algorithm keeps its colour in every figure
_PALETTE = sns.color_palette("colorblind", 10) + sns.color_palette("dark", 10)
THOUSANDS = FuncFormatter(lambda x, _: f"{x:,.0f}")


def color_of(algorithm: str, all_algorithms: list[str] | None = None) -> tuple[float, float, float]:
    """Known algorithms keep one color in every figure and report; others follow in sorted order."""
    if algorithm in KNOWN_ORDER:
        return _PALETTE[KNOWN_ORDER.index(algorithm)]
    extras = sorted(a for a in (all_algorithms or [algorithm]) if a not in KNOWN_ORDER)
    return _PALETTE[(len(KNOWN_ORDER) + extras.index(algorithm)) % len(_PALETTE)]


def _grid(n: int) -> tuple[plt.Figure, list[plt.Axes]]:
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.9 * rows + 0.7), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _legend(fig: plt.Figure, axes: list[plt.Axes]) -> None:
    handles, labels = {}, {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles[lab], labels[lab] = h, lab
    if handles:
        fig.legend(
            handles.values(),
            handles.keys(),
            loc="lower center",
            ncol=min(len(handles), 4),
            frameon=False,
            bbox_to_anchor=(0.5, 0.0),
        )
    fig.tight_layout(rect=(0, 0.06 + 0.03 * math.ceil(len(handles) / 4), 1, 1))


def _seed_matrix(
    df: pd.DataFrame, x: str = "env_step", value: str = "eval_return_mean"
) -> tuple[np.ndarray, np.ndarray, int]:
    pivot = df.pivot_table(index="run_dir", columns=x, values=value, aggfunc="last", dropna=False)
    return pivot.columns.to_numpy(dtype=float), pivot.to_numpy(dtype=float), pivot.shape[0]


def draw_mean_band(
    ax: plt.Axes,
    df: pd.DataFrame,
    label: str,
    color: tuple[float, float, float],
    dashed: bool = False,
    value: str = "eval_return_mean",
) -> None:
    """Mean over seeds, and a 95% percentile-bootstrap band where >= 3 seeds have a value."""
    steps, matrix, _ = _seed_matrix(df, value=value)
    if not np.isfinite(matrix).any():
        return
    counts = np.sum(~np.isnan(matrix), axis=0)
    with warnings.catch_warnings():  # a step where no seed logged the value: NaN, drawn as a gap
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(matrix, axis=0)
    low, high = np.full(len(steps), np.nan), np.full(len(steps), np.nan)
    full = counts == matrix.shape[0]
    if full.any():
        low[full], high[full] = stats.mean_band(matrix[:, full])
    for j in np.flatnonzero(~full & (counts >= stats.MIN_SEEDS_FOR_BAND)):
        col = matrix[:, j]
        (low[j],), (high[j],) = stats.mean_band(col[~np.isnan(col)][:, None])  # one column: one band each
    style = "--" if dashed else "-"
    n_seeds = matrix.shape[0]
    ax.plot(steps, mean, style, color=color, lw=1.8, label=f"{label} ({n_seeds} seed{'s' * (n_seeds != 1)})")
    if np.isfinite(low).any():
        ax.fill_between(steps, low, high, color=color, alpha=0.18 if not dashed else 0.08, lw=0)


def curve_label(df: pd.DataFrame, algo: str) -> str:
    """The algorithm's name, with the column plotted when it is not the deterministic evaluation (MB-MPO's
    paper metric, the stochastic pre-update return)."""
    metrics = set(df["metric"].dropna()) - {"eval_return_mean"} if "metric" in df else set()
    return f"{algo} [{', '.join(sorted(metrics))}]" if metrics else algo


def learning_curves(
    curves: pd.DataFrame,
    papers: pd.DataFrame,
    official: pd.DataFrame,
    path_stem: Path,
    formats: list[str],
    reference_curves: pd.DataFrame | None = None,
) -> list[Path]:
    tasks = sorted(curves["task"].unique())
    algorithms = sorted(curves["algorithm"].unique(), key=lambda a: (a not in KNOWN_ORDER, a))
    fig, axes = _grid(len(tasks))
    for ax, task in zip(axes, tasks, strict=True):
        here = curves[curves["task"] == task]
        xmax = here["env_step"].max()
        for algo in algorithms:
            sub = here[here["algorithm"] == algo]
            if sub.empty:
                continue
            color = color_of(algo, algorithms)
            off = official[
                (official["algorithm"] == algo) & (official["task"] == task) & (official["env_steps"] <= xmax * 1.05)
            ]
            if not off.empty:  # the algorithm's official curve, behind its line
                ax.fill_between(
                    off["env_steps"],
                    off["return_mean"] - off["return_std"],
                    off["return_mean"] + off["return_std"],
                    color="0.6",
                    alpha=0.25,
                    lw=0,
                    label=f"{algo} paper (official curve, mean ± std)",
                )
            if reference_curves is not None:
                ref = reference_curves[(reference_curves["task"] == task) & (reference_curves["algorithm"] == algo)]
                if not ref.empty:
                    draw_mean_band(ax, ref, f"{algo} (mbrlbench reference)", color, dashed=True)
            draw_mean_band(ax, sub, curve_label(sub, algo), color)
            pts = papers[
                (papers["task"] == task) & (papers["algorithm"] == algo) & (papers["env_steps"] <= xmax * 1.05)
            ]
            for low_conf, marker in ((False, "o"), (True, "D")):
                sel = pts[(pts["confidence"].isin(["low", "recalled"])) == low_conf]
                if sel.empty:
                    continue
                ax.errorbar(
                    sel["env_steps"],
                    sel["return_mean"],
                    yerr=sel["return_std"].fillna(0),
                    fmt=marker,
                    color=color,
                    mfc="white" if low_conf else color,
                    ms=5,
                    capsize=2,
                    lw=1,
                    zorder=5,
                    label="paper number" + (" (low confidence)" if low_conf else ""),
                )
        ax.set_title(task)
        ax.set_xlabel("env steps")
        ax.set_ylabel("evaluation return")
        ax.xaxis.set_major_locator(MaxNLocator(5))  # thousands-separated labels need room
        ax.xaxis.set_major_formatter(THOUSANDS)
        ax.yaxis.set_major_formatter(THOUSANDS)
        ax.grid(alpha=0.3)
    _legend(fig, axes)
    return _save(fig, path_stem, formats)


def wallclock(curves: pd.DataFrame, path_stem: Path, formats: list[str]) -> list[Path]:
    """Return against wall-clock time (hours, or minutes for short runs): each seed a thin line."""
    tasks = sorted(curves["task"].unique())
    algorithms = sorted(curves["algorithm"].unique())
    hours = curves["wall_time_s"].max() > 3600  # short runs read better in minutes
    scale, unit = (3600, "hours") if hours else (60, "minutes")
    fig, axes = _grid(len(tasks))
    for ax, task in zip(axes, tasks, strict=True):
        here = curves[curves["task"] == task]
        for algo in algorithms:
            for i, (_, run) in enumerate(here[here["algorithm"] == algo].groupby("run_dir")):
                ax.plot(
                    run["wall_time_s"] / scale,
                    run["eval_return_mean"],
                    color=color_of(algo, algorithms),
                    lw=1.2,
                    alpha=0.8,
                    label=algo if i == 0 else None,
                )
        ax.set_title(task)
        ax.set_xlabel(f"wall-clock {unit}")
        ax.set_ylabel("evaluation return")
        ax.yaxis.set_major_formatter(THOUSANDS)
        ax.grid(alpha=0.3)
    _legend(fig, axes)
    return _save(fig, path_stem, formats)


DIAGNOSTIC_DEFAULTS = (
    ("model/kstep_error_", "model k-step error (normalized)"),
    ("sac/q_bias", "critic bias: Q(s0, a0) - discounted return"),
    ("sac/alpha", "SAC temperature alpha"),
)


def default_diagnostics(columns: list[str]) -> list[str]:
    """The columns ``diagnostics.png`` shows where present: the model's k-step errors (every k logged), the
    critic's bias and SAC's temperature."""
    chosen = []
    for prefix, _ in DIAGNOSTIC_DEFAULTS:
        chosen += sorted((c for c in columns if c.startswith(prefix)), key=_kstep_order)
    return chosen


def _kstep_order(column: str) -> tuple[int, str]:
    tail = column.rpartition("_")[2]
    return (int(tail), column) if tail.isdigit() else (10**9, column)


def metric_curves(curves: pd.DataFrame, metrics: list[str], path_stem: Path, formats: list[str]) -> list[Path]:
    return _save(metric_figure(curves, metrics), path_stem, formats)


def metric_figure(curves: pd.DataFrame, metrics: list[str]) -> plt.Figure:
    """One row of panels per metric, one panel per task: each algorithm's mean over seeds with a bootstrap
    band, as ``curves.png`` does for the return. Algorithms that do not log a metric are left out of its row."""
    tasks = sorted(curves["task"].unique())
    algorithms = sorted(curves["algorithm"].unique(), key=lambda a: (a not in KNOWN_ORDER, a))
    cols = len(tasks)
    fig, grid = plt.subplots(len(metrics), cols, figsize=(5.2 * cols, 3.6 * len(metrics) + 0.7), squeeze=False)
    for row, metric in zip(grid, metrics, strict=True):
        for ax, task in zip(row, tasks, strict=True):
            here = curves[curves["task"] == task]
            for algo in algorithms:
                sub = here[here["algorithm"] == algo]
                if metric in sub and sub[metric].notna().any():
                    draw_mean_band(ax, sub, algo, color_of(algo, algorithms), value=metric)
            ax.set_title(f"{task}: {metric}", fontsize=10)
            ax.set_xlabel("env steps")
            ax.xaxis.set_major_locator(MaxNLocator(5))
            ax.xaxis.set_major_formatter(THOUSANDS)
            ax.grid(alpha=0.3)
    _legend(fig, list(grid.flat))
    return fig


def compare_curves(
    a: pd.DataFrame, b: pd.DataFrame, names: tuple[str, str], path_stem: Path, formats: list[str]
) -> list[Path]:
    """``mbrlbench compare``: per task, each algorithm's mean and band on side A (solid) and B (dashed)."""
    both = pd.concat([a, b])
    tasks = sorted(both["task"].unique())
    algorithms = sorted(both["algorithm"].unique(), key=lambda x: (x not in KNOWN_ORDER, x))
    fig, axes = _grid(len(tasks))
    for ax, task in zip(axes, tasks, strict=True):
        for algo in algorithms:
            color = color_of(algo, algorithms)
            for side, name, dashed in ((a, names[0], False), (b, names[1], True)):
                sub = side[(side["task"] == task) & (side["algorithm"] == algo)]
                if len(sub):
                    draw_mean_band(ax, sub, f"{algo} ({name})", color, dashed=dashed)
        ax.set_title(task)
        ax.set_xlabel("env steps")
        ax.set_ylabel("evaluation return")
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.xaxis.set_major_formatter(THOUSANDS)
        ax.grid(alpha=0.3)
    _legend(fig, axes)
    return _save(fig, path_stem, formats)


def aggregates(table: pd.DataFrame, path_stem: Path, formats: list[str]) -> list[Path]:
    """IQM and mean of normalized scores with their stratified bootstrap CIs, one row per algorithm."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 0.6 * len(table) + 1.6), squeeze=False)
    algorithms = list(table["algorithm"])
    for ax, metric in zip(axes[0], ("iqm", "mean"), strict=True):
        for i, row in table.reset_index(drop=True).iterrows():
            color = color_of(row["algorithm"], algorithms)
            lo, hi = row[f"{metric}_low"], row[f"{metric}_high"]
            if np.isfinite(lo):
                ax.plot([lo, hi], [i, i], color=color, lw=6, alpha=0.4, solid_capstyle="butt")
            ax.plot([row[metric]], [i], "|", color=color, ms=14, mew=2)
        ax.set_yticks(range(len(table)), algorithms)
        ax.set_title({"iqm": "IQM", "mean": "mean"}[metric] + " of normalized score")
        ax.set_xlabel("normalized score (0 = random policy, 1 = reference)")
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path_stem, formats)


def sample_efficiency(table: pd.DataFrame, path_stem: Path, formats: list[str]) -> list[Path]:
    """rliable's sample-efficiency curve: IQM of normalized score against env steps, one line per algorithm,
    with its task-stratified 95% bootstrap band."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    algorithms = sorted(table["algorithm"].unique())
    for algo in algorithms:
        sub = table[table["algorithm"] == algo].sort_values("env_step")
        color = color_of(algo, algorithms)
        tasks = int(sub["tasks"].max())
        ax.plot(sub["env_step"], sub["iqm"], color=color, lw=1.8, label=f"{algo} ({tasks} task{'s' * (tasks > 1)})")
        if sub["iqm_low"].notna().any():
            ax.fill_between(sub["env_step"], sub["iqm_low"], sub["iqm_high"], color=color, alpha=0.2, lw=0)
    ax.set_xlabel("env steps")
    ax.set_ylabel("IQM of normalized score")
    ax.xaxis.set_major_formatter(THOUSANDS)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return _save(fig, path_stem, formats)


def sweeps(table: pd.DataFrame, path_stem: Path, formats: list[str]) -> list[Path]:
    """One panel per (task, swept entry): each point's return at the sweep's common step, mean over seeds with
    its 95% CI, the points in the table's order (labelled by their recorded swept values)."""
    cells = list(table.groupby(["task", "sweep"], sort=True))
    fig, axes = _grid(len(cells))
    for ax, ((task, source), cell) in zip(axes, cells, strict=True):
        keys = swept_columns(cell)
        labels = ["\n".join(f"{k.removeprefix('hp/')}={row[k]}" for k in keys) for row in cell.to_dict("records")]
        x = np.arange(len(cell))
        mean, low, high = (cell[c].to_numpy(float) for c in ("final_mean", "final_low", "final_high"))
        has_ci = np.isfinite(low)
        err = np.vstack([mean - np.where(has_ci, low, mean), np.where(has_ci, high, mean) - mean])
        color = color_of(str(source))
        ax.errorbar(x, mean, yerr=err, fmt="o", color=color, capsize=4, lw=1.5)
        best = cell["best"].to_numpy(bool)
        ax.plot(x[best], mean[best], "o", ms=11, mfc="none", mec=color, mew=1.5)
        ax.set_xticks(x, labels, fontsize=7)
        ax.set_title(f"{task}: {source} sweep", fontsize=10)
        ax.set_ylabel(f"return at {int(cell['env_step'].iloc[0]):,} steps")
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path_stem, formats)


def performance_profiles(scores: pd.DataFrame, path_stem: Path, formats: list[str]) -> list[Path]:
    """Fraction of runs whose normalized score exceeds tau, per algorithm."""
    fig, ax = plt.subplots(figsize=(6, 4.2))
    algorithms = sorted(scores["algorithm"].unique())
    upper = max(1.2, float(np.nanmax(scores["score"])) if len(scores) else 1.2)
    taus = np.linspace(min(0.0, float(np.nanmin(scores["score"])) if len(scores) else 0.0), upper, 200)
    for algo in algorithms:
        values = scores.loc[scores["algorithm"] == algo, "score"].to_numpy()
        ax.plot(taus, [(values > t).mean() for t in taus], color=color_of(algo, algorithms), lw=1.8, label=algo)
    ax.set_xlabel("normalized score τ")
    ax.set_ylabel("fraction of runs with score > τ")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    fig.tight_layout()
    return _save(fig, path_stem, formats)


def _save(fig: plt.Figure, path_stem: Path, formats: list[str]) -> list[Path]:
    written = []
    for fmt in formats:
        if fmt in ("png", "pdf"):
            path = path_stem.with_suffix(f".{fmt}")
            fig.savefig(path, dpi=150 if fmt == "png" else None, bbox_inches="tight")  # legends never clipped
            written.append(path)
    plt.close(fig)
    return written
