"""Copy a campaign's runs into ``results/reference/`` (the reference runs `report` and `compare` test against)
and rewrite the table of ``results/README.md`` between its markers.

    python benchmarks/ship_reference.py CAMPAIGN/reference [--partial]

Only ``progress.csv``, ``config.yaml`` and ``status.json`` travel (no checkpoints, no policies). Completed runs
are copied; with ``--partial`` unfinished runs are copied too, and the table marks them partial with their end
step. A run already shipped is replaced (the campaign's copy is newer or the same).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from mbrlbench.report.load import DETERMINISTIC_COLUMN, load_runs  # noqa: E402
from mbrlbench.rundir import CONFIG, PROGRESS, STATUS, RunState, read_state  # noqa: E402

TARGET = ROOT / "results" / "reference"
README = ROOT / "results" / "README.md"
BEGIN, END = "<!-- reference-table: begin -->", "<!-- reference-table: end -->"


def ship(campaign: Path, partial: bool, target: Path = TARGET) -> list[Path]:
    """Copy the three files of each completed (or, with ``partial``, each) run of ``campaign`` under ``target``."""
    shipped = []
    for progress in sorted(campaign.rglob(PROGRESS)):
        run_dir = progress.parent
        if read_state(run_dir) != RunState.COMPLETED and not partial:
            continue
        into = target / run_dir.relative_to(campaign)
        into.mkdir(parents=True, exist_ok=True)
        for name in (PROGRESS, CONFIG, STATUS):
            shutil.copy2(run_dir / name, into / name)
        shipped.append(into)
    return shipped


def _last_deterministic(curves: pd.DataFrame, run_dir: str) -> float:
    """A run's last deterministic evaluation: the runner's own, kept aside where the paper's metric replaced it."""
    rows = curves[curves["run_dir"] == run_dir]
    column = (
        DETERMINISTIC_COLUMN
        if DETERMINISTIC_COLUMN in rows and rows[DETERMINISTIC_COLUMN].notna().any()
        else "eval_return_mean"
    )
    return float(rows[column].dropna().iloc[-1])


def _metric_name(metric: str) -> str:
    """The CSV column a cell is judged on, as the table names it."""
    return "deterministic eval" if metric == "eval_return_mean" else f"{metric} (the paper's)"


def _mean_std(values: pd.Series) -> str:
    spread = f"{values.std(ddof=1):,.1f}" if len(values) > 1 else "–"
    return f"{values.mean():,.1f} ± {spread}"


def table(target: Path = TARGET) -> str:
    """One row per (task, algorithm) of the shipped runs: seeds, states, end step, metric, final returns."""
    loaded = load_runs(target)
    lines = [
        "| task | algorithm | seeds | state | end env step | metric | final metric: mean ± std "
        "| final deterministic eval: mean ± std | commit |",
        "|---|---|---:|---|---:|---|---:|---:|---|",
    ]
    for (task, algo), group in loaded.runs.groupby(["task", "algorithm"], sort=True):
        states = ", ".join(f"{n} {s}" for s, n in group["state"].value_counts().items())
        done = group["state"].eq("completed").all()
        commits = {str((loaded.configs[d].get("recorded") or {}).get("git_commit", "?"))[:7] for d in group["run_dir"]}
        deterministic = pd.Series([_last_deterministic(loaded.curves, d) for d in group["run_dir"]])
        lines.append(
            f"| {task} | {algo} | {len(group)} | {states}{'' if done else ' (partial)'} | "
            f"{int(group['last_step'].min()):,} | {', '.join(sorted(set(group['metric'].map(_metric_name))))} | "
            f"{_mean_std(group['last_return'])} | {_mean_std(deterministic)} | {', '.join(sorted(commits))} |"
        )
    return "\n".join(lines)


def rewrite_table(readme: Path, text: str) -> None:
    """Replace what lies between the README's markers (the file is left alone without them)."""
    content = readme.read_text()
    if BEGIN in content and END in content:
        head, rest = content.split(BEGIN, 1)
        readme.write_text(head + BEGIN + "\n" + text + "\n" + END + rest.split(END, 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("campaign", type=Path, help="the suite folder of a campaign, e.g. /work/refruns/reference")
    parser.add_argument("--partial", action="store_true", help="also copy unfinished runs (marked partial)")
    args = parser.parse_args()
    shipped = ship(args.campaign, args.partial)
    rewrite_table(README, table())
    print(f"shipped {len(shipped)} runs into {TARGET}")


if __name__ == "__main__":
    main()
