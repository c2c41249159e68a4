"""Finds every run under a folder (any depth) and builds one tidy table; bad files become warnings."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mbrlbench.rundir import (
    BAD_FIELDS,
    CONFIG,
    DEFAULT_METRIC,
    KEY_COLUMNS,
    PROGRESS,
    REFERENCE_FOLDER,
    REQUIRED_COLUMNS,
    STATUS,
    RunFileError,
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
    logged: set[str] = field(default_factory=set)  # every progress.csv column of the loaded runs, kept or not


def _run_meta(run_dir: Path, root: Path) -> dict[str, Any]:
    """Identity of a run from its config.yaml, else from its folder names (rundir's layout); ``RunFileError``
    naming the file when config.yaml or status.json hold what the runner never writes."""
    config = read_config(run_dir, strict=True)
    key = parse_run_path(run_dir)
    rel = run_dir.relative_to(root).parts if run_dir.is_relative_to(root) else run_dir.parts
    task = config.get("task", {"name": key.task} if key else {})
    if not isinstance(task, dict) or not isinstance(task.get("name", ""), str):
        raise RunFileError(f"{run_dir / CONFIG}: task must be a mapping with a name, got {task!r:.60}")
    variant = config.get("variant", key.variant if key else "")
    seed = config.get("seed", key.seed if key else -1)
    budget = config.get("env_steps")
    metric = config.get("paper_metric", DEFAULT_METRIC)
    for name, value, kind in (("variant", variant, str), ("seed", seed, int), ("paper_metric", metric, str)):
        if not isinstance(value, kind) or isinstance(value, bool):
            raise RunFileError(f"{run_dir / CONFIG}: {name} must be a {kind.__name__}, got {value!r:.60}")
    if budget is not None and (not isinstance(budget, int) or isinstance(budget, bool)):
        raise RunFileError(f"{run_dir / CONFIG}: env_steps must be an integer, got {budget!r:.60}")
    status = read_status(run_dir)
    if status.get(BAD_FIELDS):
        raise RunFileError(f"{run_dir / STATUS}: not a number in {', '.join(status[BAD_FIELDS])}")
    return {
        "suite": str(config.get("suite", key.suite if key else "")),
        "task": task.get("name", key.task if key else ""),
        "algorithm": variant,
        "base_algorithm": str(config.get("algorithm", variant)),
        "seed": seed,
        "state": str(status["state"]),
        "fidelity": str(config.get("fidelity", "unknown")),
        "reference": REFERENCE_FOLDER in rel[:-1] or REFERENCE_FOLDER in root.parts[-1:],
        "run_dir": str(run_dir),
        "budget": budget,
        "metric": metric,
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


CHUNK_ROWS = 50_000  # rows parsed at once: memory is the kept columns as float64 plus one chunk of text


def _complete_lines(path: Path) -> int:
    """Newline-terminated lines of a file, counted in 1 MB blocks (a last line without its newline is a torn
    write and is not counted)."""
    count = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            count += block.count(b"\n")
    return count


def read_progress(path: Path, wanted: Callable[[str], bool] | None = None) -> tuple[pd.DataFrame, list[str], int]:
    """progress.csv as float64 columns (those ``wanted`` accepts; all when None), every column's name, and the
    count of dropped lines (torn, wrong field count). Memory: the kept columns plus one chunk of rows."""
    with open(path, "rb") as f:
        header = f.readline()
    if not header.endswith(b"\n"):
        raise pd.errors.EmptyDataError("no complete header line")
    names = header.decode("utf-8").rstrip("\r\n").split(",")
    if len(set(names)) != len(names) or not all(names):
        raise pd.errors.ParserError("empty or repeated column names")
    keep = [c for c in names if wanted is None or wanted(c)]
    lines = _complete_lines(path) - 1
    frames = []
    if lines > 0:
        reader = pd.read_csv(
            path, usecols=keep, dtype=str, nrows=lines, chunksize=CHUNK_ROWS, on_bad_lines="skip", engine="c"
        )
        for chunk in reader:
            frames.append(chunk.apply(pd.to_numeric, errors="coerce").astype("float64"))
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({c: pd.Series(dtype="float64") for c in keep})
    torn = 1 if path.stat().st_size and not _ends_with_newline(path) else 0
    return df[keep], names, max(lines - len(df), 0) + torn


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def _keeper(wanted: Callable[[str], bool] | None, metric: str) -> Callable[[str], bool] | None:
    """The columns to parse of one run: the required ones, its paper's metric, and what ``wanted`` accepts."""
    if wanted is None:
        return None
    always = {*REQUIRED_COLUMNS, DETERMINISTIC_COLUMN, metric}
    return lambda column: column in always or wanted(column)


def load_runs(root: Path, wanted: Callable[[str], bool] | None = None) -> Loaded:
    """Every run under ``root``: ``wanted`` picks the progress.csv columns to keep (all when None; the
    required ones always). A run whose files hold what the runner never writes is skipped with a warning
    naming the file."""
    root = Path(root)
    warnings: list[str] = []
    frames, run_rows, configs, logged = [], [], {}, set()
    for csv_path in sorted(root.rglob(PROGRESS)):
        run_dir = csv_path.parent
        try:
            meta = _run_meta(run_dir, root)
        except RunFileError as err:
            warnings.append(f"{err}; skipped")
            continue
        config = meta.pop("_config")
        try:
            numeric, names, dropped = read_progress(csv_path, _keeper(wanted, meta["metric"]))
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, OSError) as err:
            warnings.append(f"{csv_path}: unreadable CSV ({type(err).__name__}); skipped")
            continue
        if dropped:
            warnings.append(f"{csv_path}: {dropped} malformed rows (torn or wrong field count) dropped")
        missing = [c for c in KEY_COLUMNS if c not in numeric.columns]
        if missing:
            warnings.append(f"{csv_path}: missing columns {', '.join(missing)}; skipped")
            continue
        if np.isinf(numeric["env_step"]).any():
            warnings.append(f"{csv_path}: env_step holds an infinite value; skipped")
            continue
        logged.update(names)
        for column in REQUIRED_COLUMNS:
            if column not in numeric.columns:
                numeric[column] = float("nan")
        bad = numeric["env_step"].isna()
        if bad.any():
            warnings.append(f"{csv_path}: {int(bad.sum())} malformed rows (torn or non-numeric) dropped")
            numeric = numeric[~bad].reset_index(drop=True)
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
    return Loaded(curves=curves, runs=runs, warnings=warnings, configs=configs, logged=logged)
