"""Checkpoint size estimates for ``validate`` (buffers dominate: humanoid's model buffer is gigabytes)."""

from __future__ import annotations

from mbrlbench.suite import RunSpec
from mbrlbench.tasks import TaskSpec

BYTES_PER_FLOAT = 4


_DIMS: dict[str, tuple[int, int]] = {}


def _dims(task: TaskSpec) -> tuple[int, int]:
    if task.name not in _DIMS:
        env = task.make_env()
        _DIMS[task.name] = env.observation_space.shape[0], env.action_space.shape[0]
        env.close()
    return _DIMS[task.name]


def estimate_checkpoint_bytes(spec: RunSpec) -> int:
    """Largest checkpoint of the run: filled buffers at the end of training (networks are negligible)."""
    obs_dim, act_dim = _dims(spec.task)
    row = (2 * obs_dim + act_dim + 2) * BYTES_PER_FLOAT
    cfg = spec.config
    real = min(spec.env_steps, getattr(cfg, "replay_size", spec.env_steps))
    model = 0
    if hasattr(cfg, "rollout_batch_size"):
        max_len = max(cfg.rollout_schedule[2:]) if hasattr(cfg, "rollout_schedule") else 1
        model = int(
            cfg.model_retain_epochs * max_len * cfg.rollout_batch_size * cfg.epoch_length / cfg.model_train_freq
        )
    return (real + model) * row


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
