"""Real-env sampling as MB-MPO's official vectorized samplers do it: many envs stepped together by one batched
policy call, completed episodes ("paths") kept, unfinished ones discarded."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

RealPath = dict[str, np.ndarray]  # one real episode's columns (rllab calls it a path), PATH_FIELDS
PATH_FIELDS = ("obs", "act", "rew", "next_obs", "terminated")


def sample_real(
    envs: list[gym.Env], act: Callable[[np.ndarray], np.ndarray], target: int, seed: int
) -> tuple[list[RealPath], int]:
    """The official vectorized samplers (``maml_vectorized_sampler.py:71-133``, ``random_vectorized_sampler.py:
    46-104``): every env is reset (seeds ``seed + i``), all step together with one batched ``act`` per step,
    an env whose episode ends (terminated or truncated) resets and runs on, until the completed episodes hold
    ``target`` samples; unfinished episodes are discarded. Returns (completed episodes grouped by env, as the
    official per-task dict flattened, and the number of env steps simulated)."""
    obs = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(envs)]).astype(np.float32)
    running: list[list[tuple]] = [[] for _ in envs]
    finished: list[list[RealPath]] = [[] for _ in envs]
    completed = simulated = 0
    while completed < target:
        actions = act(obs)
        for i, env in enumerate(envs):
            next_obs, reward, terminated, truncated, _ = env.step(actions[i])
            running[i].append((obs[i].copy(), actions[i], float(reward), next_obs, float(terminated)))  # obs is reused
            simulated += 1
            if terminated or truncated:
                finished[i].append(_as_path(running[i]))
                completed += len(running[i])
                running[i] = []
                next_obs, _ = env.reset()
            obs[i] = next_obs
    return [p for env_paths in finished for p in env_paths], simulated


def _as_path(steps: list[tuple]) -> RealPath:
    columns = [np.asarray(x, np.float32) for x in zip(*steps, strict=True)]
    return dict(zip(PATH_FIELDS, columns, strict=True))
