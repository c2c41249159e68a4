"""Faults a hostile or unlucky user meets: an output path that is a file, a suite file that expands without
bound, a disk that fills while a checkpoint is written, NaN where strict JSON readers look. Each gets one
clear line (exit 2 for bad input, 1 for a failed run), and no result already written is damaged."""

import json
import time
from pathlib import Path

import pandas as pd
from helpers import CliResult, cli

from mbrlbench.rundir import CHECKPOINT, PROGRESS, STATUS, TIMING_COLUMNS, read_json, write_json
from mbrlbench.runner.lifecycle import run_one
from mbrlbench.runner.status_file import StatusFile
from mbrlbench.suite import load_suite
from mbrlbench.support.safe_torch import load_data


def _cli(*args: str, env: dict | None = None, timeout: float = 300) -> CliResult:
    return cli(*args, env=env)


def _one_line_error(proc: CliResult) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_out_that_is_a_file_is_one_line_before_any_run(tmp_path, suite_file):
    target = tmp_path / "results.txt"
    target.write_text("not a folder")
    for out in (target, target / "below"):
        line = _one_line_error(_cli("run", str(suite_file), "--out", str(out)))
        assert "--out" in line and "is a file" in line
    assert target.read_text() == "not a folder"


BILLION_LAUGHS = "name: lol\ntasks: [inverted_pendulum]\nalgorithms: [sac]\n" + "".join(
    f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" if i else 'l0: &l0 ["lol"]\n' for i in range(10)
)


def test_nested_alias_bomb_is_refused_quickly(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(BILLION_LAUGHS)  # 10 ** 9 values once expanded
    start = time.time()
    line = _one_line_error(_cli("validate", str(path), timeout=60))
    assert time.time() - start < 30  # the CLI's start-up included; the bound itself is linear in the file
    assert str(path) in line and "bounded" in line


def test_too_many_seeds_is_refused(tmp_path):
    path = tmp_path / "seeds.yaml"
    path.write_text("name: s\ntasks: [inverted_pendulum]\nalgorithms: [sac]\nseeds: 1000000000\n")
    line = _one_line_error(_cli("validate", str(path), timeout=60))
    assert "seeds" in line and "10,000" in line


def test_disk_full_during_checkpoint_fails_with_reason_and_resumes(tmp_path, suite_file):
    """The second checkpoint write finds the disk full: the run ends ``failed`` with the OS's reason in
    status.json and the suite summary, the first checkpoint is intact, and a rerun with space resumes and
    ends as an unbroken run would."""
    suite_file.write_text(suite_file.read_text().replace("env_steps: 800", "env_steps: 500"))  # 5 rows
    (spec,) = [r for r in load_suite(suite_file).runs if r.variant == "sac"]
    reference = tmp_path / "reference"
    assert run_one(spec, reference, threads_per_run=1) == "completed"
    out = tmp_path / "out"
    args = ("run", str(suite_file), "--out", str(out), "--only", "algorithm=sac", "--threads-per-run", "1")
    proc = _cli(*args, env={"MBRLBENCH_FAULT": "disk_full:2"})
    assert proc.returncode == 1 and "No space left on device" in proc.stderr, proc.stderr
    run_dir = spec.run_dir(out)
    status = read_json(run_dir / STATUS)
    assert status["state"] == "failed" and "No space left on device" in status["error"]
    kept = load_data(run_dir / CHECKPOINT)  # as the runner loads it: data only
    assert kept["rows"] == spec.checkpoint_every  # the first checkpoint, whole
    assert not list(run_dir.glob(".*.tmp"))
    proc = _cli(*args)
    assert proc.returncode == 0, proc.stderr
    ours, ref = (
        pd.read_csv(spec.run_dir(root) / PROGRESS).drop(columns=list(TIMING_COLUMNS)) for root in (out, reference)
    )
    pd.testing.assert_frame_equal(ours, ref)


def _strict_json(path: Path) -> dict:
    def refuse(constant: str) -> None:
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_status_json_is_strict_json(tmp_path, suite_file):
    write_json(tmp_path / "x.json", {"a": float("nan"), "b": [float("inf"), 1.0]})
    assert _strict_json(tmp_path / "x.json") == {"a": None, "b": [None, 1.0]}
    status = StatusFile(tmp_path / STATUS)
    status.write(last_return=float("nan"))  # what a run writes before its first evaluation
    assert _strict_json(tmp_path / STATUS)["last_return"] is None
    (spec,) = [r for r in load_suite(suite_file).runs if r.variant == "sac"]
    assert run_one(spec, tmp_path / "out", threads_per_run=1) == "completed"
    _strict_json(spec.run_dir(tmp_path / "out") / STATUS)
