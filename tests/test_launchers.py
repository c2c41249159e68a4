"""Launchers on the 2-run micro-suite: the local process pool, Ray on a local cluster, Slurm through
submitit's local executor; the status view; locks (skip a live one, take over a stale one)."""

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from helpers import CliResult, cli

from mbrlbench.errors import UserInputError
from mbrlbench.rundir import TIMING_COLUMNS, read_json
from mbrlbench.runner.lifecycle import run_one
from mbrlbench.runner.lock import RunLock
from mbrlbench.suite import load_suite


def _cli(*args: str, timeout: float = 300) -> CliResult:
    return cli(*args)


def _csv(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "progress.csv").drop(columns=list(TIMING_COLUMNS))


@pytest.fixture
def reference(tmp_path_factory, suite_file):
    """The micro-suite's runs, unbroken, in this process (1 thread, like the launchers' runs below)."""
    out = tmp_path_factory.mktemp("reference")
    for spec in load_suite(suite_file).runs:
        assert run_one(spec, out, threads_per_run=1) == "completed"
    return out


def assert_same_as_reference(out: Path, reference: Path, suite_file: Path) -> None:
    for spec in load_suite(suite_file).runs:
        assert read_json(spec.run_dir(out) / "status.json")["state"] == "completed", spec.variant
        pd.testing.assert_frame_equal(_csv(spec.run_dir(out)), _csv(spec.run_dir(reference)))


def test_local_pool_two_jobs_matches_reference(tmp_path, suite_file, reference):
    out = tmp_path / "out"
    proc = _cli("run", str(suite_file), "--out", str(out), "--jobs", "2", "--threads-per-run", "1")
    assert proc.returncode == 0, proc.stderr
    assert_same_as_reference(out, reference, suite_file)
    status = _cli("status", str(out / "micro"))
    assert status.returncode == 0 and status.stdout.count("completed") >= 2 and "800 / 800" in status.stdout


def test_ray_launcher_on_a_local_cluster(tmp_path, suite_file, reference):
    ray = pytest.importorskip("ray")
    from mbrlbench.runner.launchers.ray import run_ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        outcome = run_ray(load_suite(suite_file).runs, tmp_path / "out", cpus_per_run=1)
    finally:
        ray.shutdown()
    assert set(outcome.states) == {"completed"}
    assert_same_as_reference(tmp_path / "out", reference, suite_file)


def test_ray_fails_clearly_when_results_folder_is_not_writable(tmp_path):
    from mbrlbench.runner.launchers.ray import SharedFolderError, check_writable

    (tmp_path / "a_file").write_text("not a folder")
    with pytest.raises(SharedFolderError, match="filesystem all nodes share"):
        check_writable(tmp_path / "a_file" / "results")  # unwritable even for root


def test_slurm_launcher_through_submitit_local_executor(tmp_path, suite_file, reference):
    pytest.importorskip("submitit")
    from mbrlbench.runner.launchers.slurm import parse_time, submit_slurm

    assert parse_time("01:30:00") == 90 and parse_time("1-00:00:30") == 1441
    jobs = submit_slurm(
        load_suite(suite_file).runs,
        tmp_path / "out",
        partition=None,
        time="00:10:00",
        jobs_per_task=1,
        threads_per_run=1,
        device="cpu",
        cluster="local",
        wait=True,
    )
    assert len(jobs) == 2  # one array task per run with one run per task
    assert all(job.result() == {"completed": 1} for job in jobs)
    assert_same_as_reference(tmp_path / "out", reference, suite_file)


def test_missing_extra_is_a_one_line_error(tmp_path, suite_file, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    from mbrlbench.runner.launchers.ray import MISSING, run_ray

    with pytest.raises(UserInputError, match=r"pip install 'mbrlbench\[ray\]'"):
        run_ray(load_suite(suite_file).runs, tmp_path)
    assert "\n" not in MISSING


def test_live_lock_is_skipped_and_said(tmp_path, suite_file):
    spec = next(r for r in load_suite(suite_file).runs if r.variant == "sac")
    run_dir = spec.run_dir(tmp_path)
    run_dir.mkdir(parents=True)
    with RunLock(run_dir):  # this test process holds the sac run
        proc = _cli("run", str(suite_file), "--out", str(tmp_path), "--threads-per-run", "1")
    assert proc.returncode == 1, proc.stderr  # the suite is not done while a run is held elsewhere
    assert "locked by" in proc.stderr and "1 locked" in proc.stderr and "held by another process" in proc.stderr
    assert read_json(spec.run_dir(tmp_path).parent.parent / "mbpo" / "seed7" / "status.json")["state"] == "completed"
    assert not (run_dir / "progress.csv").exists()


@pytest.mark.parametrize("holder", ["other_host_old_heartbeat", "dead_pid_this_host"])
def test_stale_lock_is_taken_over(tmp_path, suite_file, holder):
    spec = next(r for r in load_suite(suite_file).runs if r.variant == "sac")
    run_dir = spec.run_dir(tmp_path)
    run_dir.mkdir(parents=True)
    if holder == "other_host_old_heartbeat":
        record = {"host": "elsewhere", "pid": 1, "token": "x", "heartbeat_unix": time.time() - 3600}
    else:
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        record = {"host": socket.gethostname(), "pid": dead.pid, "token": "x", "heartbeat_unix": time.time()}
    (run_dir / "lock.json").write_text(json.dumps(record))
    assert run_one(spec, tmp_path, threads_per_run=1) == "completed"
    assert not (run_dir / "lock.json").exists()  # released


def test_fresh_foreign_lock_is_respected(tmp_path, suite_file):
    from mbrlbench.runner.lock import RunLocked

    spec = next(r for r in load_suite(suite_file).runs if r.variant == "sac")
    run_dir = spec.run_dir(tmp_path)
    run_dir.mkdir(parents=True)
    record = {"host": "elsewhere", "pid": 1, "token": "x", "heartbeat_unix": time.time()}
    (run_dir / "lock.json").write_text(json.dumps(record))
    with pytest.raises(RunLocked, match="locked by elsewhere"):
        run_one(spec, tmp_path, threads_per_run=1)
