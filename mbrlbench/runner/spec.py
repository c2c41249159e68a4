"""``RunSpec``: one run of a suite, fully resolved; what every launcher and the run lifecycle receive."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mbrlbench.algorithms.base import AlgorithmConfig
from mbrlbench.rundir import RunKey
from mbrlbench.tasks import TaskSpec


@dataclass(frozen=True)
class RunSpec:
    """One run of the grid, fully resolved."""

    suite: str
    task: TaskSpec
    algorithm: str  # base algorithm in the registry
    variant: str  # name of the run's algorithm column and folder (== algorithm unless a variant)
    seed: int
    env_steps: int
    eval_every: int
    eval_episodes: int
    device: str
    config: AlgorithmConfig
    fidelity: str
    deviations: tuple[str, ...] = field(default_factory=tuple)
    checkpoint_every: int = 5
    checkpoint_minutes: float = 10.0
    tensorboard: bool = False  # mirror progress.csv into <run>/tensorboard/ (not hashed: changes no result)

    @property
    def key(self) -> RunKey:
        return RunKey(self.suite, self.task.name, self.variant, self.seed)

    def run_dir(self, out: Path) -> Path:
        return self.key.path(out)

    def matches(self, key: str, value: str) -> bool:
        """``--only KEY=VALUE``: a task name, an algorithm (the run's name or its base) or a seed."""
        values = {"task": [self.task.name], "algorithm": [self.variant, self.algorithm], "seed": [str(self.seed)]}
        return value in values[key]
