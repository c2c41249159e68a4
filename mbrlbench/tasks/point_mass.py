"""PointMass: a cheap, MuJoCo-free test task (the learning tests' task, tests/test_learning.py).

A point mass on a line of half-length 1 must go to the centre and stay there; after mbrl-lib's test task
(tests/algorithms/test_algorithms.py: a point mass on a line, 30-step episodes), with a random start, a
damped double integrator, a positive reward and an early termination when the mass leaves the track:

- observation ``(x, v)``, float32; the start is ``x ~ U(-0.8, 0.8)``, ``v = 0`` (the only randomness, from
  the env's seeded ``np_random``);
- action ``a`` in ``[-1, 1]`` (clipped, as MuJoCo clips its controls), a force:
  ``v' = 0.7 v + 0.3 a``, ``x' = x + 0.1 v'`` (top speed 0.1 per step: 8 steps from the start's edge);
- reward ``1 - |x'|`` in ``[0, 1]`` on the track (no incentive to leave it);
- ``terminated`` once ``|x'| > 1`` (off the track) or the state is not finite, decided on the float32
  observation so that ``tasks.point_mass_done`` agrees exactly; episodes of 30 steps (TimeLimit).

A uniform-random policy scores about 17.5 (it stays near its start and sometimes falls off; 17.0 over the
200 seeded episodes of tests/test_learning.py), doing nothing 18.0, the optimum 28.47 on average (a linear
program per start, tests/test_learning.py).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

ENV_ID = "mbrlbench/PointMass-v0"
EPISODE_STEPS = 30
TRACK = 1.0  # half-length of the track: |x| > TRACK terminates
START = 0.8  # x0 ~ U(-START, START)
DAMPING, FORCE, DT = 0.7, 0.3, 0.1


class PointMassEnv(gym.Env):
    """A damped point mass on a line; its state is exactly saved and restored by ``get_sim_state`` /
    ``set_sim_state`` (``TrainingEnv`` uses these for checkpoints; the RNG is the env's ``np_random``)."""

    metadata = {"render_modes": []}  # noqa: RUF012 - gymnasium reads it as a class attribute

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self._state = np.zeros(2, dtype=np.float64)  # (x, v)

    def _obs(self) -> np.ndarray:
        return self._state.astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._state = np.array([self.np_random.uniform(-START, START), 0.0])
        return self._obs(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        a = float(np.clip(np.asarray(action, dtype=np.float64).reshape(-1)[0], -1.0, 1.0))
        x, v = self._state
        v = DAMPING * v + FORCE * a
        x = x + DT * v
        self._state = np.array([x, v])
        obs = self._obs()
        terminated = bool(not np.isfinite(obs).all() or abs(obs[0]) > TRACK)
        return obs, float(1.0 - abs(x)), terminated, False, {}

    def get_sim_state(self) -> np.ndarray:
        return self._state.copy()

    def set_sim_state(self, state: np.ndarray) -> None:
        self._state = np.array(state, dtype=np.float64)


def register() -> None:
    """Register ``ENV_ID`` with gymnasium (once; importing ``mbrlbench.tasks`` does it)."""
    if ENV_ID not in gym.registry:
        gym.register(ENV_ID, entry_point="mbrlbench.tasks.point_mass:PointMassEnv", max_episode_steps=EPISODE_STEPS)
