"""``mbrlbench export`` round trips on synthetic run folders: the tidy table has one row per CSV row, the npz
has the documented shape, TensorBoard event files hold every env_step once, offline W&B runs exist."""

import json
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import cli, make_run

from mbrlbench.report.export import export
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
    (path,), _ = export(runs / "syn", "csv", tmp_path / "out")
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
    (parquet,), _ = export(runs / "syn", "parquet", tmp_path / "pq")
    back = pd.read_parquet(parquet).drop(columns="commit")  # no commit in synthetic runs: None vs NaN
    pd.testing.assert_frame_equal(back, pd.read_csv(path).drop(columns="commit"), check_dtype=False)


def test_npz_is_rliable_shaped(runs, tmp_path):
    (path,), _ = export(runs / "syn", "npz", tmp_path / "out")
    data = np.load(path)
    assert list(data["tasks"]) == ["hopper", "walker2d"] and list(data["steps"]) == STEPS
    scores = data["scores/mbpo"]
    assert scores.shape == (3, 2, 3)  # runs (most seeds on a task) x tasks x steps
    np.testing.assert_array_equal(scores[:, 0, 0], [0.0, 10.0, 20.0])
    assert np.isnan(scores[1:, 1]).all() and np.isnan(scores[0, 1, 2])  # walker2d: one seed, two evaluations


def test_tensorboard_holds_each_env_step_once(runs, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folders, _ = export(runs / "syn", "tensorboard", tmp_path / "tb")
    assert len(folders) == 5
    events = EventAccumulator(str(tmp_path / "tb" / "hopper" / "mbpo" / "seed1")).Reload()
    assert [e.step for e in events.Scalars("eval_return_mean")] == STEPS
    assert [e.value for e in events.Scalars("eval_return_mean")] == [10.0, 20.0, 30.0]
    assert len(events.Scalars("sac/alpha")) == 3


def _wandb_history(log: Path) -> tuple[str, list[dict[str, float]]]:
    """The name and history rows of an offline W&B run, read back from its ``run-*.wandb`` file: a 7-byte header, then
    a LevelDB log (32 KiB blocks of records with a 7-byte header: crc, length, type full/first/middle/last),
    each record a ``wandb_internal_pb2.Record``. Written here because wandb 0.31 moved its reader into Go."""
    from wandb.proto import wandb_internal_pb2

    data, pos, pending, rows, name = log.read_bytes(), 7, b"", [], ""
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        left = 32768 - pos % 32768
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if left < 7 or (length == 0 and kind == 0):  # block trailer / padding
            pos += left
            continue
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            if record.WhichOneof("record_type") == "history":
                rows.append({_key(item): float(json.loads(item.value_json)) for item in record.history.item})
            elif record.WhichOneof("record_type") == "run":
                name = record.run.display_name
    return name, rows


def _key(item) -> str:
    return item.key or "/".join(item.nested_key)  # keys with a "/" come nested


def test_wandb_offline_runs_hold_the_csv_rows(runs, tmp_path):
    pytest.importorskip("wandb", reason="the [wandb] extra is not installed")
    folders, _ = export(runs / "syn", "wandb", tmp_path / "wb")
    assert len(folders) == 5
    csvs = {
        f"hopper/mbpo/seed{seed}": pd.read_csv(runs / "syn" / "hopper" / "mbpo" / f"seed{seed}" / PROGRESS)
        for seed in range(3)
    }
    seen = 0
    for folder in folders:  # an offline run: its binary log, ready for ``wandb sync``
        (log,) = folder.glob("run-*.wandb")
        name, history = _wandb_history(log)
        assert history and name
        if name not in csvs:
            continue
        csv = csvs[name]
        assert [int(r["_step"]) for r in history] == csv["env_step"].tolist()  # each env_step once, in order
        assert [r["eval_return_mean"] for r in history] == csv["eval_return_mean"].tolist()
        assert [r["sac/alpha"] for r in history] == csv["sac/alpha"].tolist()
        seen += 1
    assert seen == 3


def test_cli_bad_format_is_one_line(runs):
    proc = cli("export", str(runs), "--to", "xlsx")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "csv" in proc.stderr
