"""Trajectory batches for on-policy learners, and the model rollouts that produce them: MB-MPO's lockstep
rollouts (``model_rollouts``) and MG's differentiable ones (``imagine``).

A ``Trajectories`` holds ``[..., N, T, .]`` tensors, a ``valid`` mask and optionally ``time``, the step within
the path. Real episodes of different lengths are padded into one (one path per row, ``time`` = position).
Model rollouts keep the lockstep layout of the official vectorized sampler: row ``n`` of a task is one
parallel slot, holding the paths it ran one after another (a terminated path is restarted from a fresh
reset), so ``time`` restarts at 0 where a new path begins; steps of the unfinished last path are invalid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from mbrlbench.components.models.mse_ensemble import DeterministicEnsemble
from mbrlbench.components.phases import phase
from mbrlbench.components.policies.policy_gradient import (
    GaussianMLPPolicy,
    LinearFeatureBaseline,
    center_advantages,
    detached,
    discounted_cumsum,
    gae,
    gae_bootstrapped,
    next_step_continues,
)
from mbrlbench.tasks import TerminationFn

ResetFn = Callable[[int], torch.Tensor]
"""``k`` -> ``[k, D]`` fresh initial observations of the real env, each used once."""


@dataclass
class Trajectories:
    obs: torch.Tensor  # [..., N, T, D]
    act: torch.Tensor  # [..., N, T, A]
    rew: torch.Tensor  # [..., N, T]
    valid: torch.Tensor  # [..., N, T] float
    time: torch.Tensor | None = None  # [..., N, T] step within the path; None: the position along T
    terminated: torch.Tensor | None = None  # [..., N, T] float: the step terminated (``imagine``)
    final_obs: torch.Tensor | None = None  # [..., N, D] the state after the last step, to bootstrap from

    def returns(self) -> torch.Tensor:
        """Undiscounted return of each row ``[..., N]`` (of each trajectory when a row is one path)."""
        return (self.rew * self.valid).sum(dim=-1)

    def continues(self) -> torch.Tensor:
        """``[..., N, T]``: 1 where step t+1 of the row belongs to step t's path (a new path starts at time 0)."""
        if self.time is None:
            return next_step_continues(self.valid)
        same = (self.time[..., 1:] == self.time[..., :-1] + 1).to(self.valid.dtype) * self.valid[..., 1:]
        return torch.cat([same, torch.zeros_like(same[..., :1])], dim=-1)

    def mean_path_return(self) -> float:
        """Mean undiscounted return over the valid (completed) paths."""
        paths = (self.valid * (1 - self.continues())).sum()
        return float((self.rew * self.valid).sum() / paths.clamp_min(1))


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
    traj: Trajectories,
    baseline: LinearFeatureBaseline,
    gamma: float,
    lam: float,
    center: bool,
    scale: bool = False,
) -> torch.Tensor:
    """Fit the linear baseline to the discounted returns (one fit per leading index, i.e. per task), then
    GAE, all within paths; centered over each task's valid steps when ``center``, and also divided by their
    std when ``scale`` (rllab ``center_adv`` does both: ``rllab/algos/util.py:7-8``)."""
    batched = traj.obs.dim() == 4
    cont = traj.continues()
    obs, rew, valid, cont, time = traj.obs, traj.rew, traj.valid, cont, traj.time
    if not batched:  # one task: a leading task axis of 1
        obs, rew, valid, cont = obs[None], rew[None], valid[None], cont[None]
        time = None if time is None else time[None]
    baseline.fit(obs, discounted_cumsum(rew * valid, gamma, cont) * valid, valid, time)
    adv = gae(rew, baseline.predict(obs, time) * valid, valid, gamma, lam, cont)
    if center:
        adv = torch.stack([center_advantages(a, v, scale) for a, v in zip(adv, valid, strict=True)])
    return adv if batched else adv[0]


@torch.no_grad()
def model_rollouts(
    model: DeterministicEnsemble,
    policy: Callable[[torch.Tensor], torch.Tensor],
    reset_obs: ResetFn,
    shape: tuple[int, int],
    horizon: int,
    termination_fn: TerminationFn,
    budget: int | None = None,
) -> Trajectories:
    """Imagined paths of every task in its own model member, all slots stepping together (one model call
    per step), until the completed paths hold ``budget`` samples (default: one full path per slot).

    ``shape = (tasks, slots per task)``; task ``t`` uses member ``t // (tasks / members)`` (equal contiguous
    blocks); ``policy`` maps ``[tasks, slots, D]`` to actions. A path ends when it terminates or reaches
    ``horizon`` steps, and its slot restarts from a fresh ``reset_obs`` state; the unfinished paths left at
    the end are invalid, as the official sampler discards them (``maml_model_vectorized_sampler.py:84-132``).
    """
    tasks, slots = shape
    if tasks % model.members:
        raise ValueError(f"{tasks} tasks cannot be split evenly over {model.members} models")
    budget = tasks * slots * horizon if budget is None else budget
    obs = reset_obs(tasks * slots).view(tasks, slots, -1)
    time = torch.zeros(tasks, slots, dtype=torch.long, device=obs.device)
    start = torch.zeros_like(time)  # the lockstep step at which each slot's current path began
    records: list[tuple[torch.Tensor, ...]] = []
    completed = 0
    while completed < budget:
        act = policy(obs)
        next_obs, rew = _predict(model, obs, act)
        records.append((obs, act, rew, time))
        ended = termination_fn(next_obs).bool() | (time + 1 >= horizon)
        n_ended, n_samples = torch.stack([ended.sum(), ((time + 1) * ended).sum()]).tolist()
        completed += n_samples
        time, start = torch.where(ended, 0, time + 1), torch.where(ended, len(records), start)
        if n_ended and completed < budget:
            next_obs[ended] = reset_obs(n_ended).to(next_obs.dtype)
        obs = next_obs
    o, a, r, t = (torch.stack(x, dim=2) for x in zip(*records, strict=True))
    valid = (torch.arange(len(records), device=obs.device) < start.unsqueeze(-1)).to(r.dtype)
    return Trajectories(o, a, r * valid, valid, t)


def _predict(model: DeterministicEnsemble, obs: torch.Tensor, act: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``[tasks, slots, .]`` -> next obs and reward of each task's member (tasks in contiguous blocks)."""
    tasks, slots, obs_dim = obs.shape
    members = model.members
    next_obs, rew = model.predict(obs.reshape(members, -1, obs_dim), act.reshape(members, -1, act.shape[-1]))
    return next_obs.reshape(tasks, slots, obs_dim), rew.reshape(tasks, slots)


@phase("rollouts")
def imagine(
    step_fn: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    policy: GaussianMLPPolicy,
    start: torch.Tensor,
    horizon: int,
    termination_fn: TerminationFn,
    low: float,
    high: float,
) -> Trajectories:
    """MG's differentiable model rollouts: one path per start state, all stepping together (one model call
    per step). Actions are reparameterized through the state with the policy's parameters frozen (``a =
    mu(s) + std * eps``), so the paths are differentiable in the model but not in the policy, as the
    score-function gradient needs. A path's state is frozen after it terminates (no garbage that could
    overflow). ``act`` is the raw action (before clipping); ``valid`` is 1 up to and including the terminal
    step; ``final_obs`` is the bootstrap state after the last step."""
    params = detached(policy.params())
    obs = start
    alive = torch.ones(start.shape[0], device=start.device, dtype=start.dtype)
    steps: dict[str, list[torch.Tensor]] = {"obs": [], "act": [], "rew": [], "terminated": [], "valid": []}
    for _ in range(horizon):
        mean, log_std = policy.dist(obs, params)
        act = mean + torch.randn_like(mean) * log_std.exp()
        next_obs, rew = step_fn(obs, act.clamp(low, high))
        terminated = termination_fn(next_obs).to(start.dtype)
        for key, value in (("obs", obs), ("act", act), ("rew", rew), ("terminated", terminated), ("valid", alive)):
            steps[key].append(value)
        alive = alive * (1.0 - terminated)
        obs = torch.where(alive[:, None] > 0, next_obs, obs)
    steps["obs"].append(obs)
    t = {k: torch.stack(v, dim=1) for k, v in steps.items()}
    return Trajectories(
        t["obs"][:, :-1], t["act"], t["rew"], t["valid"], terminated=t["terminated"], final_obs=t["obs"][:, -1]
    )


def bootstrapped_advantages(
    traj: Trajectories,
    value_fn: Callable[[torch.Tensor], torch.Tensor],
    gamma: float,
    lam: float,
    kind: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(advantages, returns) ``[B, H]`` of ``imagine``'s paths: model rewards, GAE with ``value_fn``
    (bootstrap at the horizon); ``kind="return"``: the bootstrapped discounted return instead of GAE."""
    assert traj.terminated is not None and traj.final_obs is not None
    values = value_fn(torch.cat([traj.obs, traj.final_obs[:, None]], dim=1))  # [B, H+1]
    terminated, valid = traj.terminated, traj.valid
    rew = traj.rew * valid
    adv = gae_bootstrapped(rew, values[:, :-1], values[:, 1:], terminated, 1.0 - terminated, gamma, lam) * valid
    full = gae_bootstrapped(rew, values[:, :-1], values[:, 1:], terminated, 1.0 - terminated, gamma, 1.0) * valid
    returns = full + values[:, :-1] * valid
    return (adv if kind == "gae" else returns), returns
