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

from mbrlbench.report.load import load_runs  # noqa: E402
from mbrlbench.rundir import CONFIG, PROGRESS, STATUS, RunState, read_state  # noqa: E402

TARGET = ROOT / "results" / "reference"
README = ROOT / "results" / "README.md"
BEGIN, END = "<!-- reference-table: begin -->", "<!-- reference-table: end -->"


def ship(campaign: Path, partial: bool) -> list[Path]:
    shipped = []
    for progress in sorted(campaign.rglob(PROGRESS)):
        run_dir = progress.parent
        if read_state(run_dir) != RunState.COMPLETED and not partial:
            continue
        target = TARGET / run_dir.relative_to(campaign)
        target.mkdir(parents=True, exist_ok=True)
        for name in (PROGRESS, CONFIG, STATUS):
            shutil.copy2(run_dir / name, target / name)
        shipped.append(target)
    return shipped


def table() -> str:
    runs = load_runs(TARGET).runs
    lines = [
        "| task | algorithm | seeds | state | end env step | final return: mean ± std | commit |",
        "|---|---|---:|---|---:|---:|---|",
    ]
    configs = load_runs(TARGET).configs
    for (task, algo), group in runs.groupby(["task", "algorithm"], sort=True):
        states = ", ".join(f"{n} {s}" for s, n in group["state"].value_counts().items())
        done = group["state"].eq("completed").all()
        commits = {str((configs[d].get("recorded") or {}).get("git_commit", "?"))[:7] for d in group["run_dir"]}
        spread = group["last_return"].std(ddof=1) if len(group) > 1 else float("nan")
        lines.append(
            f"| {task} | {algo} | {len(group)} | {states}{'' if done else ' (partial)'} | "
            f"{int(group['last_step'].min()):,} | {group['last_return'].mean():,.1f} ± {spread:,.1f} | "
            f"{', '.join(sorted(commits))} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("campaign", type=Path, help="the suite folder of a campaign, e.g. /work/refruns/reference")
    parser.add_argument("--partial", action="store_true", help="also copy unfinished runs (marked partial)")
    args = parser.parse_args()
    shipped = ship(args.campaign, args.partial)
    text = README.read_text()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        README.write_text(head + BEGIN + "\n" + table() + "\n" + END + rest.split(END, 1)[1])
    print(f"shipped {len(shipped)} runs into {TARGET}")


if __name__ == "__main__":
    main()
