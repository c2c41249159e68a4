"""The suite's live view, built from the run folders alone, so every launcher (local pool, Ray, Slurm) and
``mbrlbench status`` show the same table."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from mbrlbench.rundir import BAD_FIELDS, RunState, parse_run_path, read_status
from mbrlbench.runner.lock import STALE_SECONDS

STATE_STYLE = {
    RunState.COMPLETED: "green",
    RunState.RUNNING: "cyan",
    RunState.FAILED: "red",
    RunState.INTERRUPTED: "yellow",
    RunState.STALE: "magenta",
    RunState.PENDING: "dim",
}


def _eta(remaining: int, rate: float | None) -> str:
    if not rate or rate <= 0 or remaining <= 0:
        return "–"
    seconds = remaining / rate
    return f"{seconds / 3600:.1f} h" if seconds > 5400 else f"{seconds / 60:.0f} min"


def run_status(run_dir: Path) -> dict[str, Any]:
    """status.json (state PENDING when absent), with RUNNING turned STALE when its heartbeat is too old
    (a dead run)."""
    status = read_status(run_dir)
    heartbeat = float(status.get("heartbeat_unix") or 0)
    if status["state"] == RunState.RUNNING and time.time() - heartbeat > STALE_SECONDS:
        status["state"] = RunState.STALE
    return status


def status_rows(run_dirs: Sequence[Path]) -> list[dict[str, Any]]:
    rows = []
    for run_dir in run_dirs:
        s = run_status(run_dir)
        key = parse_run_path(run_dir)
        rows.append(
            {
                "run": key.label if key else str(run_dir),
                "state": s["state"],
                "env_step": int(s.get("env_step") or 0),
                "budget": s.get("env_steps"),
                "last_return": s.get("last_return"),
                "sps": s.get("steps_per_second"),
                "host": s.get("host", ""),
                "error": s.get("error"),
                "bad": s.get(BAD_FIELDS, []),
            }
        )
    return rows


def _row_cells(r: dict[str, Any]) -> tuple[str | Text, ...]:
    """One table row; names, errors and hosts are data, shown as written (never read as rich markup)."""
    budget = int(r["budget"]) if r["budget"] else 0
    state = str(r["state"])
    style = STATE_STYLE.get(r["state"], "")
    if r["state"] == RunState.FAILED and r["error"]:
        state += f": {r['error']}"
    if r["bad"]:
        state += f" (status.json: {', '.join(r['bad'])} not a number)"
    last = r["last_return"]
    running = r["state"] == RunState.RUNNING
    return (
        Text(r["run"]),
        Text(state, style=style),
        f"{r['env_step']:,} / {budget:,}" if budget else f"{r['env_step']:,}",
        f"{last:,.1f}" if isinstance(last, float | int) and math.isfinite(last) else "–",
        f"{r['sps']:.1f}" if r["sps"] and running else "–",
        _eta(budget - r["env_step"], r["sps"]) if running else "–",
        Text(str(r["host"] or "")),
    )


def status_table(run_dirs: Sequence[Path], title: str) -> Table:
    rows = status_rows(run_dirs)
    counts: dict[str, int] = {}
    for r in rows:
        counts[str(r["state"])] = counts.get(str(r["state"]), 0) + 1
    caption = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    table = Table(title=Text(title), caption=caption)
    for col, justify in (
        ("run", "left"),
        ("state", "left"),
        ("env step / budget", "right"),
        ("last return", "right"),
        ("steps/s", "right"),
        ("ETA", "right"),
        ("host", "left"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(*_row_cells(r))
    return table
