"""Fixed-length trajectory batches for on-policy learners, and their batched model rollouts.

A ``Trajectories`` holds ``[..., N, T, .]`` tensors and a ``valid`` mask (1 up to and including the step that
ended the trajectory). Real episodes of different lengths are padded into one; model rollouts of every task
and trajectory step together, one model call per time step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from mbrlbench.components.mse_ensemble import DeterministicEnsemble
from mbrlbench.components.policy_gradient import LinearFeatureBaseline, center_advantages, discounted_cumsum, gae
from mbrlbench.tasks import TerminationFn


@dataclass
class Trajectories:
    obs: torch.Tensor  # [..., N, T, D]
    act: torch.Tensor  # [..., N, T, A]
    rew: torch.Tensor  # [..., N, T]
    valid: torch.Tensor  # [..., N, T] float

    def returns(self) -> torch.Tensor:
        """Undiscounted return of each trajectory ``[..., N]``."""
        return (self.rew * self.valid).sum(dim=-1)

    def steps(self) -> int:
        return int(self.valid.sum())


def pad_episodes(episodes: list[dict[str, np.ndarray]], device: torch.device) -> Trajectories:
    """Real episodes (dicts of ``obs``, ``act``, ``rew`` arrays of their own lengths) -> one padded batch."""
    horizon = max(len(e["rew"]) for e in episodes)
    n, obs_dim, act_dim = len(episodes), episodes[0]["obs"].shape[1], episodes[0]["act"].shape[1]
    obs, act = np.zeros((n, horizon, obs_dim), np.float32), np.zeros((n, horizon, act_dim), np.float32)
    rew, valid = np.zeros((n, horizon), np.float32), np.zeros((n, horizon), np.float32)
    for i, e in enumerate(episodes):
        k = len(e["rew"])
        obs[i, :k], act[i, :k], rew[i, :k], valid[i, :k] = e["obs"], e["act"], e["rew"], 1.0
    return Trajectories(*(torch.as_tensor(x, device=device) for x in (obs, act, rew, valid)))


def advantages(
    traj: Trajectories, baseline: LinearFeatureBaseline, gamma: float, lam: float, center: bool
) -> torch.Tensor:
    """Fit the linear baseline to the discounted returns (one fit per leading index, i.e. per task), then
    GAE, centered over each task's valid steps when ``center`` (rllab ``center_adv``)."""
    batched = traj.obs.dim() == 4
    obs, rew, valid = (
        (traj.obs, traj.rew, traj.valid) if batched else (traj.obs[None], traj.rew[None], traj.valid[None])
    )
    baseline.fit(obs, discounted_cumsum(rew * valid, gamma) * valid, valid)
    adv = gae(rew, baseline.predict(obs) * valid, valid, gamma, lam)
    if center:
        adv = torch.stack([center_advantages(a, v) for a, v in zip(adv, valid, strict=True)])
    return adv if batched else adv[0]


@torch.no_grad()
def model_rollouts(
    model: DeterministicEnsemble,
    policy: Callable[[torch.Tensor], torch.Tensor],
    start_obs: torch.Tensor,
    horizon: int,
    termination_fn: TerminationFn,
) -> Trajectories:
    """Roll every task's trajectories in its own model member, all in one batch per time step.

    ``start_obs [tasks, N, D]``; task ``t`` uses member ``t // (tasks / members)`` (tasks are assigned to the
    members in equal contiguous blocks); ``policy`` maps ``[tasks, N, D]`` to actions ``[tasks, N, A]``.
    Terminated trajectories keep stepping (so shapes stay fixed) but are masked out of ``valid``.
    """
    tasks, n, obs_dim = start_obs.shape
    members = model.members
    if tasks % members:
        raise ValueError(f"{tasks} tasks cannot be split evenly over {members} models")
    obs, alive = start_obs, torch.ones(tasks, n, device=start_obs.device)
    out_obs, out_act, out_rew, out_valid = [], [], [], []
    for _ in range(horizon):
        act = policy(obs)
        next_obs, rew = model.predict(obs.reshape(members, -1, obs_dim), act.reshape(members, -1, act.shape[-1]))
        next_obs, rew = next_obs.reshape(tasks, n, obs_dim), rew.reshape(tasks, n)
        out_obs.append(obs)
        out_act.append(act)
        out_rew.append(rew * alive)
        out_valid.append(alive)
        alive = alive * (1 - termination_fn(next_obs.reshape(-1, obs_dim)).float().reshape(tasks, n))
        obs = next_obs
    return Trajectories(
        torch.stack(out_obs, dim=2), torch.stack(out_act, dim=2), torch.stack(out_rew, dim=2), torch.stack(out_valid, 2)
    )
