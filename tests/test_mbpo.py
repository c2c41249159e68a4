"""MBPO's schedule against the official code: real/model batch mix, model-pool size, episode-granular real
data and the episode-boundary end of exploration, presets and deviations."""

import numpy as np
import pytest
import torch

from mbrlbench.algorithms.catalog import MBPO_PRESETS as PRESETS
from mbrlbench.algorithms.registry import ALGORITHMS, build, resolve_config
from mbrlbench.components.data.buffers import ReplayBuffer
from mbrlbench.tasks import TASKS

TINY = {
    "n_initial_exploration_steps": 100,
    "min_pool_size": 100,
    "epoch_length": 100,
    "model_train_freq": 100,
    "rollout_batch_size": 50,
    "rollout_schedule": (1, 4, 1, 3),
    "n_train_repeat": 1,
    "ensemble_size": 3,
    "num_elites": 2,
    "model_hidden": 8,
    "model_layers": 2,
    "model_max_epochs": 1,
    "sac_hidden": 8,
}


def _mbpo(algorithm: str = "mbpo", **overrides):
    config = resolve_config(algorithm, "inverted_pendulum", TINY, overrides)
    torch.manual_seed(0)
    return build(algorithm, config, TASKS["inverted_pendulum"], torch.device("cpu"), 0)


def _fill(buffer: ReplayBuffer, n: int, reward: float) -> None:
    obs = torch.zeros(n, buffer.obs_dim)
    buffer.add(obs, torch.zeros(n, buffer.act_dim), torch.full((n,), reward), obs, torch.zeros(n))


def test_training_batch_takes_int_batch_times_real_ratio_real_rows():
    """Official ``_training_batch``: int(256 * 0.05) = 12 real rows, 244 model rows; only real rows while the
    model pool is empty."""
    algo = _mbpo(batch_size=256, real_ratio=0.05)
    _fill(algo.env_buffer, 500, reward=1.0)
    assert (algo.training_batch().rew == 1.0).all()
    algo.model_buffer.resize(1000)
    _fill(algo.model_buffer, 500, reward=-1.0)
    rew = algo.training_batch().rew
    assert rew.shape == (256,) and int((rew == 1.0).sum()) == 12 and (rew[:12] == 1.0).all()


@pytest.mark.parametrize(
    ("task", "epoch", "expected"),
    [
        ("hopper", 0, 1 * 1 * 100_000 * 1000 // 250),  # retain x k x rollouts x fits per epoch
        ("hopper", 200, 1 * 15 * 100_000 * 1000 // 250),
        ("humanoid", 400, 5 * 25 * 100_000 * 1000 // 1000),  # max length 25 at the official HEAD
    ],
)
def test_model_pool_size_is_the_official_reallocation(task, epoch, expected):
    config = resolve_config("mbpo", task)
    algo = build("mbpo", config, TASKS["inverted_pendulum"], torch.device("cpu"), 0)
    from mbrlbench.components.data.rollouts import rollout_length

    assert algo._model_buffer_size(rollout_length(config.rollout_schedule, epoch)) == expected


def test_rollout_resizes_the_model_pool_for_the_epochs_horizon():
    algo = _mbpo()
    _fill(algo.env_buffer, 200, reward=0.0)
    fit = algo.fit_model(algo.env_buffer.all())
    algo.rollout(epoch=4, start=algo.env_buffer.sample(50).obs, fit=fit)  # schedule (1, 4, 1, 3): k = 3
    assert algo.model_buffer.capacity == 1 * 3 * 50 * 100 // 100


def test_real_data_enters_the_pool_when_its_episode_ends():
    """softlearning simple_sampler.py:65-70: the unfinished episode is not in the pool (model fits, rollout
    starts and real SAC rows never see it); exploration ends on an episode boundary once the pool holds N."""
    algo = _mbpo()
    assert algo.config.real_data_insert == "episode"
    algo.train(150)
    assert algo.exploration_end is not None and algo.exploration_end >= 100
    assert len(algo.env_buffer) == algo.env_steps - len(algo.unfinished_episode)
    assert len(algo.unfinished_episode) == algo.env.episode_length  # exactly the running episode is held back


def test_exploration_ends_on_an_episode_boundary_and_the_policy_starts_a_fresh_episode():
    algo = _mbpo()
    while algo.exploration_end is None:
        algo.env_step()
        if algo.exploration_end is None:
            assert len(algo.env_buffer) < 100 or algo.env.episode_length > 0
    assert algo.env.episode_length == 0 and not algo.unfinished_episode
    assert len(algo.env_buffer) == algo.env_steps >= 100


def test_step_insertion_explores_exactly_n_steps():
    algo = _mbpo(real_data_insert="step")
    for _ in range(100):
        algo.env_step()
    assert algo.exploration_end == 100 and len(algo.env_buffer) == 100 and not algo.unfinished_episode


def test_unfinished_episode_survives_a_checkpoint():
    algo = _mbpo()
    algo.train(130)
    state = algo.state_dict()
    other = _mbpo()
    other.load_state_dict(state)
    assert other.exploration_end == algo.exploration_end
    assert len(other.unfinished_episode) == len(algo.unfinished_episode)
    for a, b in zip(other.unfinished_episode, algo.unfinished_episode, strict=True):
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_presets_and_deviations_follow_the_official_head():
    assert PRESETS["humanoid"]["rollout_schedule"] == (20, 300, 1, 25)  # 7ffb5e4
    config = resolve_config("mbpo", "inverted_pendulum")
    assert config.n_initial_exploration_steps == 500  # c87eaaf: the per-env config wins over base.py
    assert not any("5000" in d for d in ALGORITHMS["mbpo"].deviations("inverted_pendulum", config))
    assert config.sac_flavor == "softlearning"
