"""Every algorithm and variant learns the cheap ``point_mass`` task (mbrlbench/tasks/point_mass.py) through the real
runner path (suite file -> ``load_suite`` -> ``run_one``), deterministically on CPU (seed 0, one thread).

The margin: the final evaluation (20 deterministic episodes) must close at least ``GAP_SHARE`` = 60% of the gap
between the uniform-random policy's mean return (measured here from 200 seeded episodes: 17.0) and the optimal
return (``OPTIMUM`` = 28.47, a linear program solved in ``test_point_mass_reference_returns``): a final return
of at least 23.9. Why 60%: not learning ends far below it (doing nothing, a = 0, scores 18.0; every case below
with its learning rate or trust region set to ~0 ends at 15.3-19.1, and MBPO, TOM, MB-MPO, MG and MG-MLE with a
frozen model, model lr ~0, at 5.8-19.1), while the cases ended at 26.2-28.3 on seeds 0, 1 and 2 when measured
(re-measured 2026-12-06 under seven rounding settings, benchmarks/rounding_check.sh: mg ends at 25.3, 1.4 points
above the bar, the tightest case; trpo at 26.5-26.8), so a change that keeps an algorithm learning has slack.

Budgets are far below the papers' (tiny networks, a few hundred to a few thousand env steps); each case states
its overrides and budget, and ``CASES`` the final returns and wall times measured on this project's 2-core CPU
machine. ``pytest -m slow tests/test_learning.py`` runs them; the plain ``pytest -q`` of CI runs them too
(about 2.5 minutes in all).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from helpers import micro_suite, unbroken_and_resumed

from mbrlbench.algorithms.base import TrainingEnv
from mbrlbench.runner.lifecycle import run_one
from mbrlbench.suite import load_suite
from mbrlbench.tasks import TASKS, point_mass
from mbrlbench.tasks.random_returns import random_return

TASK = "point_mass"
OPTIMUM = 28.47  # mean optimal return over x0 ~ U(-0.8, 0.8); test_point_mass_reference_returns solves it
GAP_SHARE = 0.6
SEED, EVAL_EPISODES = 0, 20


@functools.cache
def random_mean() -> float:
    """The uniform-random policy's mean return over 200 seeded episodes (the report's own measure)."""
    return random_return(TASK, 200)[0]


def threshold() -> float:
    return random_mean() + GAP_SHARE * (OPTIMUM - random_mean())


def eval_curve(tmp_path: Path, algorithm: str, overrides: dict[str, Any], env_steps: int, every: int) -> pd.Series:
    """One run of ``algorithm`` on point_mass through the suite file and ``run_one``; its evaluation returns."""
    suite = micro_suite(
        tmp_path,
        "learning",
        TASK,
        algorithm,
        overrides,
        seed=SEED,
        env_steps=env_steps,
        every=every,
        episodes=EVAL_EPISODES,
    )
    (spec,) = load_suite(suite).runs
    assert run_one(spec, tmp_path / "out", threads_per_run=1) == "completed"
    df = pd.read_csv(spec.run_dir(tmp_path / "out") / "progress.csv")
    return df.set_index("env_step")["eval_return_mean"]


# ------------------------------------------------------------------------------------------ the cases
@dataclass(frozen=True)
class Case:
    overrides: dict[str, Any]
    env_steps: int
    every: int


# SAC-driven algorithms: 64-unit nets, lr 1e-3 (3x the papers'), batch 128, exploration 200-300 random steps.
_SAC = {"sac_hidden": 64, "batch_size": 128, "sac_lr": 0.001}
_MBPO = {
    **_SAC,
    "n_initial_exploration_steps": 200,
    "min_pool_size": 200,
    "epoch_length": 200,
    "model_train_freq": 100,
    "rollout_batch_size": 400,
    "rollout_schedule": [1, 4, 1, 5],
    "n_train_repeat": 5,
    "ensemble_size": 5,
    "num_elites": 3,
    "model_hidden": 64,
    "model_layers": 2,
    "model_max_epochs": 30,
}
_MNM = {
    **_MBPO,
    "classifier_hidden": 64,
    "classifier_batch_size": 128,
    "classifier_steps": 50,
    "model_value_steps": 10,
    "model_value_batch_size": 128,
}
_TOM = {
    **_SAC,
    "n_initial_exploration_steps": 200,
    "min_pool_size": 200,
    "epoch_length": 200,
    "model_train_freq": 100,
    "rollout_batch_size": 400,
    "n_train_repeat": 20,  # every 4th step (TOM's schedule): 5 updates per step on average
    "model_hidden": 64,
    "model_layers": 2,
    "model_max_epochs": 10,
    "mdn_batches_per_epoch": 20,
    "policy_pool_size": 200,  # weighted fits from 200 policy steps on (the third fit)
    "disc_passes": 5,
    "disc_hidden": 64,
    "q_steps": 100,
    "q_hidden": 64,
    "q_batch_size": 128,
}
_MBMPO = {
    "meta_batch_size": 4,
    "num_models": 2,
    "rollouts_per_task": 10,
    "model_horizon": 30,
    "n_initial_random_steps": 300,
    "real_steps_per_iter": 120,  # 4 episodes of the adapted policies per iteration
    "meta_steps": 5,
    "model_hidden": 64,
    "model_max_epochs": 50,
}
_PG = {"batch_steps": 1000}
_MG = {
    "model_data_ratio": 1.0,  # the policy learns from model data only: a model that does not learn fails the test
    "batch_steps": 500,
    "ensemble_size": 3,
    "num_elites": 2,
    "model_hidden": 64,
    "model_layers": 2,
    "model_steps": 60,
    "matching_steps": 5,
    "mle_batch_size": 128,
    "model_rollouts": 32,
    "model_horizon": 10,
    "policy_rollouts": 256,
    "policy_hidden": 32,
    "value_hidden": 32,
    "ppo_epochs": 5,
    "ppo_minibatches": 4,
    "policy_lr": 0.001,
    "value_lr": 0.001,
}

# Measured on seed 0 (2026-11-28, 2 loaded CPU cores), final return / wall time: sac 27.5 / 14 s, mbpo 26.8 / 24 s,
# mnm 27.0 / 29 s, tom 26.9 / 15 s, tom_uniform 27.2 / 13 s, mbmpo 27.6 / 10 s, me_trpo 27.7 / 4 s, trpo 27.8 / 3 s,
# ppo 27.5 / 3 s, mg 26.5 / 11 s, mg_mle 27.1 / 9 s.
CASES: dict[str, Case] = {
    "sac": Case({**_SAC, "n_initial_exploration_steps": 300, "min_pool_size": 300}, 2000, 500),  # 1,700 updates
    "mbpo": Case(_MBPO, 1000, 250),  # 4,000 SAC updates, 8 model fits, rollouts 1 -> 3 steps
    "mnm": Case(_MNM, 1000, 250),  # MBPO's budget plus the classifier and the model value step
    "tom": Case(_TOM, 600, 200),  # 2,000 SAC updates, 4 model fits (2 weighted)
    "tom_uniform": Case(_TOM, 600, 200),
    "mbmpo": Case(_MBMPO, 600, 150),  # 300 random + 3 iterations of 120 real steps, 5 meta-steps each
    "me_trpo": Case(_MBMPO, 600, 150),
    "trpo": Case(_PG, 10_000, 2000),  # 10 TRPO steps
    "ppo": Case(_PG, 6000, 2000),  # 6 iterations of 10 PPO epochs
    "mg": Case(_MG, 8000, 1000),  # 16 iterations
    "mg_mle": Case(_MG, 8000, 1000),
}


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", list(CASES))
def test_learns_point_mass(tmp_path: Path, algorithm: str):
    """The final evaluation closes >= 60% of the random-to-optimal gap (about 23.9; module docstring)."""
    case = CASES[algorithm]
    curve = eval_curve(tmp_path, algorithm, case.overrides, case.env_steps, case.every)
    final, bar = float(curve.iloc[-1]), threshold()
    print(f"{algorithm}: final {final:.2f} (bar {bar:.2f}); curve {curve.round(2).to_dict()}")
    assert final >= bar, (
        f"{algorithm} did not learn point_mass: final eval return {final:.2f} < {bar:.2f} "
        f"(random {random_mean():.2f}, optimum {OPTIMUM}); curve {curve.round(2).to_dict()}"
    )


# ------------------------------------------------------------------------------------ the fast checks
def test_point_mass_reference_returns():
    """RANDOM and OPTIMUM as the docstring states them. The optimum: dynamics and reward are linear in the
    actions but for ``|x|``, so each start's best 30-step return is a linear program (min sum |x_t|, |a| <= 1);
    its actions replayed in the real env give the same return (the LP models the env exactly)."""
    from scipy.optimize import linprog

    assert random_mean() == pytest.approx(17.0, abs=0.05)
    steps = point_mass.EPISODE_STEPS
    gain = np.zeros((steps, steps))  # x_t - x_0 = sum_k gain[t, k] a_k from rest
    for k in range(steps):
        x = v = 0.0
        for t in range(steps):
            v = point_mass.DAMPING * v + point_mass.FORCE * float(t == k)
            x += point_mass.DT * v
            gain[t, k] = x
    env = TASKS[TASK].make_env()
    starts = point_mass.START * (np.arange(40) + 0.5) / 40  # midpoints of (0, 0.8); the optimum is even in x0
    best = []
    for x0 in starts:
        # variables: actions a (steps), bounds s >= |x_t| (steps); minimize sum s
        cost = np.r_[np.zeros(steps), np.ones(steps)]
        a_ub = np.block([[gain, -np.eye(steps)], [-gain, -np.eye(steps)]])
        b_ub = np.r_[-x0 * np.ones(steps), x0 * np.ones(steps)]
        lp = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=[(-1, 1)] * steps + [(0, None)] * steps)
        assert lp.success
        best.append(steps - lp.fun)
        env.reset(seed=0)
        env.unwrapped.set_sim_state(np.array([x0, 0.0]))
        replayed = sum(env.step(np.array([a], np.float32))[1] for a in lp.x[:steps])
        assert replayed == pytest.approx(best[-1], abs=1e-3)
    assert float(np.mean(best)) == pytest.approx(OPTIMUM, abs=0.005)


def test_point_mass_env_state_restores_exactly():
    """``TrainingEnv`` checkpoints point_mass through the env's own state (MuJoCo tasks keep ``mj_state``):
    restored mid-episode, the same actions give bit-identical observations, rewards and resets."""
    actions = np.random.default_rng(0).uniform(-1, 1, (100, 1)).astype(np.float32)
    env = TrainingEnv(TASKS[TASK].make_env(), seed=3)
    for a in actions[:17]:
        env.step(a)
    state = env.state_dict()
    assert "sim_state" in state and "mj_state" not in state
    first = [env.step(a) for a in actions[17:]]
    fresh = TrainingEnv(TASKS[TASK].make_env(), seed=99)
    fresh.load_state_dict(state)
    second = [fresh.step(a) for a in actions[17:]]
    for x, y in zip(first, second, strict=True):
        for u, v in zip(x, y, strict=True):
            assert np.array_equal(u, v)
    assert "mj_state" in TrainingEnv(TASKS["inverted_pendulum"].make_env(), seed=0).state_dict()


def test_point_mass_resume_is_exact(tmp_path: Path):
    """MBPO on point_mass stopped mid-run (mid-episode) and resumed writes the unbroken run's CSV."""
    overrides = {
        **_MBPO,
        "n_initial_exploration_steps": 100,
        "min_pool_size": 100,
        "model_train_freq": 50,
        "rollout_batch_size": 100,
        "n_train_repeat": 1,
        "ensemble_size": 3,
        "num_elites": 2,
        "model_hidden": 16,
        "model_max_epochs": 3,
        "sac_hidden": 16,
        "batch_size": 32,
    }
    suite = micro_suite(tmp_path, "resume", TASK, "mbpo", overrides, seed=1, env_steps=400, every=100, episodes=3)
    unbroken, resumed = unbroken_and_resumed(tmp_path, suite, stop_at=150)
    pd.testing.assert_frame_equal(unbroken, resumed)
