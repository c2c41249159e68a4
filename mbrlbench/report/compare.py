"""``mbrlbench compare A B``: two result sets, cell by cell ((task, algorithm) at matched env steps), with a
verdict per cell and a gate for CI (``--fail-if-worse``).

The rule is the report's (``verdicts.py``): Welch's t on the seeds of each side; ``equivalent`` when the 90%
CI of mean(A) - mean(B) lies within +-delta * |mean(B)|, else ``worse`` / ``better`` when the 95% CI excludes 0,
else ``consistent`` with the margin it does establish; ``too few seeds`` below 3 a side. Each row states
the difference it could detect (80% power) and the seeds per side that would resolve +-10% and +-25%. A cell
on one side only is listed as such.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mbrlbench.errors import UserInputError
from mbrlbench.report import stats, verdicts
from mbrlbench.report.format import pct
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
    "poi",
    "poi_low",
    "poi_high",
    "verdict",
    "verdict_text",
    "diff",
    "diff_low",
    "diff_high",
    "margin_pct",
    "detectable",
    "detectable_pct",
    "seeds_10",
    "seeds_25",
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
    judgement = verdicts.against_runs(va, vb, delta)
    poi, poi_low, poi_high = stats.poi_with_ci(va, vb) if len(va) and len(vb) else (math.nan,) * 3
    ci_a, ci_b = stats.mean_ci(va), stats.mean_ci(vb)
    side_a = (len(va), float(np.mean(va)), *ci_a)
    side_b = (len(vb), float(np.mean(vb)), *ci_b)
    row = dict(zip(COLUMNS, (task, algo, step, *side_a, *side_b, poi, poi_low, poi_high), strict=False))
    return {**row, **judgement.fields()}


def _one_sided(task: str, algo: str, side: str, curves: pd.DataFrame) -> dict:
    row: dict = dict.fromkeys(COLUMNS, math.nan)
    row.update(task=task, algorithm=algo, env_step=int(curves["env_step"].max()), verdict=f"only in {side}")
    row[f"seeds_{side.lower()}"] = curves["run_dir"].nunique()
    return row


def _required_only(column: str) -> bool:
    """The loader keeps only the columns a comparison reads (the required ones and each run's metric)."""
    return False


def compare(
    path_a: Path,
    path_b: Path,
    steps: list[int] | None = None,
    delta: float = 0.10,
    variants: tuple[str, str] | None = None,
) -> Comparison:
    """Every (task, algorithm) cell of A against B. ``variants=(x, y)``: one result set (A), algorithm x
    against algorithm y on each task, reported under the name ``x:y``."""
    la = load_runs(path_a, wanted=_required_only)
    if la.curves.empty:
        raise UserInputError(f"{path_a}: no readable run (no progress.csv with rows under it)")
    lb = la if variants else load_runs(path_b, wanted=_required_only)
    if lb.curves.empty:
        raise UserInputError(f"{path_b}: no readable run (no progress.csv with rows under it)")
    curves_a, curves_b = la.curves, lb.curves
    if variants:
        x, y = variants
        known = sorted(curves_a["algorithm"].unique())
        for name in (x, y):
            if name not in known:
                raise UserInputError(f"--variants: {name!r} is not an algorithm of {path_a}; known: {', '.join(known)}")
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
    """``A - B [95% CI]``; the CI needs enough seeds on each side."""
    if math.isfinite(low) and math.isfinite(high):
        return f"{diff:+,.1f} [{low:+,.1f}, {high:+,.1f}]"
    if not math.isfinite(diff):
        return "–"
    return f"{diff:+,.1f} [no CI: < {verdicts.MIN_SEEDS} seeds]"


def power_text(r) -> tuple[str, str]:
    """(the difference detectable with 80% power, the seeds per side for +-10% / +-25%) of one row."""
    detect = f"{pct(r.detectable_pct)} ({r.detectable:,.0f})" if math.isfinite(r.detectable) else "–"
    return detect, f"{verdicts.seeds_text(r.seeds_10)} / {verdicts.seeds_text(r.seeds_25)}"


def compare_markdown(table: pd.DataFrame, name_a: str, name_b: str, delta: float) -> str:
    lines = [
        f"# {name_a} (A) against {name_b} (B)",
        "",
        f"Verdict (Welch's t, {verdicts.MIN_SEEDS}+ seeds a side): `equivalent` when the 90% CI of mean(A) - mean(B) "
        f"lies within ±{delta:.0%} of |mean(B)|; else `worse` / `better` when its 95% CI excludes 0; else "
        "`consistent`, within the margin the 90% CI does establish. *Detectable*: the difference found with 80% "
        "probability at these seeds and spreads; *seeds*: per side, to resolve ±10% / ±25% (docs/report.md).",
        "",
        "| task | algorithm | env step | A (seeds) | B (seeds) | A - B [95% CI] | P(A > B) | verdict | detectable "
        "(80% power) | seeds for ±10% / ±25% |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for r in table.itertuples():
        if str(r.verdict).startswith("only in"):
            lines.append(f"| {r.task} | {r.algorithm} | {r.env_step:,.0f} | | | | | {r.verdict} | | |")
            continue
        detect, seeds = power_text(r)
        text = r.verdict_text if isinstance(r.verdict_text, str) else r.verdict
        lines.append(
            f"| {r.task} | {r.algorithm} | {r.env_step:,} | {r.mean_a:,.1f} ({r.seeds_a}) | {r.mean_b:,.1f} "
            f"({r.seeds_b}) | {difference_text(r.diff, r.diff_low, r.diff_high)} | {r.poi:.2f} | "
            f"**{text}** | {detect} | {seeds} |"
        )
    return "\n".join(lines) + "\n"
