"""``mbrlbench export`` round trips on synthetic run folders: the tidy table has one row per CSV row, the npz
has the documented shape, TensorBoard event files hold every env_step once, offline W&B runs exist."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import make_run

from mbrlbench.export import export
from mbrlbench.rundir import PROGRESS

STEPS = [1000, 2000, 3000]


@pytest.fixture
def runs(tmp_path):
    for seed in range(3):
        make_run(tmp_path, "hopper", "mbpo", seed, STEPS, [10.0 * seed, 20.0, 30.0], extra={"sac/alpha": 0.1})
    make_run(tmp_path, "walker2d", "mbpo", 0, STEPS[:2], [1.0, 2.0], extra={"sac/alpha": 0.2})
    make_run(tmp_path, "hopper", "sac", 0, STEPS, [5.0, 6.0, 7.0])
    return tmp_path


def test_tidy_csv_and_parquet_have_one_row_per_csv_row(runs, tmp_path):
    (path,) = export(runs / "syn", "csv", tmp_path / "out")
    table = pd.read_csv(path)
    rows = sum(len(pd.read_csv(p)) for p in (runs / "syn").rglob(PROGRESS))
    assert len(table) == rows == 14
    assert list(table.columns[:8]) == [
        "suite",
        "task",
        "algorithm",
        "base_algorithm",
        "seed",
        "fidelity",
        "commit",
        "run_dir",
    ]
    assert table.groupby(["run_dir", "env_step"]).size().max() == 1
    pytest.importorskip("pyarrow")
    (parquet,) = export(runs / "syn", "parquet", tmp_path / "pq")
    back = pd.read_parquet(parquet).drop(columns="commit")  # no commit in synthetic runs: None vs NaN
    pd.testing.assert_frame_equal(back, pd.read_csv(path).drop(columns="commit"), check_dtype=False)


def test_npz_is_rliable_shaped(runs, tmp_path):
    (path,) = export(runs / "syn", "npz", tmp_path / "out")
    data = np.load(path)
    assert list(data["tasks"]) == ["hopper", "walker2d"] and list(data["steps"]) == STEPS
    scores = data["scores/mbpo"]
    assert scores.shape == (3, 2, 3)  # runs (most seeds on a task) x tasks x steps
    np.testing.assert_array_equal(scores[:, 0, 0], [0.0, 10.0, 20.0])
    assert np.isnan(scores[1:, 1]).all() and np.isnan(scores[0, 1, 2])  # walker2d: one seed, two evaluations


def test_tensorboard_holds_each_env_step_once(runs, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folders = export(runs / "syn", "tensorboard", tmp_path / "tb")
    assert len(folders) == 5
    events = EventAccumulator(str(tmp_path / "tb" / "hopper" / "mbpo" / "seed1")).Reload()
    assert [e.step for e in events.Scalars("eval_return_mean")] == STEPS
    assert [e.value for e in events.Scalars("eval_return_mean")] == [10.0, 20.0, 30.0]
    assert len(events.Scalars("sac/alpha")) == 3


def test_wandb_offline_runs(runs, tmp_path):
    pytest.importorskip("wandb", reason="the [wandb] extra is not installed")
    folders = export(runs / "syn", "wandb", tmp_path / "wb")
    assert len(folders) == 5
    for folder in folders:  # an offline run: its binary log, ready for ``wandb sync``
        (log,) = folder.glob("run-*.wandb")
        assert log.stat().st_size > 0


def test_cli_bad_format_is_one_line(runs):
    proc = subprocess.run(
        [sys.executable, "-m", "mbrlbench.cli", "export", str(runs), "--to", "xlsx"], capture_output=True, text=True
    )
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "csv" in proc.stderr
