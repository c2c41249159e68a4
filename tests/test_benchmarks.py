"""The benchmark harness (benchmarks/run.py): exclusive phase accounting and one worker repetition.

Speed itself is measured by the harness, never asserted by tests."""

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


@pytest.fixture(scope="module")
def harness():
    spec = importlib.util.spec_from_file_location("benchmark_harness", HARNESS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_nested_phases_are_timed_exclusively(harness, monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(harness.time, "perf_counter", lambda: clock[0])
    timer = harness.PhaseTimer(sync=lambda: None)

    def work(seconds):
        clock[0] += seconds

    rollout = timer.wrap("rollouts", lambda: work(2.0))

    def meta_step():  # 1 s of its own, around a 2 s rollout, then 0.5 s more
        work(1.0)
        rollout()
        work(0.5)

    timed_meta = timer.wrap("policy", meta_step)
    timed_meta()
    timed_meta()
    assert timer.seconds["policy"] == pytest.approx(3.0)  # 2 x 1.5 s, the rollouts subtracted
    assert timer.seconds["rollouts"] == pytest.approx(4.0)
    assert timer.calls == {"policy": 2, "rollouts": 2}

    base_step = timer.wrap("env", lambda: work(0.25))

    def override():  # a subclass override calling super(): one call of the phase, its time counted once
        work(0.5)
        base_step()

    timer.wrap("env", override)()
    assert timer.seconds["env"] == pytest.approx(0.75) and timer.calls["env"] == 1


def test_the_package_marks_every_phase_of_every_algorithm(harness):
    """Each algorithm's env steps, model work, rollouts and updates carry a phase mark (components/phases.py),
    overrides in subclasses too (TOM's fit_model and env_step): a tiny run of each reports every phase it has
    to a listening timer, and model fits once per outermost fit."""
    import torch
    from helpers import ALL_ALGORITHMS, TINY

    from mbrlbench.algorithms.registry import build, resolve, resolve_config
    from mbrlbench.components import phases
    from mbrlbench.tasks import TASKS

    for name in ALL_ALGORITHMS:
        base, layer = resolve(name)
        config = resolve_config(base, "inverted_pendulum", layer, TINY[name])
        algo = build(base, config, TASKS["inverted_pendulum"], torch.device("cpu"), 0)
        fits = []
        timer = harness.PhaseTimer(sync=lambda: None, on_fit=lambda owner, result, fits=fits: fits.append(owner))
        with phases.listening(timer):
            algo.train(350)
        model_free = base in ("sac", "trpo")
        want = {"env", "policy"} | (set() if model_free else {"model", "rollouts"})
        assert set(timer.calls) == want, (name, dict(timer.calls))
        assert not timer.stack
        assert (len(fits) > 0) == (not model_free) and all(owner is algo for owner in fits), name


def test_a_phase_mark_without_a_listener_just_calls():
    from mbrlbench.components.phases import phase

    @phase("env")
    def step(x):
        return x + 1

    assert step(1) == 2


def test_one_worker_repetition_reports_a_consistent_split():
    job = {
        "case": "mbpo/inverted_pendulum",
        "algorithm": "mbpo",
        "task": "inverted_pendulum",
        "overrides": {
            "n_initial_exploration_steps": 60,
            "real_data_insert": "step",  # exploration ends at exactly 60: every timed step does its 2 updates
            "min_pool_size": 60,
            "model_train_freq": 20,
            "rollout_batch_size": 50,
            "model_max_epochs": 2,
            "n_train_repeat": 2,
            "sac_hidden": 16,
            "model_hidden": 16,
            "batch_size": 32,
        },
        "steps": 40,
        "device": "cpu",
        "threads": 1,
        "alone": 3,
        "eval_episodes": 1,
        "eval_every": 1000,
    }
    out = subprocess.run(
        [sys.executable, str(HARNESS), "--worker", json.dumps(job)], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    row = json.loads(out.stdout.strip().splitlines()[-1])
    assert row["steps"] == 40
    assert row["calls_model"] == 2 and row["calls_policy"] == 80  # a fit every 20 steps, 2 updates per step
    # the steady window: from the end of the first fit to the end of the fit 40 steps later, so it holds two fits
    assert row["window"] == "steady" and row["fits"] == 2 and row["fit_epochs"] == [2.0, 2.0]
    assert row["opening_fit_epochs"] == 2.0 and row["fit_epochs_mean"] == 2.0
    assert row["sac_updates_per_step"] == 2
    phases = sum(row[f"ms_per_step_{p}"] for p in ("env", "model", "rollouts", "policy", "other"))
    assert phases == pytest.approx(1000 * row["wall_s"] / row["steps"])
    assert row["ms_per_step_other"] >= -1e-6 and row["checkpoint_mb"] > 0 and row["peak_host_mb"] > 0
    assert math.isnan(row["peak_gpu_mb"]) and row["step_over_alone"] > 0


def test_mbrl_lib_case_is_mbrl_lib_020(harness):
    """The ``mbrl-lib`` case against mbrl-lib v0.2.0's composed config, mapped to our fields as
    benchmarks/side_by_side.py maps it (there checked against the installed wheel before every comparison)."""
    from types import SimpleNamespace as NS

    spec = importlib.util.spec_from_file_location("side_by_side", HARNESS.parent / "side_by_side.py")
    side_by_side = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(side_by_side)
    # mbrl/examples/conf/{overrides/mbpo_halfcheetah,algorithm/mbpo,dynamics_model/gaussian_mlp_ensemble}.yaml
    cfg = NS(
        overrides=NS(
            epoch_length=1000,
            num_steps=400000,
            num_elites=5,
            patience=5,
            model_lr=0.001,
            model_wd=0.00001,
            model_batch_size=256,
            validation_ratio=0.2,
            freq_train_model=250,
            effective_model_rollouts_per_step=400,
            rollout_schedule=[20, 150, 1, 1],
            num_sac_updates_per_step=10,
            sac_updates_every_steps=1,
            num_epochs_to_retain_sac_buffer=1,
            sac_gamma=0.99,
            sac_tau=0.005,
            sac_target_update_interval=1,
            sac_target_entropy=-1,
            sac_hidden_size=512,
            sac_lr=0.0003,
            sac_batch_size=256,
        ),
        algorithm=NS(freq_train_model=250, real_data_ratio=0.0, initial_exploration_steps=5000),
        dynamics_model=NS(num_layers=4, ensemble_size=7, hid_size=200),
    )
    assert side_by_side.mismatches(side_by_side.mbrl_settings(cfg), harness.CASES["mbrl-lib"][2]) == []
    case = harness.CASES["mbrl-lib"][2]
    assert case["actor_update_interval"] == 1 and case["sac_flavor"] == "pranz24" and case["model_patience"] == 4


def test_ship_reference_copies_completed_runs_and_tables_both_metrics(tmp_path):
    """benchmarks/ship_reference.py: only completed runs travel, only their three files; the README's table
    names each cell's metric and gives the deterministic evaluation beside a paper metric that replaced it."""
    from helpers import make_run

    spec = importlib.util.spec_from_file_location("ship_reference", HARNESS.parent / "ship_reference.py")
    ship_reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ship_reference)
    campaign = tmp_path / "campaign"
    for seed, final in ((0, 900.0), (1, 1000.0)):
        run = make_run(campaign, "pendulum", "mbpo", seed, [500, 1000], [100.0, final], suite="reference")
        (run / "checkpoint.pt").write_bytes(b"training state")
    make_run(campaign, "pendulum", "mbpo", 2, [500], [50.0], state="running", suite="reference")
    make_run(
        campaign,
        "pendulum",
        "trpo",
        0,
        [4000, 8000],
        [30.0, 40.0],
        suite="reference",
        extra={"train_return": [5.0, 7.0]},
        config_extra={"paper_metric": "train_return"},
    )
    target = tmp_path / "shipped"
    shipped = ship_reference.ship(campaign / "reference", partial=False, target=target)
    assert len(shipped) == 3 and sorted(p.name for p in shipped[0].iterdir()) == [
        "config.yaml",
        "progress.csv",
        "status.json",
    ]
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{ship_reference.BEGIN}\nold table\n{ship_reference.END}\nafter\n")
    ship_reference.rewrite_table(readme, ship_reference.table(target))
    text = readme.read_text()
    assert text.startswith("before\n") and text.endswith("after\n") and "old table" not in text
    rows = {line.split(" | ")[1]: line for line in text.splitlines() if line.startswith("| pendulum")}
    assert "| 2 | 2 completed | 1,000 | deterministic eval | 950.0 ± 70.7 | 950.0 ± 70.7 |" in rows["mbpo"]
    assert "| 1 | 1 completed | 8,000 | train_return (the paper's) | 7.0 ± – | 40.0 ± – |" in rows["trpo"]
    assert len(ship_reference.ship(campaign / "reference", partial=True, target=tmp_path / "all")) == 4
