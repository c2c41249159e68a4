"""The suite's live view, built from the run folders alone, so every launcher (local pool, Ray, Slurm) and
``mbrlbench status`` show the same table."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path

from rich.table import Table

from mbrlbench.runner.files import read_json
from mbrlbench.runner.lock import STALE_SECONDS
from mbrlbench.suite import RunSpec

STATE_STYLE = {
    "completed": "green",
    "running": "cyan",
    "failed": "red",
    "interrupted": "yellow",
    "stale": "magenta",
    "pending": "dim",
}


def _eta(remaining: int, rate: float | None) -> str:
    if not rate or rate <= 0 or remaining <= 0:
        return "–"
    seconds = remaining / rate
    return f"{seconds / 3600:.1f} h" if seconds > 5400 else f"{seconds / 60:.0f} min"


def run_status(run_dir: Path) -> dict:
    """status.json, with 'running' turned 'stale' when its heartbeat is too old (a dead run)."""
    status = read_json(run_dir / "status.json") or {"state": "pending"}
    if status.get("state") == "running" and time.time() - float(status.get("heartbeat_unix", 0)) > STALE_SECONDS:
        status["state"] = "stale"
    return status


def status_rows(run_dirs: Sequence[Path]) -> list[dict]:
    rows = []
    for run_dir in run_dirs:
        s = run_status(run_dir)
        parts = run_dir.parts
        rows.append(
            {
                "run": "/".join(parts[-3:]),
                "state": s.get("state", "pending"),
                "env_step": int(s.get("env_step") or 0),
                "budget": s.get("env_steps"),
                "last_return": s.get("last_return"),
                "sps": s.get("steps_per_second"),
                "host": s.get("host", ""),
                "error": s.get("error"),
            }
        )
    return rows


def status_table(run_dirs: Sequence[Path], title: str) -> Table:
    rows = status_rows(run_dirs)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    caption = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    table = Table(title=title, caption=caption)
    for col, justify in (
        ("run", "left"),
        ("state", "left"),
        ("env step / budget", "right"),
        ("last return", "right"),
        ("steps/s", "right"),
        ("ETA", "right"),
        ("host", "left"),
    ):
        table.add_column(col, justify=justify)
    for r in rows:
        budget = int(r["budget"]) if r["budget"] else 0
        style = STATE_STYLE.get(r["state"], "")
        last = r["last_return"]
        state = r["state"] + (f": {r['error']}" if r["state"] == "failed" and r["error"] else "")
        table.add_row(
            r["run"],
            f"[{style}]{state}[/{style}]" if style else state,
            f"{r['env_step']:,} / {budget:,}" if budget else f"{r['env_step']:,}",
            f"{last:,.1f}" if isinstance(last, float | int) and math.isfinite(last) else "–",
            f"{r['sps']:.1f}" if r["sps"] and r["state"] == "running" else "–",
            _eta(budget - r["env_step"], r["sps"]) if r["state"] == "running" else "–",
            r["host"] or "",
        )
    return table


def discover_runs(path: Path) -> list[Path]:
    """Every run folder (holding a status.json or config.yaml) under ``path``."""
    found = {p.parent for pattern in ("status.json", "config.yaml") for p in Path(path).rglob(pattern)}
    return sorted(d for d in found if d.name.startswith("seed"))


def run_dirs_of(runs: Sequence[RunSpec], out: Path) -> list[Path]:
    return [r.run_dir(out) for r in runs]
