"""The runner's evaluation: deterministic episodes of the current policy, reproducible across resumes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mbrlbench.suite import RunSpec


class Evaluator:
    """``episodes`` deterministic episodes in lockstep through one batched ``act`` per step. Reset seeds
    depend on (run seed, evaluation index) only, so a resumed run evaluates exactly as an unbroken one."""

    def __init__(self, spec: RunSpec) -> None:
        self.envs = [spec.task.make_env() for _ in range(spec.eval_episodes)]
        self.base_seed = 1_000_003 * (spec.seed + 1)

    def __call__(self, act: Callable[[np.ndarray], np.ndarray], index: int) -> np.ndarray:
        n = len(self.envs)
        first = self.base_seed + index * n
        obs = np.stack([env.reset(seed=first + i)[0] for i, env in enumerate(self.envs)])
        returns = np.zeros(n)
        active = np.ones(n, dtype=bool)
        while active.any():
            idx = np.flatnonzero(active)
            actions = act(obs[idx])
            for j, i in enumerate(idx):
                o, r, terminated, truncated, _ = self.envs[i].step(actions[j])
                returns[i] += r
                obs[i] = o
                if terminated or truncated:
                    active[i] = False
        return returns

    def close(self) -> None:
        for env in self.envs:
            env.close()
