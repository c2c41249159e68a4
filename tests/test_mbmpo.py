"""MB-MPO and its baselines: the batched model rollout against a step-by-step loop, the deterministic
ensemble's per-member splits and early stop, the meta-step's trust region, and exact resume."""

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import micro_suite, unbroken_and_resumed

from mbrlbench.algorithms import build, resolve, resolve_config
from mbrlbench.components.mse_ensemble import DeterministicEnsemble
from mbrlbench.components.trajectories import model_rollouts, pad_episodes
from mbrlbench.tasks import TASKS

TINY = {
    "meta_batch_size": 4,
    "num_models": 2,
    "rollouts_per_task": 5,
    "model_horizon": 15,
    "n_initial_random_steps": 200,
    "meta_steps": 2,
    "model_hidden": 32,
    "model_max_epochs": 5,
}


def test_batched_rollout_equals_step_by_step_loop():
    torch.manual_seed(0)
    model = DeterministicEnsemble(3, 2, members=2, hidden=16)
    model.input_norm.fit(torch.randn(100, 5))
    model.target_norm.fit(torch.randn(100, 4))
    start = torch.randn(4, 3, 3)  # 4 tasks (2 per member) x 3 trajectories
    weights = torch.randn(4, 3, 2)  # a deterministic, task-dependent linear policy

    def policy(obs):  # [tasks, N, D] -> [tasks, N, A]
        return torch.tanh(obs @ weights)

    def terminated(obs):
        return obs[:, 0] > 1.5

    traj = model_rollouts(model, policy, start, 6, terminated)
    assert traj.obs.shape == (4, 3, 6, 3) and traj.act.shape == (4, 3, 6, 2) and traj.valid.shape == (4, 3, 6)
    for t in range(4):
        member = t // 2
        for n in range(3):
            obs, alive = start[t, n], 1.0
            for h in range(6):
                act = torch.tanh(obs @ weights[t])
                x = model.input_norm(torch.cat([obs, act])[None])
                h_ = x
                for i, layer in enumerate(model.net.layers):  # member `member` alone, by hand
                    h_ = h_ @ layer.weight[member] + layer.bias[member]
                    if i < len(model.net.layers) - 1:
                        h_ = torch.relu(h_)
                y = h_[0] * model.target_norm.std + model.target_norm.mean
                assert torch.allclose(traj.obs[t, n, h], obs, atol=1e-5)
                assert torch.allclose(traj.rew[t, n, h], y[0] * alive, atol=1e-5)
                assert traj.valid[t, n, h].item() == alive
                obs = obs + y[1:]
                alive = alive * (0.0 if obs[0] > 1.5 else 1.0)


def test_deterministic_ensemble_fits_clean_data():
    torch.manual_seed(0)
    x = torch.randn(2000, 4)
    y = torch.cat([x[:, :1] * 2, x[:, 1:3] - x[:, 3:]], dim=1)  # [reward, delta obs] of a 2-dim obs
    model = DeterministicEnsemble(2, 2, members=3, hidden=64, lr=3e-3)
    fit = model.fit(x, y, batch_size=100, max_epochs=60)
    assert fit.val_loss < 0.02  # standardized MSE
    next_obs, rew = model.predict(x[None, :5, :2].expand(3, -1, -1), x[None, :5, 2:].expand(3, -1, -1))
    assert torch.allclose(rew, y[:5, 0].expand(3, -1), atol=0.3)
    assert torch.allclose(next_obs - x[None, :5, :2], y[None, :5, 1:], atol=0.3)
    # far outside the data, predictions stay inside the real range of [reward, next_obs] (rllab's clip_obs)
    far_obs, far_rew = model.predict(torch.full((3, 4, 2), 50.0), torch.full((3, 4, 2), -50.0))
    real_next = x[:, :2] + y[:, 1:]
    assert (far_rew <= y[:, 0].max() + 1e-5).all() and (far_rew >= y[:, 0].min() - 1e-5).all()
    assert (far_obs <= real_next.max(0).values + 1e-5).all() and (far_obs >= real_next.min(0).values - 1e-5).all()


def test_deterministic_ensemble_stops_members_that_overfit():
    """Tiny noisy data: validation loss turns up, each member stops (and keeps its weights from then)."""
    torch.manual_seed(0)
    x = torch.randn(60, 4)
    y = torch.cat([x[:, :1], x[:, 1:3]], dim=1) + torch.randn(60, 3)
    model = DeterministicEnsemble(2, 2, members=3, hidden=128, lr=1e-2)
    fit = model.fit(x, y, batch_size=16, max_epochs=400)
    assert fit.epochs < 400


def test_pad_episodes_masks_the_padding():
    eps = [
        {"obs": np.ones((3, 2)), "act": np.ones((3, 1)), "rew": np.array([1.0, 2.0, 3.0])},
        {"obs": np.ones((1, 2)), "act": np.ones((1, 1)), "rew": np.array([5.0])},
    ]
    traj = pad_episodes(eps, torch.device("cpu"))
    assert traj.valid.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert traj.returns().tolist() == [6.0, 5.0]


def _algo(name: str):
    base, layer = resolve(name)
    overrides = TINY if base == "mbmpo" else {"batch_steps": 300}
    config = resolve_config(base, "hopper_h200", layer, overrides)
    torch.manual_seed(0)
    return build(base, config, TASKS["hopper_h200"], torch.device("cpu"), 0)


@pytest.mark.parametrize("name", ["mbmpo", "me_trpo"])
def test_meta_steps_stay_in_the_trust_region(name):
    algo = _algo(name)
    out = algo.train(600)
    assert out["mbmpo/kl"] <= algo.config.max_kl * 1.0001
    assert out["mbmpo/updates"] == out["mbmpo/iteration"] * algo.config.meta_steps
    assert len(algo.adapted) == algo.config.meta_batch_size
    same = all(torch.equal(a["log_std"], algo.adapted[0]["log_std"]) for a in algo.adapted)
    assert same == (name == "me_trpo")  # MAML adapts each task differently; ME-TRPO has one policy
    assert len(algo.buffer) == algo.env_steps  # every real step is stored for the models


@pytest.mark.parametrize("name", ["mbmpo", "trpo", "ppo"])
def test_stopped_then_resumed_equals_unbroken(tmp_path, name):
    overrides = TINY if resolve(name)[0] == "mbmpo" else {"batch_steps": 300}
    suite = micro_suite(tmp_path, "micro", "hopper_h200", name, overrides, seed=2, env_steps=900, every=300, episodes=1)
    unbroken, resumed = unbroken_and_resumed(tmp_path, suite, stop_at=300)
    pd.testing.assert_frame_equal(resumed, unbroken)
    assert unbroken["env_step"].is_monotonic_increasing and unbroken["env_step"].is_unique
