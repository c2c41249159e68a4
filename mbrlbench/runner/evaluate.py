"""The runner's evaluation: deterministic episodes of the current policy, reproducible across resumes, and
recorded, so that model-based algorithms can score their model on fresh on-policy data."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mbrlbench.algorithms.base import Episode
from mbrlbench.runner.spec import RunSpec
from mbrlbench.tasks import TaskSpec


def run_base_seed(run_seed: int) -> int:
    """First env reset seed of a run's evaluations: apart from every training seed."""
    return 1_000_003 * (run_seed + 1)


class Evaluator:
    """``episodes`` deterministic episodes in lockstep through one batched ``act`` per step. Reset seeds
    depend on (run seed, evaluation index) only, so a resumed run evaluates exactly as an unbroken one."""

    def __init__(self, task: TaskSpec, episodes: int, base_seed: int) -> None:
        self.envs = [task.make_env() for _ in range(episodes)]
        self.base_seed = base_seed

    @classmethod
    def for_run(cls, spec: RunSpec) -> Evaluator:
        return cls(spec.task, spec.eval_episodes, run_base_seed(spec.seed))

    def reset_seeds(self, index: int) -> list[int]:
        """The env reset seeds of evaluation ``index``: base + index * episodes + i."""
        n = len(self.envs)
        return [self.base_seed + index * n + i for i in range(n)]

    def __call__(self, act: Callable[[np.ndarray], np.ndarray], index: int) -> np.ndarray:
        return np.array([e.ret for e in self.episodes(act, index)])

    def episodes(self, act: Callable[[np.ndarray], np.ndarray], index: int) -> list[Episode]:
        n = len(self.envs)
        obs = np.stack([env.reset(seed=s)[0] for env, s in zip(self.envs, self.reset_seeds(index), strict=True)])
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
