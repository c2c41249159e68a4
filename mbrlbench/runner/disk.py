"""Checkpoint size estimates for ``validate`` (buffers dominate: humanoid's model buffer is gigabytes)."""

from __future__ import annotations

from mbrlbench.algorithms.registry import ALGORITHMS
from mbrlbench.runner.spec import RunSpec
from mbrlbench.tasks import TaskSpec

BYTES_PER_FLOAT = 4


_DIMS: dict[str, tuple[int, int]] = {}


def _dims(task: TaskSpec) -> tuple[int, int]:
    if task.name not in _DIMS:
        env = task.make_env()
        obs_shape, act_shape = env.observation_space.shape, env.action_space.shape
        assert obs_shape is not None and act_shape is not None
        _DIMS[task.name] = obs_shape[0], act_shape[0]
        env.close()
    return _DIMS[task.name]


def estimate_checkpoint_bytes(spec: RunSpec) -> int:
    """Largest checkpoint of the run: filled buffers at the end of training (networks are negligible), from
    the algorithm's own count (``AlgorithmEntry.checkpoint_rows``)."""
    obs_dim, act_dim = _dims(spec.task)
    row = (2 * obs_dim + act_dim + 2) * BYTES_PER_FLOAT
    return ALGORITHMS[spec.algorithm].checkpoint_rows(spec.config, spec.env_steps) * row


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
