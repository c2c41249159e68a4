"""Soft actor-critic in the two flavours the official codes use: tanh-Gaussian policy, twin Q with Polyak
targets, automatic temperature on ``log_alpha`` (initial alpha 1). The twin critics are one ``EnsembleMLP``
with two members, so both Q-values cost one batched pass. Diagnostics accumulate on the device and are read
once per evaluation (``pop_diagnostics``), never per update.

``softlearning`` (MBPO's official SAC, jannerm/mbpo's vendored softlearning): the env is wrapped in
``NormalizeActionWrapper`` (``gym_adapter.py:49,80-81``), so log pi, the entropy and its target are those of
the action in [-1, 1] and the Q-nets see that action; critic loss 0.5 MSE per Q; the Q, policy and
temperature gradients come from the same pre-step parameters (one ``session.run``, ``mbpo.py:661``).
``pranz24`` (TOM's official SAC, ``sac/sac.py`` + ``sac/model.py``): log pi of the env-unit action
(``log(scale (1 - tanh^2))``, ``model.py:103-105``), Q-nets on env-unit actions, each critic's MSE (no 0.5)
clamped at 1000 (``sac.py:79-82``), the critic stepped before the policy loss is formed (``sac.py:84-98``).
Both initialise every layer glorot-uniform with zero biases.
Actions leave the actor in env units either way; the flavour decides only what log pi and Q measure.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn
from torch.nn import functional as F

from mbrlbench.components.cuda_graphs import GraphedStep
from mbrlbench.components.data.buffers import Batch
from mbrlbench.components.mlp import glorot_, mlp
from mbrlbench.components.models.ensemble import EnsembleMLP
from mbrlbench.components.optim import adam, frozen
from mbrlbench.components.phases import phase

Flavor = Literal["softlearning", "pranz24"]
PRANZ24_CRITIC_LOSS_CLAMP = 1000.0  # TOM sac/sac.py:81-82 clamp_max(1000.)
LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0  # softlearning's SCALE_DIAG_MIN_MAX


@dataclass(frozen=True)
class SACSettings:
    """The SAC knobs an algorithm config passes on (see each algorithm's config for sources)."""

    hidden: int = 256
    layers: int = 2
    lr: float = 3e-4
    gamma: float = 0.99
    tau: float = 5e-3
    target_entropy: float = -1.0
    init_alpha: float = 1.0
    target_update_interval: int = 1
    actor_update_interval: int = 1
    cuda_graph: bool = False  # replay each update from a CUDA graph (CUDA only; ignored elsewhere)
    flavor: Flavor = "softlearning"  # see the module docstring


class TanhGaussianActor(nn.Module):
    """Reparameterized tanh-squashed Gaussian policy, scaled to the action box. ``env_unit_log_prob``: log pi
    of the env-unit action (pranz24), else of the normalized action in [-1, 1] (softlearning)."""

    scale: torch.Tensor
    bias: torch.Tensor

    def __init__(
        self, obs_dim: int, act_dim: int, hidden: int, layers: int, low: float, high: float, env_unit_log_prob: bool
    ) -> None:
        super().__init__()
        # what rebuilds it without its algorithm (policy.pt)
        self.init_kwargs: dict[str, Any] = {"obs_dim": obs_dim, "act_dim": act_dim, "hidden": hidden, "layers": layers}
        self.init_kwargs |= {"low": low, "high": high, "env_unit_log_prob": env_unit_log_prob}
        self.body = mlp(obs_dim, hidden, layers, None, nn.ReLU)
        self.head = nn.Linear(hidden if layers else obs_dim, 2 * act_dim)
        glorot_(self)
        self.register_buffer("scale", torch.tensor((high - low) / 2.0))
        self.register_buffer("bias", torch.tensor((high + low) / 2.0))
        self.env_unit_log_prob = env_unit_log_prob

    def forward(self, obs: torch.Tensor, deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (action in env units, log-probability of it in the flavour's units)."""
        mu, log_std = self.head(self.body(obs)).chunk(2, dim=-1)
        log_std = log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)
        u = mu if deterministic else mu + torch.randn_like(mu) * log_std.exp()
        log_prob = -0.5 * ((u - mu) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)
        # log |d tanh(u)/du| = 2 (log 2 - u - softplus(-2u)), numerically stable
        log_prob = log_prob - 2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))
        if self.env_unit_log_prob:  # density of scale * tanh(u) + bias: one log(scale) per dimension
            log_prob = log_prob - torch.log(self.scale)
        return torch.tanh(u) * self.scale + self.bias, log_prob.sum(dim=-1)


class SAC(nn.Module):
    def __init__(
        self, obs_dim: int, act_dim: int, low: float, high: float, settings: SACSettings, device: torch.device
    ) -> None:
        super().__init__()
        self.settings = settings
        pranz24 = settings.flavor == "pranz24"
        self.actor = TanhGaussianActor(obs_dim, act_dim, settings.hidden, settings.layers, low, high, pranz24)
        self.critic = EnsembleMLP(
            2, obs_dim + act_dim, 1, settings.hidden, settings.layers, nn.ReLU, init="glorot_uniform"
        )
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = nn.Parameter(torch.tensor(float(settings.init_alpha)).log())
        self.to(device)
        graphed = settings.cuda_graph and torch.device(device).type == "cuda"
        self.actor_opt = adam(self.actor.parameters(), lr=settings.lr, capturable=graphed)
        self.critic_opt = adam(self.critic.parameters(), lr=settings.lr, capturable=graphed)
        self.alpha_opt = adam([self.log_alpha], lr=settings.lr, capturable=graphed)
        self.updates = 0
        self._diag_sum = torch.zeros(5, device=device)  # q_loss, policy_loss, alpha, entropy, q_mean
        self._diag_count = [0, 0]  # critic steps (q_loss, q_mean), actor steps (policy_loss, alpha, entropy)
        self._graphed = GraphedStep(self._step) if graphed else None

    @torch.no_grad()
    def act(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        return self.actor(obs, deterministic)[0]

    def q_values(self, obs: torch.Tensor, act: torch.Tensor, target: bool = False) -> torch.Tensor:
        """Both critics' Q-values ``[2, N]`` of env-unit actions ``act`` (fed normalized in softlearning's flavour,
        whose Q-nets live behind the action-normalizing wrapper)."""
        net = self.critic_target if target else self.critic
        if self.settings.flavor == "softlearning":
            act = (act - self.actor.bias) / self.actor.scale
        return net(torch.cat([obs, act], dim=-1)).squeeze(-1)

    @torch.no_grad()
    def q_target(self, batch: Batch) -> torch.Tensor:
        """``r + gamma (1 - d) (min_j Q_targ_j(s', a') - alpha log pi(a'|s'))``, ``a' ~ pi(.|s')``."""
        next_act, next_logp = self.actor(batch.next_obs)
        next_q = self.q_values(batch.next_obs, next_act, target=True).min(dim=0).values
        soft = next_q - self.log_alpha.exp() * next_logp
        return batch.rew + self.settings.gamma * (1.0 - batch.terminated) * soft

    def critic_loss(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """The critic loss summed over both critics, and the mean Q-value. softlearning: 0.5 MSE per critic;
        pranz24: MSE per critic clamped at 1000 (no gradient from a critic whose batch MSE exceeds it)."""
        target = self.q_target(batch)
        q = self.q_values(batch.obs, batch.act)
        mse = ((q - target) ** 2).mean(dim=1)
        if self.settings.flavor == "pranz24":
            return mse.clamp_max(PRANZ24_CRITIC_LOSS_CLAMP).sum(), q.mean()
        return 0.5 * mse.sum(), q.mean()

    def actor_loss(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``alpha log pi(a|s) - min_j Q_j(s, a)`` with ``a ~ pi(.|s)``; also ``log pi`` and ``alpha``."""
        alpha = self.log_alpha.exp().detach()
        act, logp = self.actor(obs)
        q_pi = self.q_values(obs, act).min(dim=0).values
        return (alpha * logp - q_pi).mean(), logp, alpha

    @phase("policy")
    def update(self, batch: Batch) -> None:
        """One gradient step on the critics; on every ``actor_update_interval``-th call also on actor and
        temperature; Polyak target update every ``target_update_interval``-th call."""
        self.updates += 1
        with_actor = (self.updates - 1) % self.settings.actor_update_interval == 0
        with_target = self.updates % self.settings.target_update_interval == 0
        (self._graphed or self._step)(batch, with_actor, with_target)
        self._diag_count[0] += 1
        self._diag_count[1] += with_actor

    def _step(self, batch: Batch, with_actor: bool, with_target: bool) -> None:
        """The tensor work of ``update`` (what a CUDA graph records): no host syncs, no Python state."""
        q_loss, q_mean = self.critic_loss(batch)
        self.critic_opt.zero_grad(set_to_none=True)
        q_loss.backward()
        if with_actor and self.settings.flavor == "softlearning":
            # softlearning: every gradient from the pre-step parameters, then all steps together
            actor_diag = self._actor_and_alpha_backward(batch.obs)
            self.critic_opt.step()
            self.actor_opt.step()
            self.alpha_opt.step()
        else:  # pranz24: the policy loss sees the freshly stepped critic
            self.critic_opt.step()
            if with_actor:
                actor_diag = self._actor_and_alpha_backward(batch.obs)
                self.actor_opt.step()
                self.alpha_opt.step()
        with torch.no_grad():
            # slots 0 and 4 as a strided view: an index list would be copied to the device, a host sync
            self._diag_sum[0::4] += torch.stack([q_loss, q_mean]).detach()
            if with_actor:
                self._diag_sum[1:4] += actor_diag
        if with_target:
            with torch.no_grad():
                torch._foreach_lerp_(
                    list(self.critic_target.parameters()), list(self.critic.parameters()), self.settings.tau
                )

    def _actor_and_alpha_backward(self, obs: torch.Tensor) -> torch.Tensor:
        """Gradients of the policy loss and of the temperature loss toward the target entropy (no step);
        returns the detached (policy loss, alpha, entropy estimate) for the diagnostics."""
        # The actor needs dQ/da only: frozen critic weights skip their weight-gradient matmuls (same result).
        with frozen(self.critic):
            policy_loss, logp, alpha = self.actor_loss(obs)
        self.actor_opt.zero_grad(set_to_none=True)
        policy_loss.backward()
        alpha_loss = -(self.log_alpha * (logp.detach() + self.settings.target_entropy)).mean()
        self.alpha_opt.zero_grad(set_to_none=True)
        alpha_loss.backward()
        return torch.stack([policy_loss, alpha, -logp.mean()]).detach()

    def pop_diagnostics(self) -> dict[str, float]:
        """Means since the last call (NaN if no update happened): one host sync per evaluation."""
        names = ("sac/q_loss", "sac/policy_loss", "sac/alpha", "sac/entropy", "sac/q_mean")
        critic, actor = self._diag_count
        if critic == 0:
            values = [float("nan")] * len(names)
        else:
            counts = torch.tensor(
                [critic, max(actor, 1), max(actor, 1), max(actor, 1), critic], device=self._diag_sum.device
            )
            values = (self._diag_sum / counts).tolist()
            if actor == 0:
                values[1:4] = [float("nan")] * 3
        self._diag_sum.zero_()
        self._diag_count = [0, 0]
        return {**dict(zip(names, values, strict=True)), "sac/updates": float(self.updates)}

    DIAGNOSTIC_KEYS = ("sac/q_loss", "sac/policy_loss", "sac/alpha", "sac/entropy", "sac/q_mean", "sac/updates")

    # nn.Module's extra state: ``state_dict``/``load_state_dict`` carry the counters and optimizers too
    def get_extra_state(self) -> dict:
        return {
            "updates": self.updates,
            "diag_sum": self._diag_sum.cpu(),
            "diag_count": list(self._diag_count),
            "actor_opt": self.actor_opt.state_dict(),
            "critic_opt": self.critic_opt.state_dict(),
            "alpha_opt": self.alpha_opt.state_dict(),
        }

    def set_extra_state(self, state: dict) -> None:
        self.updates = state["updates"]
        self._diag_count = list(state["diag_count"])
        self._diag_sum.copy_(state["diag_sum"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        self.alpha_opt.load_state_dict(state["alpha_opt"])
        if self._graphed is not None:  # the loaded optimizer state is new tensors, with the checkpoint's flags
            for opt in (self.actor_opt, self.critic_opt, self.alpha_opt):
                for group in opt.param_groups:
                    group["capturable"] = True
            self._graphed.reset()
