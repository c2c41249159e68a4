"""``mbrlbench compare A B``: two result sets, cell by cell ((task, algorithm) at matched env steps), with a
verdict per cell and a gate for CI (``--fail-if-worse``).

The rule follows the report's: with at least 5 seeds on each side, ``equivalent`` when the 95% bootstrap CI
of mean(A) - mean(B) lies within +-delta * |mean(B)|, ``worse`` / ``better`` when it lies entirely below /
above that band, else ``inconclusive`` (also with fewer seeds). A cell on one side only is listed as such.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mbrlbench.report import stats
from mbrlbench.report.load import load_runs

COLUMNS = (
    "task",
    "algorithm",
    "env_step",
    "seeds_a",
    "mean_a",
    "low_a",
    "high_a",
    "seeds_b",
    "mean_b",
    "low_b",
    "high_b",
    "diff",
    "diff_low",
    "diff_high",
    "poi",
    "poi_low",
    "poi_high",
    "verdict",
)


@dataclass
class Comparison:
    table: pd.DataFrame
    curves_a: pd.DataFrame
    curves_b: pd.DataFrame
    warnings: list[str] = field(default_factory=list)

    @property
    def worse(self) -> pd.DataFrame:
        return self.table[self.table["verdict"] == "worse"]


def _steps(a: pd.DataFrame, b: pd.DataFrame, extra: list[int]) -> list[int]:
    """The largest step every run of the cell reached on both sides, and the asked-for steps below it."""
    reached = min(int(df.groupby("run_dir")["env_step"].max().min()) for df in (a, b))
    return sorted({reached, *(s for s in extra if s <= reached)})


def _row(task: str, algo: str, step: int, a: pd.DataFrame, b: pd.DataFrame, delta: float) -> dict:
    va = stats.values_at_step(a, step)["value"].dropna().to_numpy()
    vb = stats.values_at_step(b, step)["value"].dropna().to_numpy()
    label, low, high = stats.compare_verdict(va, vb, delta)
    poi, poi_low, poi_high = stats.poi_with_ci(va, vb) if len(va) and len(vb) else (math.nan,) * 3
    ci_a, ci_b = stats.mean_ci(va), stats.mean_ci(vb)
    side_a = (len(va), float(np.mean(va)), *ci_a)
    side_b = (len(vb), float(np.mean(vb)), *ci_b)
    diff = (float(np.mean(va) - np.mean(vb)), low, high)
    values = (task, algo, step, *side_a, *side_b, *diff, poi, poi_low, poi_high, label)
    return dict(zip(COLUMNS, values, strict=True))


def _one_sided(task: str, algo: str, side: str, curves: pd.DataFrame) -> dict:
    row: dict = dict.fromkeys(COLUMNS, math.nan)
    row.update(task=task, algorithm=algo, env_step=int(curves["env_step"].max()), verdict=f"only in {side}")
    row[f"seeds_{side.lower()}"] = curves["run_dir"].nunique()
    return row


def compare(
    path_a: Path,
    path_b: Path,
    steps: list[int] | None = None,
    delta: float = 0.10,
    variants: tuple[str, str] | None = None,
) -> Comparison:
    """Every (task, algorithm) cell of A against B. ``variants=(x, y)``: one result set (A), algorithm x
    against algorithm y on each task, reported under the name ``x:y``."""
    la = load_runs(path_a)
    lb = la if variants else load_runs(path_b)
    curves_a, curves_b = la.curves, lb.curves
    if variants:
        x, y = variants
        curves_a = curves_a[curves_a["algorithm"] == x].assign(algorithm=f"{x}:{y}")
        curves_b = curves_b[curves_b["algorithm"] == y].assign(algorithm=f"{x}:{y}")
    rows = []
    cells_a = {k: g for k, g in curves_a.groupby(["task", "algorithm"])} if len(curves_a) else {}
    cells_b = {k: g for k, g in curves_b.groupby(["task", "algorithm"])} if len(curves_b) else {}
    for key in sorted(set(cells_a) | set(cells_b)):
        task, algo = str(key[0]), str(key[1])
        if key not in cells_b:
            rows.append(_one_sided(task, algo, "A", cells_a[key]))
        elif key not in cells_a:
            rows.append(_one_sided(task, algo, "B", cells_b[key]))
        else:
            for step in _steps(cells_a[key], cells_b[key], steps or []):
                rows.append(_row(task, algo, step, cells_a[key], cells_b[key], delta))
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table[["seeds_a", "seeds_b"]] = table[["seeds_a", "seeds_b"]].astype("Int64")  # counts, NaN one-sided
    return Comparison(table, curves_a, curves_b, warnings=la.warnings + ([] if variants else lb.warnings))


def difference_text(diff: float, low: float, high: float) -> str:
    """``A - B [95% CI]``; the CI needs two seeds on each side."""
    if math.isfinite(low) and math.isfinite(high):
        return f"{diff:+,.1f} [{low:+,.1f}, {high:+,.1f}]"
    return f"{diff:+,.1f} [no CI: < 2 seeds]"


def compare_markdown(table: pd.DataFrame, name_a: str, name_b: str, delta: float) -> str:
    lines = [
        f"# {name_a} (A) against {name_b} (B)",
        "",
        f"Verdict: 95% bootstrap CI of mean(A) - mean(B) against +-{delta:.0%} of |mean(B)|, with >= "
        f"{stats.MIN_SEEDS_FOR_VERDICT} seeds on each side; P(A > B) is the probability of improvement.",
        "",
        "| task | algorithm | env step | A (seeds) | B (seeds) | A - B [95% CI] | P(A > B) | verdict |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in table.itertuples():
        if str(r.verdict).startswith("only in"):
            lines.append(f"| {r.task} | {r.algorithm} | {r.env_step:,.0f} | | | | | {r.verdict} |")
            continue
        lines.append(
            f"| {r.task} | {r.algorithm} | {r.env_step:,} | {r.mean_a:,.1f} ({r.seeds_a}) | {r.mean_b:,.1f} "
            f"({r.seeds_b}) | {difference_text(r.diff, r.diff_low, r.diff_high)} | {r.poi:.2f} | "
            f"**{r.verdict}** |"
        )
    return "\n".join(lines) + "\n"
