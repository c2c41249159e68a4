"""Each task's batched termination function agrees with the env's own ``terminated`` on real rollouts
(random and perturbed policies, terminal transitions included)."""

import numpy as np
import pytest
import torch

from mbrlbench.tasks import TASKS, get_task

BASE_TASKS = ["hopper", "walker2d", "halfcheetah", "ant", "humanoid", "inverted_pendulum", "point_mass"]
TRANSITIONS = 2000


def _collect(task_name: str):
    """Random actions, then a biased 'perturbed policy' (constant push plus noise) that falls faster."""
    env = get_task(task_name).make_env()
    rng = np.random.default_rng(0)
    _obs, _ = env.reset(seed=0)
    next_obs, terminated = [], []
    low, high = env.action_space.low, env.action_space.high
    bias = rng.uniform(low, high)
    for t in range(TRANSITIONS):
        if t < TRANSITIONS // 2:
            action = rng.uniform(low, high)
        else:
            action = np.clip(bias + 0.3 * rng.standard_normal(low.shape) * (high - low), low, high)
        o, _, term, trunc, _ = env.step(action.astype(np.float32))
        next_obs.append(o)
        terminated.append(term)
        if term or trunc:
            o, _ = env.reset()
            bias = rng.uniform(low, high)
    return np.array(next_obs), np.array(terminated)


@pytest.mark.parametrize("task_name", BASE_TASKS)
def test_termination_matches_env(task_name: str):
    next_obs, terminated = _collect(task_name)
    predicted = TASKS[task_name].termination_fn(torch.as_tensor(next_obs)).numpy()
    assert predicted.shape == terminated.shape
    mismatches = np.flatnonzero(predicted != terminated)
    assert mismatches.size == 0, f"{task_name}: {mismatches.size} mismatches, first at {mismatches[:5]}"
    if task_name != "halfcheetah":
        assert terminated.sum() >= 5, "the rollouts must include terminal transitions"


def test_termination_is_batched_on_any_shape():
    fn = TASKS["hopper"].termination_fn
    obs = torch.zeros(4, 7, 11)
    obs[..., 0] = 1.0  # healthy height
    assert fn(obs).shape == (4, 7) and not fn(obs).any()
    obs[1, 2, 1] = 0.5  # too tilted
    assert fn(obs).sum() == 1 and fn(obs)[1, 2]
    obs[0, 0, 3] = float("nan")
    assert fn(obs)[0, 0]


@pytest.mark.parametrize("name,dim", [("ant", 27), ("humanoid", 45), ("hopper", 11)])
def test_observation_layout_as_mbpo(name: str, dim: int):
    env = get_task(name).make_env()
    obs, _ = env.reset(seed=0)
    assert obs.shape == (dim,)
    # torso height first, as the termination functions assume
    assert np.isclose(obs[0], env.unwrapped.data.qpos[2 if name in ("ant", "humanoid") else 1])


def test_point_mass_termination_at_the_track_edge():
    """point_mass ends when |x| > 1 (exactly 1 stays on the track) or the observation is not finite."""
    fn = TASKS["point_mass"].termination_fn
    above = float(np.nextafter(np.float32(1.0), np.float32(2.0)))
    obs = torch.tensor([[1.0, 0.0], [-1.0, 5.0], [above, 0.0], [-1.5, 0.0], [0.0, float("nan")]])
    assert fn(obs).tolist() == [False, False, True, True, True]
    assert fn(obs.view(1, 5, 2)).shape == (1, 5)
    env = get_task("point_mass").make_env()
    env.reset(seed=0)
    env.unwrapped.set_sim_state(np.array([0.999, 0.2]))  # x' = 0.999 + 0.1 * 0.7 * 0.2 > 1
    _, _, terminated, _, _ = env.step(np.zeros(1, np.float32))
    assert terminated
