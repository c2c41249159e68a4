"""``mbrlbench export``: run folders into the tools a lab already uses: one tidy table (CSV, Parquet),
rliable-shaped score arrays (npz), TensorBoard event files, offline Weights & Biases runs.

Everything is read from ``progress.csv`` (through the report's loader), never from a training loop, so a
resumed run can neither duplicate nor drop a point.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mbrlbench.errors import UserInputError
from mbrlbench.report.load import Loaded, load_runs
from mbrlbench.support.outputs import staged

FORMATS = ("csv", "parquet", "npz", "tensorboard", "wandb")
META_COLUMNS = ("suite", "task", "algorithm", "base_algorithm", "seed", "fidelity", "commit", "run_dir")
_LOADER_COLUMNS = ("state", "reference", "metric")


def tidy(loaded: Loaded) -> pd.DataFrame:
    """One row per progress.csv row of every run, its metadata first (``algorithm`` is the run's name,
    ``base_algorithm`` the registered one; ``commit`` the code's git commit from config.yaml)."""
    if loaded.curves.empty:
        return pd.DataFrame(columns=list(META_COLUMNS))
    df = loaded.curves.drop(columns=[c for c in _LOADER_COLUMNS if c in loaded.curves])
    commits = {d: (c.get("recorded") or {}).get("git_commit") for d, c in loaded.configs.items()}
    df = df.assign(commit=df["run_dir"].map(commits))
    data = [c for c in df.columns if c not in META_COLUMNS]
    return df[[*META_COLUMNS, *data]].reset_index(drop=True)


def score_arrays(table: pd.DataFrame) -> dict[str, np.ndarray]:
    """rliable's layout: for each algorithm ``scores/<algorithm>`` of shape (runs, tasks, steps) holding the
    evaluation return (NaN where a run has no evaluation at that step or a task has fewer seeds), with the
    axes in ``tasks``, ``steps`` and ``algorithms``. Steps are the union of all evaluation steps."""
    tasks = sorted(table["task"].unique())
    steps = np.array(sorted(table["env_step"].unique()), dtype=np.int64)
    algorithms = sorted(table["algorithm"].unique())
    arrays: dict[str, np.ndarray] = {"tasks": np.array(tasks), "steps": steps, "algorithms": np.array(algorithms)}
    for algo in algorithms:
        sub = table[table["algorithm"] == algo]
        runs = max(sub[sub["task"] == t]["run_dir"].nunique() for t in tasks)
        scores = np.full((runs, len(tasks), len(steps)), np.nan)
        for j, task in enumerate(tasks):
            for i, (_, run) in enumerate(sub[sub["task"] == task].groupby("run_dir", sort=True)):
                idx = np.searchsorted(steps, run["env_step"].to_numpy())
                scores[i, j, idx] = run["eval_return_mean"].to_numpy()
        arrays[f"scores/{algo}"] = scores
    return arrays


def _label(row: pd.Series) -> str:
    return f"{row['task']}/{row['algorithm']}/seed{row['seed']}"


def _numeric(run: pd.DataFrame) -> list[str]:
    return [c for c in run.columns if c not in (*META_COLUMNS, "env_step") and pd.api.types.is_numeric_dtype(run[c])]


def to_tensorboard(table: pd.DataFrame, out: Path) -> list[Path]:
    """One event-file folder per run (``out/<task>/<algorithm>/seed<k>``), every numeric column a scalar
    at ``global_step = env_step``."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UserInputError("TensorBoard export needs tensorboard: pip install 'mbrlbench[tensorboard]'") from None
    folders = []
    for _, run in table.groupby("run_dir", sort=True):
        folder = out / _label(run.iloc[0])
        writer = SummaryWriter(log_dir=str(folder))
        for _, row in run.iterrows():
            for column in _numeric(run):
                if pd.notna(row[column]):
                    writer.add_scalar(column, float(row[column]), global_step=int(row["env_step"]))
        writer.close()
        folders.append(folder)
    return folders


def to_wandb(table: pd.DataFrame, configs: dict[str, dict[str, Any]], out: Path) -> list[Path]:
    """One offline W&B run per run folder, grouped by task and algorithm, config from config.yaml; upload
    later with ``wandb sync``."""
    try:
        import wandb
    except ImportError:
        raise UserInputError("W&B export needs wandb: pip install 'mbrlbench[wandb]'") from None
    out.mkdir(parents=True, exist_ok=True)
    folders = []
    for run_dir, run in table.groupby("run_dir", sort=True):
        first = run.iloc[0]
        wb = wandb.init(
            mode="offline",
            dir=str(out),
            project="mbrlbench",
            group=f"{first['task']}/{first['algorithm']}",
            name=_label(first),
            config=configs.get(str(run_dir), {}),
            reinit=True,
        )
        for _, row in run.iterrows():
            wb.log({c: float(row[c]) for c in _numeric(run) if pd.notna(row[c])}, step=int(row["env_step"]))
        folders.append(Path(wb.dir).parent)
        wb.finish()
    return folders


EXTRAS = {
    "parquet": ("pyarrow", "Parquet export needs pyarrow: pip install 'mbrlbench[export]'"),
    "tensorboard": ("tensorboard", "TensorBoard export needs tensorboard: pip install 'mbrlbench[tensorboard]'"),
    "wandb": ("wandb", "W&B export needs wandb: pip install 'mbrlbench[wandb]'"),
}


def extra_missing(to: str) -> str | None:
    """What to install for format ``to``, or None when it is there (checked before anything is written)."""
    if to not in EXTRAS:
        return None
    module, message = EXTRAS[to]
    return None if importlib.util.find_spec(module) is not None else message


def export(path: Path, to: str, out: Path) -> tuple[list[Path], list[str]]:
    """Writes ``path``'s runs in format ``to`` under ``out`` (staged: whole or not at all); returns what it
    wrote and the loader's warnings (runs or rows skipped)."""
    loaded = load_runs(path)
    table = tidy(loaded)
    if table.empty:
        raise UserInputError(f"{path}: no run with a progress.csv under it")
    with staged(out) as stage:
        if to == "csv":
            table.to_csv(stage / "runs.csv", index=False)
            names = ["runs.csv"]
        elif to == "parquet":
            table.to_parquet(stage / "runs.parquet", index=False)
            names = ["runs.parquet"]
        elif to == "npz":
            np.savez(stage / "scores.npz", **score_arrays(table))  # type: ignore[arg-type]
            names = ["scores.npz"]
        elif to == "tensorboard":
            names = [str(p.relative_to(stage)) for p in to_tensorboard(table, stage)]
        else:
            names = [str(p.relative_to(stage)) for p in to_wandb(table, loaded.configs, stage)]
    return [out / name for name in names], loaded.warnings
