"""Finds every run under a folder (any depth) and builds one tidy table; bad files become warnings."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mbrlbench.rundir import (
    DEFAULT_METRIC,
    KEY_COLUMNS,
    PROGRESS,
    REFERENCE_FOLDER,
    REQUIRED_COLUMNS,
    parse_run_path,
    read_config,
    read_status,
)

RUN_COLUMNS = (
    "suite",
    "task",
    "algorithm",
    "base_algorithm",
    "seed",
    "state",
    "fidelity",
    "reference",
    "run_dir",
    "metric",
)
DETERMINISTIC_COLUMN = "eval/deterministic_return"  # the runner's evaluation, where another metric replaces it


@dataclass
class Loaded:
    curves: pd.DataFrame  # one row per (run, evaluation): RUN_COLUMNS + the CSV's columns
    runs: pd.DataFrame  # one row per run: RUN_COLUMNS + last env_step, last return, budget
    warnings: list[str] = field(default_factory=list)
    configs: dict[str, dict] = field(default_factory=dict)  # run_dir -> config.yaml


def _run_meta(run_dir: Path, root: Path) -> dict[str, Any]:
    """Identity of a run from its config.yaml, else from its folder names (rundir's layout)."""
    config = read_config(run_dir)
    key = parse_run_path(run_dir)
    rel = run_dir.relative_to(root).parts if run_dir.is_relative_to(root) else run_dir.parts
    variant = config.get("variant", key.variant if key else "")
    return {
        "suite": config.get("suite", key.suite if key else ""),
        "task": config.get("task", {}).get("name", key.task if key else ""),
        "algorithm": variant,
        "base_algorithm": config.get("algorithm", variant),
        "seed": int(config.get("seed", key.seed if key else -1)),
        "state": str(read_status(run_dir)["state"]),
        "fidelity": config.get("fidelity", "unknown"),
        "reference": REFERENCE_FOLDER in rel[:-1] or REFERENCE_FOLDER in root.parts[-1:],
        "run_dir": str(run_dir),
        "budget": config.get("env_steps"),
        "metric": config.get("paper_metric", DEFAULT_METRIC),
        "_config": config,
    }


def use_paper_metric(df: pd.DataFrame, metric: str) -> bool:
    """Where a run's config names another progress.csv column as its paper's metric (MB-MPO: the stochastic
    pre-update return the paper plots), that column becomes ``eval_return_mean``, which every table, curve
    and verdict reads, and the runner's deterministic evaluation is kept as ``eval/deterministic_return``.
    False (``df`` untouched) when the column is absent."""
    if metric == DEFAULT_METRIC:
        return True
    if metric not in df.columns:
        return False
    df[DETERMINISTIC_COLUMN] = df[DEFAULT_METRIC]
    df[DEFAULT_METRIC] = df[metric]
    return True


def _whole_rows(text: str) -> tuple[str, int]:
    """Keep the header and the rows with the header's field count; a last line without its newline is a
    torn write and goes too."""
    lines = text.split("\n")
    torn = 1 if lines and lines[-1] != "" else 0
    lines = lines[:-1] if lines else lines
    if not lines:
        return "", torn
    width = lines[0].count(",")
    kept = [lines[0]] + [line for line in lines[1:] if line.count(",") == width]
    return "\n".join(kept) + "\n", torn + (len(lines) - len(kept))


def load_runs(root: Path) -> Loaded:
    root = Path(root)
    warnings: list[str] = []
    frames, run_rows, configs = [], [], {}
    for csv_path in sorted(root.rglob(PROGRESS)):
        run_dir = csv_path.parent
        try:
            meta = _run_meta(run_dir, root)
        except (ValueError, TypeError) as err:
            warnings.append(f"{run_dir}: unreadable run metadata ({err}); skipped")
            continue
        config = meta.pop("_config")
        try:
            text, dropped = _whole_rows(csv_path.read_text())
            df = pd.read_csv(io.StringIO(text))
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as err:
            warnings.append(f"{csv_path}: unreadable CSV ({type(err).__name__}); skipped")
            continue
        if dropped:
            warnings.append(f"{csv_path}: {dropped} malformed rows (torn or wrong field count) dropped")
        missing = [c for c in KEY_COLUMNS if c not in df.columns]
        if missing:
            warnings.append(f"{csv_path}: missing columns {', '.join(missing)}; skipped")
            continue
        for column in REQUIRED_COLUMNS:
            if column not in df.columns:
                df[column] = float("nan")
        numeric = df.apply(pd.to_numeric, errors="coerce")
        bad = numeric["env_step"].isna() | numeric["eval_return_mean"].isna() & df["eval_return_mean"].notna()
        if bad.any():
            warnings.append(f"{csv_path}: {int(bad.sum())} malformed rows (torn or non-numeric) dropped")
            numeric = numeric[~bad]
        budget = meta.pop("budget")
        if not use_paper_metric(numeric, meta["metric"]):
            warnings.append(
                f"{csv_path}: no column {meta['metric']} (the paper's metric); deterministic evaluation used"
            )
            meta["metric"] = DEFAULT_METRIC
        for key, value in meta.items():
            numeric[key] = value
        frames.append(numeric)
        last = numeric.iloc[-1] if len(numeric) else None
        run_rows.append(
            {
                **meta,
                "budget": budget,
                "last_step": int(last["env_step"]) if last is not None else 0,
                "last_return": float(last["eval_return_mean"]) if last is not None else float("nan"),
                "wall_time_s": float(last["wall_time_s"]) if last is not None else float("nan"),
            }
        )
        configs[str(run_dir)] = config
    curves = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*RUN_COLUMNS, "env_step"])
    runs = pd.DataFrame(run_rows, columns=[*RUN_COLUMNS, "budget", "last_step", "last_return", "wall_time_s"])
    return Loaded(curves=curves, runs=runs, warnings=warnings, configs=configs)
