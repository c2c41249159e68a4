"""The runner's evaluation: deterministic episodes of the current policy, reproducible across resumes, and
recorded, so that model-based algorithms can score their model on fresh on-policy data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mbrlbench.suite import RunSpec


@dataclass
class Episode:
    """One evaluation episode: ``obs[t]``, ``actions[t]``, ``rewards[t]``, ``next_obs[t]`` for t < T, and
    whether it ended by termination (else by the time limit)."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    terminated: bool
    ret: float  # the return, summed step by step in float64 (bit-identical to the CSV's evaluation)


class Evaluator:
    """``episodes`` deterministic episodes in lockstep through one batched ``act`` per step. Reset seeds
    depend on (run seed, evaluation index) only, so a resumed run evaluates exactly as an unbroken one."""

    def __init__(self, spec: RunSpec) -> None:
        self.envs = [spec.task.make_env() for _ in range(spec.eval_episodes)]
        self.base_seed = 1_000_003 * (spec.seed + 1)

    def __call__(self, act: Callable[[np.ndarray], np.ndarray], index: int) -> np.ndarray:
        return np.array([e.ret for e in self.episodes(act, index)])

    def episodes(self, act: Callable[[np.ndarray], np.ndarray], index: int) -> list[Episode]:
        n = len(self.envs)
        first = self.base_seed + index * n
        obs = np.stack([env.reset(seed=first + i)[0] for i, env in enumerate(self.envs)])
        steps: list[list[tuple]] = [[] for _ in range(n)]
        ended = np.zeros(n, dtype=bool)
        terminal = np.zeros(n, dtype=bool)
        returns = np.zeros(n)
        while not ended.all():
            idx = np.flatnonzero(~ended)
            actions = act(obs[idx])
            for j, i in enumerate(idx):
                o, r, terminated, truncated, _ = self.envs[i].step(actions[j])
                steps[i].append((obs[i].copy(), np.asarray(actions[j]), float(r), np.asarray(o)))
                returns[i] += r
                obs[i] = o
                if terminated or truncated:
                    ended[i], terminal[i] = True, bool(terminated)
        return [_episode(s, bool(terminal[i]), float(returns[i])) for i, s in enumerate(steps)]

    def close(self) -> None:
        for env in self.envs:
            env.close()


def _episode(steps: list[tuple], terminated: bool, ret: float) -> Episode:
    obs, actions, rewards, next_obs = zip(*steps, strict=True)
    return Episode(np.stack(obs), np.stack(actions), np.array(rewards), np.stack(next_obs), terminated, ret)
