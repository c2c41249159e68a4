"""Sweeps in the report: run names of sweep points parsed back into their hyperparameters, one row per point
(final return, AUC), and the table's Markdown."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mbrlbench.report import stats
from mbrlbench.report.format import fmt
from mbrlbench.report.stats import common_step
from mbrlbench.report.tables import auc_cell


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
            _, auc = auc_cell(sub, until)
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
