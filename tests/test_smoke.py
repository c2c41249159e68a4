"""The CI smoke suite through the real CLI: every registered algorithm completes, fits its model at least
twice, updates every learner, writes finite diagnostics, and leaves a policy.pt that acts as the run did."""

import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import torch

from mbrlbench.algorithms.registry import ALGORITHMS
from mbrlbench.rundir import REQUIRED_COLUMNS, read_json
from mbrlbench.runner.evaluate import run_base_seed
from mbrlbench.runner.policy_eval import evaluate_policy
from mbrlbench.suite import load_suite

SMOKE = Path(__file__).resolve().parents[1] / "suites" / "smoke.yaml"
ITERATION_BASED = {"mbmpo", "trpo"}  # me_trpo and ppo are their variants


def test_smoke_suite_runs_every_algorithm(tmp_path):
    suite = load_suite(SMOKE)
    assert {r.algorithm for r in suite.runs} == set(ALGORITHMS), "smoke must cover every registered algorithm"
    assert all(r.env_steps <= 1000 for r in suite.runs)
    two_at_once = ["--jobs", "2", "--threads-per-run", "1"]  # the 2-core CI machine busy: half the wall time
    proc = subprocess.run(
        [sys.executable, "-m", "mbrlbench.cli", "run", str(SMOKE), "--out", str(tmp_path), *two_at_once],
        capture_output=True,
        text=True,
        timeout=1800,  # 11 algorithms; a loaded 2-core machine needs far more than CI
    )
    assert proc.returncode == 0, proc.stderr
    torch.set_num_threads(1)  # the replays below compute as the runs did, bit for bit
    for spec in suite.runs:
        run_dir = spec.run_dir(tmp_path)
        assert read_json(run_dir / "status.json")["state"] == "completed"
        assert not (run_dir / "checkpoint.pt").exists()
        df = pd.read_csv(run_dir / "progress.csv")
        assert tuple(df.columns[: len(REQUIRED_COLUMNS)]) == REQUIRED_COLUMNS
        steps = df["env_step"].tolist()
        targets = list(range(spec.eval_every, spec.env_steps + 1, spec.eval_every))
        assert steps == sorted(set(steps)) and steps[-1] >= spec.env_steps
        assert all(step >= target for step, target in zip(steps, targets, strict=False))
        # one row per eval point, except iteration-based learners, which finish their iteration first
        assert steps == targets or spec.algorithm in ITERATION_BASED, f"{spec.variant}: rows at {steps}"
        last = df.iloc[-1]
        for column in df.columns:  # a k-step error is NaN when the policy fell within k steps in every episode
            if column != "train_return" and not column.startswith("model/kstep_error_"):
                assert math.isfinite(last[column]), f"{spec.variant}: {column} is {last[column]}"
        assert all(math.isfinite(last[c]) for c in ("model/kstep_error_1", "model/reward_error") if c in df)
        updates = [c for c in df.columns if c.endswith("/updates")]  # sac/updates, pg/updates, ...
        assert updates and all(last[c] >= 1 for c in updates), f"{spec.variant}: a learner never updated"
        if "model/fits" in df:
            assert last["model/fits"] >= 2
        # the saved policy alone replays the run's last evaluation (same reset seeds, CPU): same return
        first_seed = run_base_seed(spec.seed) + (len(df) - 1) * spec.eval_episodes
        replay = evaluate_policy(run_dir, spec.eval_episodes, first_seed)
        assert replay.env_step == last["env_step"] and replay.algorithm == spec.variant
        assert replay.returns.mean() == last["eval_return_mean"], spec.variant
