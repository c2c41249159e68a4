"""Resume: a run stopped (cleanly or by SIGKILL) and resumed writes the same CSV as an unbroken run, timing
aside; completed runs are skipped; a changed config is refused unless --restart; failures are contained."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
import torch
from helpers import ALL_ALGORITHMS, MICRO_SUITE, TINY, micro_suite, unbroken_and_resumed

from mbrlbench.algorithms.base import seed_everything
from mbrlbench.algorithms.registry import build, resolve, resolve_config
from mbrlbench.rundir import TIMING_COLUMNS, read_json
from mbrlbench.runner.launchers.inline import run_suite
from mbrlbench.runner.lifecycle import run_one
from mbrlbench.runner.outcome import RunConflict
from mbrlbench.runner.signals import StopFlag
from mbrlbench.suite import load_suite
from mbrlbench.tasks import TASKS


def _csv(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "progress.csv").drop(columns=list(TIMING_COLUMNS))


def _spec(suite_file: Path, algorithm: str):
    return next(r for r in load_suite(suite_file).runs if r.variant == algorithm)


def test_an_interrupted_run_keeps_a_checkpoint_and_drops_it_on_completion(tmp_path, suite_file, micro_reference):
    spec = _spec(suite_file, "mbpo")

    stop = StopFlag()

    def stop_after_three(progress):
        if progress.env_step >= 300:
            stop.set("test")

    broken = tmp_path / "broken"
    assert run_one(spec, broken, threads_per_run=1, stop=stop, progress=stop_after_three) == "interrupted"
    run_dir = spec.run_dir(broken)
    assert read_json(run_dir / "status.json")["state"] == "interrupted"
    assert (run_dir / "checkpoint.pt").exists()
    assert run_one(spec, broken, threads_per_run=1) == "completed"
    assert not (run_dir / "checkpoint.pt").exists()  # deleted on completion
    pd.testing.assert_frame_equal(_csv(run_dir), _csv(spec.run_dir(micro_reference)))
    assert len(_csv(run_dir)) == 8


@pytest.mark.parametrize("algorithm", ALL_ALGORITHMS)
def test_every_algorithm_stopped_between_evaluations_resumes_exactly(tmp_path, algorithm):
    """Every registered algorithm and variant (tiny settings: the smoke suite's), stopped past env step 350,
    between two evaluations (mid-episode, mid-batch or mid-iteration), and resumed from that checkpoint: its
    CSV equals the unbroken run's, timing aside."""
    suite = micro_suite(
        tmp_path,
        "resume",
        "inverted_pendulum",
        algorithm,
        TINY[algorithm],
        seed=3,
        env_steps=600,
        every=200,
        episodes=2,
    )
    unbroken, resumed = unbroken_and_resumed(tmp_path, suite, stop_at=350)
    assert len(unbroken) >= 3 and unbroken["env_step"].is_monotonic_increasing and unbroken["env_step"].is_unique
    pd.testing.assert_frame_equal(resumed, unbroken)


def _fingerprint(value, seen: set[int], depth: int = 0):
    """A comparable summary of an attribute's state: tensors and arrays by their bytes, modules and optimizers
    through their state_dict, containers and plain objects recursively (envs by their own state_dict)."""
    if isinstance(value, torch.Tensor):
        return ("tensor", tuple(value.shape), str(value.dtype), value.detach().cpu().numpy().tobytes())
    if isinstance(value, np.ndarray):
        return ("array", value.shape, str(value.dtype), value.tobytes())
    if isinstance(value, int | float | str | bool | type(None) | np.generic):
        return value
    if id(value) in seen or depth > 6 or (callable(value) and not hasattr(value, "__dict__")):
        return ("seen",)
    seen.add(id(value))
    if isinstance(value, torch.nn.Module | torch.optim.Optimizer):
        return _fingerprint(value.state_dict(), seen, depth + 1)
    if isinstance(value, dict):
        return {str(k): _fingerprint(v, seen, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_fingerprint(v, seen, depth + 1) for v in value]
    if isinstance(value, gym.Env):
        return ("env",)  # an env's state travels through TrainingEnv.state_dict
    if hasattr(value, "state_dict") and callable(value.state_dict):
        return _fingerprint(value.state_dict(), seen, depth + 1)
    if hasattr(value, "__dict__"):
        return {k: _fingerprint(v, seen, depth + 1) for k, v in vars(value).items()}
    return ("opaque", type(value).__name__)


@pytest.mark.parametrize("algorithm", ALL_ALGORITHMS)
def test_checkpoint_state_covers_everything_training_changes(algorithm):
    """Train an algorithm partway, checkpoint it, load the checkpoint into a fresh instance: every attribute
    must then match the trained one. An attribute ``train()`` mutates that is neither in ``checkpoint_attrs``
    nor rebuilt from one that is shows up here by name (exact resume would break for it silently)."""
    base, layer = resolve(algorithm)
    config = resolve_config(base, "inverted_pendulum", layer, TINY[algorithm])
    task, device = TASKS["inverted_pendulum"], torch.device("cpu")
    seed_everything(3)
    trained = build(base, config, task, device, 3)
    trained.train(350)
    state = trained.state_dict()
    seed_everything(11)  # a different RNG state: load_state_dict must restore the RNGs too
    fresh = build(base, config, task, device, 3)
    fresh.load_state_dict(state)
    skip = {
        "_control",  # the current train call's control, set by train()
        "baseline",  # TRPO/PPO/MB-MPO's linear baseline: refit on each batch before it is read (fit, then predict)
    }
    names = sorted((set(vars(trained)) | set(vars(fresh))) - skip)
    differ = [
        n
        for n in names
        if _fingerprint(getattr(trained, n, None), set()) != _fingerprint(getattr(fresh, n, None), set())
    ]
    assert differ == [], f"{algorithm}: not restored from the checkpoint: {differ}"


def test_sigkill_loses_only_work_since_checkpoint(tmp_path, suite_file, micro_reference):
    spec = _spec(suite_file, "mbpo")
    out = tmp_path / "killed"
    cmd = [
        sys.executable,
        "-m",
        "mbrlbench.cli",
        "run",
        str(suite_file),
        "--out",
        str(out),
        "--only",
        "algorithm=mbpo",
        "--threads-per-run",
        "1",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    run_dir = spec.run_dir(out)
    deadline = time.time() + 120
    while time.time() < deadline:  # wait for 3 rows: one past the checkpoint at row 2
        csv = run_dir / "progress.csv"
        if csv.exists() and len(csv.read_text().splitlines()) >= 4:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the launcher and its run process at once
    proc.wait()
    assert read_json(run_dir / "status.json")["state"] == "running"  # died without a word
    resumed = subprocess.run(cmd, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    lines = (run_dir / "progress.csv").read_text().splitlines()
    assert len(lines) == 9 and len(set(lines)) == 9  # header + 8 rows, no duplicates
    pd.testing.assert_frame_equal(_csv(run_dir), _csv(spec.run_dir(micro_reference)))


def test_sigterm_checkpoints_and_marks_interrupted(tmp_path, suite_file):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "mbrlbench.cli", "run", str(suite_file), "--out", str(out), "--threads-per-run", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    run_dir = _spec(suite_file, "mbpo").run_dir(out)
    deadline = time.time() + 120
    while time.time() < deadline and not (run_dir / "progress.csv").exists():
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    status = read_json(run_dir / "status.json")
    assert status["state"] == "interrupted" and (run_dir / "checkpoint.pt").exists()
    assert not (_spec(suite_file, "sac").run_dir(out)).exists()  # the suite stopped, sac never began


def test_completed_skipped_changed_config_refused_restart_replaces(tmp_path, suite_file):
    spec = _spec(suite_file, "sac")
    assert run_one(spec, tmp_path, threads_per_run=1) == "completed"
    mtime = (spec.run_dir(tmp_path) / "progress.csv").stat().st_mtime
    assert run_one(spec, tmp_path, threads_per_run=1) == "completed"
    assert (spec.run_dir(tmp_path) / "progress.csv").stat().st_mtime == mtime  # skipped, untouched

    changed = Path(str(suite_file).replace("suite.yaml", "changed.yaml"))
    changed.write_text(MICRO_SUITE.replace("sac_hidden: 16, batch_size: 32}", "sac_hidden: 24, batch_size: 32}"))
    other = _spec(changed, "sac")
    with pytest.raises(RunConflict, match="another configuration"):
        run_one(other, tmp_path, threads_per_run=1)
    assert run_one(other, tmp_path, threads_per_run=1, restart=True) == "completed"


def test_nan_fails_the_run_and_the_suite_goes_on(tmp_path, suite_file, monkeypatch):
    from mbrlbench.algorithms import sac as sac_module

    original = sac_module.SAC.train
    calls = {"n": 0}

    def poisoned(self, until, control=None):
        out = original(self, until, control)
        calls["n"] += 1
        if calls["n"] >= 3 and out:
            out = {**out, "sac/q_loss": float("nan")}
        return out

    monkeypatch.setattr(sac_module.SAC, "train", poisoned)
    runs = sorted(load_suite(suite_file).runs, key=lambda r: r.variant != "sac")  # sac first, then mbpo
    outcome = run_suite(runs, tmp_path, threads_per_run=1)
    assert outcome.states["failed"] and outcome.states["completed"]
    status = read_json(runs[0].run_dir(tmp_path) / "status.json")
    assert status["state"] == "failed"
    assert status["error"] == "FloatingPointError: sac/q_loss became nan at env step 300"
    assert "Traceback" in (runs[0].run_dir(tmp_path) / "run.log").read_text()


def test_checkpoint_minutes_triggers_mid_interval_checkpoints(tmp_path, suite_file):
    text = MICRO_SUITE.replace("checkpoint_every: 2", "checkpoint_every: 100\ncheckpoint_minutes: 0.0001")
    path = tmp_path / "often.yaml"
    path.write_text(text)
    spec = _spec(path, "sac")
    assert run_one(spec, tmp_path / "often", threads_per_run=1, keep_checkpoints=True) == "completed"
    assert run_one(_spec(suite_file, "sac"), tmp_path / "rare", threads_per_run=1) == "completed"
    pd.testing.assert_frame_equal(
        _csv(spec.run_dir(tmp_path / "often")), _csv(_spec(suite_file, "sac").run_dir(tmp_path / "rare"))
    )
    assert (spec.run_dir(tmp_path / "often") / "checkpoint.pt").exists()  # --keep-checkpoints
