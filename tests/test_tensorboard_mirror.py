"""``run --tensorboard``: the event files hold exactly progress.csv's rows, each env_step once, also after the
run is killed in the middle of a CSV append (after rows the resume then drops) and resumed."""

import os
import signal
import subprocess
import sys
from dataclasses import replace

import pandas as pd
import pytest

from mbrlbench.rundir import PROGRESS, TENSORBOARD
from mbrlbench.runner.lifecycle import run_one
from mbrlbench.suite import load_suite


def test_killed_and_resumed_run_has_each_env_step_once(tmp_path, suite_file):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "out"
    # checkpoints every 2 rows: killed (SIGKILL) while appending row 5, the resume drops row 5's torn half and
    # re-runs from row 4 (the checkpoint); rows 1-4 were mirrored before the kill and must not appear twice
    cmd = [sys.executable, "-m", "mbrlbench.cli", "run", str(suite_file), "--out", str(out), "--only", "algorithm=sac"]
    cmd += ["--threads-per-run", "1", "--tensorboard", "--launcher", "inline"]
    killed = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "MBRLBENCH_FAULT": "csv:5"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (spec,) = [s for s in load_suite(suite_file).runs if s.variant == "sac"]
    run_dir = spec.run_dir(out)
    before = EventAccumulator(str(run_dir / TENSORBOARD)).Reload()
    assert [e.step for e in before.Scalars("eval_return_mean")] == [100, 200, 300, 400]
    assert run_one(replace(spec, tensorboard=True), out, threads_per_run=1) == "completed"  # resumes at row 4
    csv = pd.read_csv(run_dir / PROGRESS)
    events = EventAccumulator(str(run_dir / TENSORBOARD)).Reload()
    scalars = events.Scalars("eval_return_mean")
    assert [e.step for e in scalars] == csv["env_step"].tolist() == list(range(100, 900, 100))
    assert [e.value for e in scalars] == pytest.approx(csv["eval_return_mean"].tolist())
    alpha = csv.loc[csv["sac/alpha"].notna(), "env_step"].tolist()
    assert [e.step for e in events.Scalars("sac/alpha")] == alpha
    assert len(list((run_dir / TENSORBOARD).glob("events.out.tfevents.*"))) == 1  # rebuilt, not appended to


def test_tensorboard_flag_without_the_package_is_one_line(tmp_path, suite_file):
    code = (
        "import sys, builtins; real = builtins.__import__\n"
        "def block(name, *a, **k):\n"
        "    if name.startswith('torch.utils.tensorboard'): raise ImportError(name)\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = block\n"
        "from mbrlbench.cli import app; sys.argv = ['mbrlbench'] + sys.argv[1:]; app()\n"
    )
    cmd = [sys.executable, "-c", code, "run", str(suite_file), "--out", str(tmp_path / "o"), "--tensorboard"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "tensorboard" in proc.stderr
    assert not (tmp_path / "o").exists()
