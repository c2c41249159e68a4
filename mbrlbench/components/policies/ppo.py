"""PPO's epochs of clipped-surrogate minibatch updates (Schulman et al. 2017), the one loop every on-policy
learner here uses (TRPO/PPO baselines, MG), with CleanRL's statistics: clip fraction, approximate KL
(``(r - 1) - log r``, Schulman's low-variance estimator), entropy and the value fit's explained variance.

A policy update may mix several data sources (MG: real and model data), each with a weight on its loss; a
value network, when there is one, is fitted in the same minibatch loop on its own sources. Minibatches are
cut by size (rllab/Schulman's 64 steps) or by count (baselines' ``nminibatches``), each source permuted
once per epoch, the permutations drawn in the order: policy sources, then value sources.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from mbrlbench.components.config import BaselinesPPOFields
from mbrlbench.components.policies.policy_gradient import (
    GaussianMLPPolicy,
    center_advantages,
    gaussian_kl,
    masked_mean,
    ppo_loss,
    weighted_trpo_step,
)


@dataclass
class Source:
    """One stream of policy-update data: flat rows of the old policy's log-probabilities and advantages."""

    obs: torch.Tensor
    act: torch.Tensor
    adv: torch.Tensor
    old_logp: torch.Tensor
    weight: float = 1.0


@dataclass
class ValueFit:
    """The value network fitted inside PPO's minibatch loop: 0.5 MSE to the returns of each source."""

    value_fn: Callable[[torch.Tensor], torch.Tensor]
    module: nn.Module
    optimizer: torch.optim.Optimizer
    sources: Sequence[tuple[torch.Tensor, torch.Tensor]]  # (obs, returns) per source


@dataclass
class Minibatching:
    """How an epoch is cut: ``size`` steps per minibatch (one source only), or ``count`` minibatches."""

    size: int | None = None
    count: int | None = None

    def chunks(self, perm: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.count is not None:
            return perm.tensor_split(self.count)
        assert self.size is not None
        return perm.split(self.size)


@dataclass
class PPOStats:
    """Means over the epoch loop's policy updates (``clip_frac``, ``approx_kl``) and value updates."""

    updates: int
    clip_frac: float
    approx_kl: float
    value_loss: float


def ppo_epochs(
    policy: GaussianMLPPolicy,
    optimizer: torch.optim.Optimizer | None,
    sources: Sequence[Source],
    epochs: int,
    minibatching: Minibatching,
    clip: float,
    max_grad_norm: float | None = None,
    value: ValueFit | None = None,
) -> PPOStats:
    """``epochs`` passes over every source in minibatches: a weighted clipped-surrogate step of the policy
    (none when ``optimizer`` is None: a TRPO backbone fits only the value here) and, with ``value``, a value
    step on the same minibatch index; gradients clipped to ``max_grad_norm`` where given."""
    if minibatching.count is None and len(sources) + len(value.sources if value else ()) > 1:
        raise ValueError("minibatches by size need exactly one source; give a count")
    device = policy.log_std.device
    updates, value_steps = 0, 0
    clip_sum = kl_sum = value_sum = torch.zeros((), device=device)
    for _ in range(epochs):
        chunks = [minibatching.chunks(torch.randperm(s.obs.shape[0], device=device)) for s in sources]
        value_chunks = [
            minibatching.chunks(torch.randperm(obs.shape[0], device=device))
            for obs, _ in (value.sources if value else ())
        ]
        for k in range(max(len(c) for c in [*chunks, *value_chunks])):
            if optimizer is not None:
                loss = torch.zeros((), device=device)
                for s, chunk in zip(sources, chunks, strict=True):
                    idx = chunk[k]
                    logp = policy.log_prob(s.obs[idx], s.act[idx])
                    loss = loss + s.weight * ppo_loss(logp, s.old_logp[idx], s.adv[idx], clip, torch.ones_like(logp))
                    with torch.no_grad():
                        log_ratio = logp - s.old_logp[idx]
                        ratio = log_ratio.exp()
                        clip_sum = clip_sum + s.weight * ((ratio - 1).abs() > clip).float().mean()
                        kl_sum = kl_sum + s.weight * ((ratio - 1) - log_ratio).mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if max_grad_norm is not None:
                    nn.utils.clip_grad_norm_(policy.parameters(), max_grad_norm)
                optimizer.step()
                updates += 1
            if value is not None:
                value_sum = value_sum + _value_step(value, value_chunks, k, max_grad_norm)
                value_steps += 1
    return PPOStats(
        updates=updates,
        clip_frac=float(clip_sum) / max(updates, 1),
        approx_kl=float(kl_sum) / max(updates, 1),
        value_loss=float(value_sum) / max(value_steps, 1),
    )


def _value_step(value: ValueFit, chunks: list[tuple[torch.Tensor, ...]], k: int, max_grad_norm: float | None):
    loss = torch.zeros((), device=chunks[0][k].device)
    for (obs, returns), chunk in zip(value.sources, chunks, strict=True):
        idx = chunk[k]
        loss = loss + 0.5 * ((value.value_fn(obs[idx]) - returns[idx]) ** 2).mean()
    value.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if max_grad_norm is not None:
        nn.utils.clip_grad_norm_(value.module.parameters(), max_grad_norm)
    value.optimizer.step()
    return loss.detach()


def gaussian_entropy(policy: GaussianMLPPolicy) -> float:
    """Entropy of the policy's Gaussian (state-independent std): sum over action dims of 0.5 log(2 pi e) + log std."""
    log_std = policy.log_std.detach()
    return float((0.5 * (1.0 + torch.log(torch.tensor(2 * torch.pi))) + log_std).sum())


def explained_variance(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """``1 - Var(target - prediction) / Var(target)`` (CleanRL's, NaN when the target does not vary)."""
    var = float(target.var())
    return float("nan") if var == 0 else 1.0 - float((target - prediction).var()) / var


def surrogate_loss(
    log_prob: torch.Tensor, old_log_prob: torch.Tensor, adv: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """TRPO's importance-sampled surrogate (to minimize): ``-E[pi/pi_old A]`` over the valid steps."""
    return -masked_mean(torch.exp(log_prob - old_log_prob) * adv, valid)


def weighted_policy_update(
    policy: GaussianMLPPolicy,
    optimizer: torch.optim.Optimizer,
    sources: list[tuple[float, dict[str, torch.Tensor]]],
    value: ValueFit,
    settings: BaselinesPPOFields,
    backbone: str,
) -> tuple[dict[str, float], int]:
    """One policy update on weighted data sources (each a dict of flat ``obs``, ``act``, ``adv``): advantages
    centred and scaled per source, the old policy's log-probabilities and Gaussian parameters cached, then
    PPO's epochs (the value fitted in the same loop) or, for ``backbone="trpo"``, the value epochs and one
    weighted TRPO step, all with ``settings`` (baselines' PPO2 / trpo_mpi values).
    Returns the statistics (``policy/...``; the KL on the first source) and the number of policy updates."""
    with torch.no_grad():
        for _, s in sources:
            if settings.normalize_advantages:
                s["adv"] = center_advantages(s["adv"], torch.ones_like(s["adv"]), scale=True)
            s["logp"] = policy.log_prob(s["obs"], s["act"])
            s["mean"], s["log_std"] = policy(s["obs"])
    stats = ppo_epochs(
        policy,
        optimizer if backbone == "ppo" else None,
        [Source(s["obs"], s["act"], s["adv"], s["logp"], weight) for weight, s in sources],
        settings.ppo_epochs,
        Minibatching(count=settings.ppo_minibatches),
        settings.ppo_clip,
        settings.max_grad_norm,
        value,
    )
    out: dict[str, float] = {}
    updates = stats.updates
    if backbone == "trpo":
        weighted_trpo_step(policy, sources, settings.trpo_max_kl, settings.trpo_cg_iters, settings.trpo_damping)
        updates = 1
    else:
        out["policy/clip_frac"] = stats.clip_frac
        out["policy/approx_kl"] = stats.approx_kl
    with torch.no_grad():  # KL(old || new) on the first source
        s = sources[0][1]
        mean, log_std = policy(s["obs"])
        out["policy/kl"] = float(gaussian_kl(s["mean"], s["log_std"], mean, log_std).mean())
    out["policy/std"] = float(policy.log_std.detach().exp().mean())
    out["policy/value_loss"] = stats.value_loss
    out["policy/entropy"] = gaussian_entropy(policy)
    return out, updates
