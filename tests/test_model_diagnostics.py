"""Model diagnostics (issue 17 item 3): the open-loop k-step error against a closed form on a linear system,
short episodes, diverging models, the critic bias by hand, and every model-learning algorithm's columns
computed without drawing from any RNG."""

import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from mbrlbench.algorithms.base import Episode
from mbrlbench.algorithms.registry import build, resolve, resolve_config
from mbrlbench.components.models.model_diagnostics import (
    ERROR_CAP,
    MODEL_KEYS,
    critic_bias,
    discounted_returns,
    kstep_errors,
    model_errors,
    obs_scale,
)
from mbrlbench.tasks import TASKS

D, A = 3, 2
A_MAT = np.array([[0.9, 0.2, 0.0], [0.0, 0.9, 0.1], [0.02, 0.0, 0.9]])  # spectral radius 0.97
B_MAT = np.array([[1.0, 0.0], [0.5, -0.5], [0.0, 1.0]])
C_VEC = np.array([1.0, -2.0, 0.5])  # reward r = c . s
BIAS = np.array([0.01, -0.02, 0.03])  # the imperfect model's error per step
REWARD_BIAS = 0.25


def _linear_episodes(lengths: list[int], seed: int = 0) -> list[Episode]:
    rng = np.random.default_rng(seed)
    episodes = []
    for T in lengths:
        s = rng.normal(size=D)
        obs, acts, rews, nxt = [], [], [], []
        for _ in range(T):
            a = rng.uniform(-1, 1, size=A)
            s_next = A_MAT @ s + B_MAT @ a
            obs.append(s), acts.append(a), rews.append(C_VEC @ s), nxt.append(s_next)
            s = s_next
        episodes.append(Episode(np.array(obs), np.array(acts), np.array(rews), np.array(nxt), False, sum(rews)))
    return episodes


def _biased_model(obs: torch.Tensor, act: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """s' = A s + B a + bias, r = c . s + reward bias: exact except known constants."""
    a_mat, b_mat = torch.tensor(A_MAT, dtype=obs.dtype), torch.tensor(B_MAT, dtype=obs.dtype)
    next_obs = obs @ a_mat.T + act @ b_mat.T + torch.tensor(BIAS, dtype=obs.dtype)
    return next_obs, obs @ torch.tensor(C_VEC, dtype=obs.dtype) + REWARD_BIAS


def _closed_form(k: int, std: np.ndarray) -> float:
    """Open-loop error after k steps of a model exact but for a constant bias b: sum_{i<k} A^i b, the same from
    every start; normalized RMSE over the dims."""
    err = sum(np.linalg.matrix_power(A_MAT, i) @ BIAS for i in range(k))
    return float(np.sqrt(np.mean((err / std) ** 2)))


def test_kstep_error_matches_the_closed_form_on_a_linear_model():
    episodes = _linear_episodes([40, 25, 60])
    std = torch.tensor([0.5, 2.0, 1.0], dtype=torch.float64)
    errors, reward_error = kstep_errors(_biased_model, episodes, [1, 2, 5, 10, 20], std, max_starts=None)
    for k in (1, 2, 5, 10, 20):
        assert errors[k] == pytest.approx(_closed_form(k, std.numpy()), rel=1e-4), k
    assert reward_error == pytest.approx(REWARD_BIAS, rel=1e-4)
    assert errors[1] < errors[2] < errors[5] < errors[10] < errors[20]  # an imperfect model drifts with k
    # a perfect model: zero (up to float32)
    exact = lambda o, a: (_biased_model(o, a)[0] - torch.tensor(BIAS, dtype=o.dtype), _biased_model(o, a)[1])  # noqa: E731
    assert kstep_errors(exact, episodes, [10], std, None)[0][10] < 1e-5


def test_model_errors_columns_short_episodes_and_the_strided_subset():
    std = obs_scale(torch.tensor([0.5, 2.0, 1e-9]))  # a constant dimension counts with std 1
    assert std.tolist() == [0.5, 2.0, 1.0]
    short = _linear_episodes([7, 8])  # no episode has 10 steps: NaN, or with the fallback the error at 8
    out = model_errors(_biased_model, short, rollout_horizon=3, obs_std=std)
    assert list(out) == list(MODEL_KEYS)
    assert math.isnan(out["model/kstep_error_10"])
    fallback = kstep_errors(_biased_model, short, [5, 10], std, fallback_longest=True)[0][10]
    assert fallback == pytest.approx(_closed_form(8, std.numpy()), rel=1e-4)
    assert out["model/kstep_error_5"] == pytest.approx(_closed_form(5, std.numpy()), rel=1e-4)
    assert out["model/kstep_error_rollout"] == pytest.approx(_closed_form(3, std.numpy()), rel=1e-4)
    # a subset of starts gives the same value here (every start has the same error), from fewer starts
    long = _linear_episodes([300, 300])
    full, _ = kstep_errors(_biased_model, long, [5], std, None)
    sub, _ = kstep_errors(_biased_model, long, [5], std, 37)
    assert sub[5] == pytest.approx(full[5], rel=1e-4)
    # a long rollout horizon gets its own pass on fewer starts, still the closed form
    out = model_errors(_biased_model, long, rollout_horizon=40, obs_std=std, max_starts=200)
    assert out["model/kstep_error_rollout"] == pytest.approx(_closed_form(40, std.numpy()), rel=1e-4)


def test_a_diverging_model_logs_the_cap_not_inf():
    episodes = _linear_episodes([30])
    std = torch.ones(D, dtype=torch.float64)

    def blowup(obs, act):
        return obs * 1e30, obs.sum(-1)

    errors, _ = kstep_errors(blowup, episodes, [1, 5], std, None)
    assert errors[5] == pytest.approx(math.sqrt(ERROR_CAP))
    assert math.isfinite(errors[1])


def test_critic_bias_by_hand():
    rewards = [np.array([1.0, 2.0, 3.0]), np.array([0.5])]
    gamma = 0.9
    returns = discounted_returns(rewards, gamma)
    assert returns.tolist() == pytest.approx([1 + 0.9 * 2 + 0.81 * 3, 0.5])
    q0 = torch.tensor([10.0, -1.0])
    assert critic_bias(q0, rewards, gamma) == pytest.approx(((10 - 5.23) + (-1 - 0.5)) / 2)


def test_sac_q_bias_with_a_fixed_critic():
    """Both critics output constants (weights zero, last bias c1, c2): q_bias = min(c1, c2) - mean return."""
    config = resolve_config("sac", "inverted_pendulum", {"sac_hidden": 8, "gamma": 0.95})
    algo = build("sac", config, TASKS["inverted_pendulum"], torch.device("cpu"), 0)
    with torch.no_grad():
        for layer in algo.sac.critic.linears():
            layer.weight.zero_()
            layer.bias.zero_()
        last = algo.sac.critic.linears()[-1]
        last.bias[0].fill_(7.0)
        last.bias[1].fill_(4.0)
    episodes = _linear_episodes([5, 9])
    for e in episodes:  # pendulum dims: 4 obs, 1 action
        e.obs, e.actions = np.zeros((len(e.rewards), 4)), np.zeros((len(e.rewards), 1))
    out = algo.evaluation_diagnostics(episodes)
    assert list(out) == list(algo.evaluation_keys) == ["sac/q_bias"]
    expected = 4.0 - np.mean(discounted_returns([e.rewards for e in episodes], 0.95))
    assert out["sac/q_bias"] == pytest.approx(expected, rel=1e-6)


SMOKE = yaml.safe_load((Path(__file__).resolve().parents[1] / "mbrlbench/suites/smoke.yaml").read_text())
MODEL_ALGORITHMS = ["mbpo", "mnm", "tom", "tom_uniform", "mbmpo", "me_trpo", "mg", "mg_mle"]


def _pendulum_episodes(algo, n: int = 2) -> list[Episode]:
    """Deterministic episodes of the algorithm's policy, recorded as the runner's evaluator does."""
    episodes = []
    for i in range(n):
        env = TASKS["inverted_pendulum"].make_env()
        obs, _ = env.reset(seed=123 + i)
        rows: list[tuple] = []
        terminated = truncated = False
        while not (terminated or truncated) and len(rows) < 60:
            a = algo.act(obs[None], deterministic=True)[0]
            next_obs, r, terminated, truncated, _ = env.step(a)
            rows.append((obs, a, float(r), next_obs))
            obs = next_obs
        o, a, r, n_o = (np.array(x) for x in zip(*rows, strict=True))
        episodes.append(Episode(o, a, r, n_o, bool(terminated), float(r.sum())))
    return episodes


@pytest.mark.parametrize("name", MODEL_ALGORITHMS)
def test_model_columns_nan_before_the_fit_finite_after_and_no_rng_draw(name):
    algorithm, variant = resolve(name)
    config = resolve_config(algorithm, "inverted_pendulum", variant, SMOKE["overrides"][name]["all"])
    torch.manual_seed(0)
    algo = build(algorithm, config, TASKS["inverted_pendulum"], torch.device("cpu"), 0)
    keys = algo.evaluation_keys
    assert keys[: len(MODEL_KEYS)] == MODEL_KEYS
    assert keys[len(MODEL_KEYS) :] == (("sac/q_bias",) if algorithm in ("mbpo", "mnm", "tom") else ())
    episodes = _pendulum_episodes(algo)
    before = algo.evaluation_diagnostics(episodes)
    assert set(before) == set(keys) and all(math.isnan(before[k]) for k in MODEL_KEYS)
    algo.train(1 if algorithm == "mbmpo" else 200)  # one MB-MPO iteration; past the first fit (MG: batch 200)
    episodes = _pendulum_episodes(algo)
    rng = (torch.get_rng_state(), np.random.get_state(), random.getstate())
    after = algo.evaluation_diagnostics(episodes)
    assert torch.equal(torch.get_rng_state(), rng[0])
    assert all(np.array_equal(x, y) for x, y in zip(np.random.get_state(), rng[1], strict=True))
    assert random.getstate() == rng[2]
    assert set(after) == set(keys)
    longest = max(len(e.rewards) for e in episodes)
    for key in keys:  # finite from the first fit on, except a k no episode is long enough for (the policy fell)
        k = key.rpartition("_")[2]
        if k.isdigit() and int(k) > longest:
            assert math.isnan(after[key]), (key, after)
        elif key != "model/kstep_error_rollout":
            assert math.isfinite(after[key]), (key, after)
    assert not math.isinf(after["model/kstep_error_rollout"])
    again = algo.evaluation_diagnostics(episodes)  # deterministic: the same twice
    assert np.array_equal(list(again.values()), list(after.values()), equal_nan=True)
