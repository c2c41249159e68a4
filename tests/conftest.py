"""Shared fixtures: a 2-run micro-suite (tiny MBPO and SAC on inverted_pendulum, 800 env steps)."""

from pathlib import Path

import pytest

MICRO_SUITE = """\
name: micro
tasks: [inverted_pendulum]
algorithms: [mbpo, sac]
seeds: [7]
env_steps: 800
eval: {every: 100, episodes: 2}
device: cpu
checkpoint_every: 2
overrides:
  mbpo:
    all: {n_initial_exploration_steps: 100, min_pool_size: 100, epoch_length: 100, model_train_freq: 100,
          rollout_batch_size: 100, rollout_schedule: [1, 4, 1, 3], n_train_repeat: 2, ensemble_size: 3,
          num_elites: 2, model_hidden: 16, model_layers: 2, model_max_epochs: 3, sac_hidden: 16, batch_size: 32}
  sac:
    all: {n_initial_exploration_steps: 100, min_pool_size: 100, sac_hidden: 16, batch_size: 32}
"""


@pytest.fixture
def suite_file(tmp_path: Path) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(MICRO_SUITE)
    return path
