"""The papers' numbers shipped as package data, and the per-task normalization of scores."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from mbrlbench.algorithms.catalog import comparable
from mbrlbench.errors import UserInputError
from mbrlbench.rundir import task_base

REFERENCES = resources.files("mbrlbench") / "references"
INVERTED_PENDULUM_MAX = 1000.0  # maximum return of InvertedPendulum-v5 (1 per step, 1000 steps)
# One return or an array of them: score() keeps the kind it is given.
ScoreInput = TypeVar("ScoreInput", float, np.ndarray)


PAPER_COLUMNS = ("algorithm", "task", "env_steps", "return_mean", "return_std", "n_seeds", "source", "confidence")


def paper_results(path: Path | None = None) -> pd.DataFrame:
    """Rows: algorithm, task, env_steps, return_mean, return_std, n_seeds (int or NaN), source,
    confidence, comparable. Another file (``--reference``) is checked first: ``UserInputError`` naming it
    when it is not such a table."""
    if path is None:
        df = pd.read_csv(REFERENCES / "paper_results.csv")
    else:
        df = _read_paper_file(Path(path))
    df["n_seeds_int"] = pd.to_numeric(df["n_seeds"].astype(str).str.extract(r"^(\d+)")[0], errors="coerce")
    env = df.get("env_in_source", pd.Series("", index=df.index)).astype(str)
    # comparable: the protocol matches closely enough that a verdict means something (the catalog says which
    # algorithms' numbers are; a row whose env is marked "NOT the" ... is not either)
    df["comparable"] = df["algorithm"].map(lambda a: comparable(str(a))) & ~env.str.contains("NOT the")
    return df


def _read_paper_file(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, nrows=100_000)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise UserInputError(f"--reference {path}: unreadable as CSV ({type(err).__name__})") from None
    missing = [c for c in PAPER_COLUMNS if c not in df.columns]
    if missing:
        raise UserInputError(
            f"--reference {path}: missing columns {', '.join(missing)}; needs {', '.join(PAPER_COLUMNS)}"
        )
    if df.empty:
        raise UserInputError(f"--reference {path}: no rows")
    for column in ("env_steps", "return_mean"):
        if pd.to_numeric(df[column], errors="coerce").isna().any():
            raise UserInputError(f"--reference {path}: column {column} must hold numbers in every row")
    df["env_steps"] = pd.to_numeric(df["env_steps"]).astype(int)
    df["return_mean"] = pd.to_numeric(df["return_mean"]).astype(float)
    df["return_std"] = pd.to_numeric(df["return_std"], errors="coerce")
    return df


def official_mbpo_curves() -> pd.DataFrame:
    return pd.read_csv(REFERENCES / "mbpo_official.csv")


def random_returns() -> dict[str, float]:
    df = pd.read_csv(REFERENCES / "random_returns.csv")
    return dict(zip(df["task"], df["return_mean"], strict=True))


def normalization(task: str) -> tuple[float, float, str] | None:
    """(score 0, score 1, what 1 means) for a task: 0 = the uniform-random policy's return, 1 = the MBPO
    paper's mean return at its budget (the last point of the official curve); inverted_pendulum: 1 = 1000."""
    base = task_base(task)
    zero = random_returns().get(task)
    if zero is None or base != task:  # h200 variants: no paper number at their horizon
        return None
    if base == "inverted_pendulum":
        return zero, INVERTED_PENDULUM_MAX, "maximum return (1000)"
    curve = official_mbpo_curves()
    curve = curve[curve["task"] == base]
    if curve.empty:
        return None
    last = curve.sort_values("env_steps").iloc[-1]
    return zero, float(last["return_mean"]), f"MBPO paper at {int(last['env_steps']):,} steps"


def score(value: ScoreInput, norm: tuple[float, float, str]) -> ScoreInput:
    """Normalized score of a return (or an array of them) under ``normalization(task)``: 0 = random, 1 = reference."""
    zero, one, _ = norm
    return (value - zero) / (one - zero)
