"""Branched model rollouts (MBPO ``_rollout_model``) and the rollout-length schedule."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import torch

from mbrlbench.components.data.buffers import ReplayBuffer
from mbrlbench.components.phases import phase
from mbrlbench.tasks import TerminationFn


class DynamicsModel(Protocol):
    """What a rollout needs of a model: one stochastic step for a batch (ensemble, MDN, wrappers)."""

    def sample(self, obs: torch.Tensor, act: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...


def rollout_length(schedule: Sequence[int], epoch: int) -> int:
    """``[min_epoch, max_epoch, min_len, max_len]``: linear from min_len to max_len, then held (official
    ``_set_rollout_length``: ``int`` truncation, min_len up to and including min_epoch)."""
    min_epoch, max_epoch, min_len, max_len = schedule
    if epoch <= min_epoch:
        return int(min_len)
    dx = (epoch - min_epoch) / max(max_epoch - min_epoch, 1)
    return int(min(dx, 1.0) * (max_len - min_len) + min_len)


@torch.no_grad()
@phase("rollouts")
def branched_rollout(
    model: DynamicsModel,
    policy: Callable[[torch.Tensor], torch.Tensor],
    termination_fn: TerminationFn,
    start_obs: torch.Tensor,
    horizon: int,
    out: ReplayBuffer,
) -> dict[str, float]:
    """Roll ``policy`` (stochastic) ``horizon`` steps in the model from ``start_obs``; every transition,
    terminal ones included, goes to ``out``; terminated rows stop. Returns rollout diagnostics."""
    obs = start_obs
    added = 0
    for _ in range(horizon):
        act = policy(obs)
        next_obs, rew = model.sample(obs, act)
        terminated = termination_fn(next_obs)
        out.add(obs, act, rew, next_obs, terminated)
        added += obs.shape[0]
        obs = next_obs[~terminated]
        if obs.shape[0] == 0:
            break
    return {
        "rollout/horizon": float(horizon),
        "rollout/transitions": float(added),
        "rollout/survival": obs.shape[0] / max(start_obs.shape[0], 1),
    }
