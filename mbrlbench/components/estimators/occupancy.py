"""TOM's transition-occupancy ratio by dual RL (SMODICE style; kausiksivakumar/TOM ``smodice_pytorch.py``).

With a "reward" ``r(s, a, s') = log d_cur / d_buffer`` from a discriminator, a value network Q minimizes the
dual of an f-divergence between the current policy's transition occupancy and the buffer's:

    L(Q) = (1 - gamma) E_{s0}[Q(s0, pi(s0))] + E_buffer[f*(e)],   e = r + gamma (1 - d) Q(s', pi(s')) - Q(s, a)

and the optimal ratio is ``w = f*'(e)``: ``ReLU(e + 1)`` for chi-square (``f*(x) = x^2/2 + x``), ``exp(e)``
for KL (whose dual term is ``log E[exp(e)]``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import nn

from mbrlbench.components.mlp import mlp
from mbrlbench.components.optim import adam

Divergence = Literal["chi", "kl"]


def dual_loss(
    initial_values: torch.Tensor, residual: torch.Tensor, gamma: float, divergence: Divergence
) -> torch.Tensor:
    """The dual objective above from Q at initial states and the residuals ``e`` of a batch."""
    first = (1 - gamma) * initial_values.mean()
    if divergence == "chi":
        return first + (0.5 * residual**2 + residual).mean()
    return first + torch.logsumexp(residual, dim=0) - torch.log(torch.tensor(float(residual.numel())))


def importance_weights(residual: torch.Tensor, divergence: Divergence) -> torch.Tensor:
    """``f*'(e)``: the estimated ratio d_cur(s, a, s') / d_buffer(s, a, s') of each transition."""
    return torch.relu(residual + 1) if divergence == "chi" else torch.exp(residual)


def effective_sample_size(weights: torch.Tensor) -> torch.Tensor:
    """Kish's ESS as a fraction of the rows: ``(sum w)^2 / (n sum w^2)``; 1 for uniform weights."""
    return weights.sum() ** 2 / (weights.numel() * (weights**2).sum()).clamp_min(1e-12)


class DualValue(nn.Module):
    """TOM's Q(s, a): MLP with ReLU, Adam with L2 (``weight_decay``), no target network (as official)."""

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        hidden: int = 256,
        layers: int = 2,
        lr: float = 3e-4,
        weight_decay: float = 1e-4,
        gamma: float = 0.99,
        divergence: Divergence = "chi",
    ) -> None:
        super().__init__()
        self.net = mlp(obs_dim + act_dim, hidden, layers, 1, nn.ReLU)
        self.gamma, self.divergence = gamma, divergence
        self.optimizer = adam(self.net.parameters(), lr=lr, weight_decay=weight_decay)

    def q(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([obs, act], dim=-1)).squeeze(-1)

    def residual(
        self,
        obs: torch.Tensor,
        act: torch.Tensor,
        reward: torch.Tensor,
        next_obs: torch.Tensor,
        terminated: torch.Tensor,
        policy: Callable[[torch.Tensor], torch.Tensor],
    ) -> torch.Tensor:
        """``e = r + gamma (1 - d) Q(s', a' ~ pi(s')) - Q(s, a)`` (gradients flow through both Q terms)."""
        next_v = self.q(next_obs, policy(next_obs))
        return reward + self.gamma * (1 - terminated) * next_v - self.q(obs, act)

    def update(
        self,
        initial_obs: torch.Tensor,
        obs: torch.Tensor,
        act: torch.Tensor,
        reward: torch.Tensor,
        next_obs: torch.Tensor,
        terminated: torch.Tensor,
        policy: Callable[[torch.Tensor], torch.Tensor],
    ) -> torch.Tensor:
        """One Adam step on the dual loss; returns the loss, detached (no host sync)."""
        initial_values = self.q(initial_obs, policy(initial_obs))
        e = self.residual(obs, act, reward, next_obs, terminated, policy)
        loss = dual_loss(initial_values, e, self.gamma, self.divergence)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    @torch.no_grad()
    def weights(
        self,
        obs: torch.Tensor,
        act: torch.Tensor,
        reward: torch.Tensor,
        next_obs: torch.Tensor,
        terminated: torch.Tensor,
        policy: Callable[[torch.Tensor], torch.Tensor],
        chunk: int = 65_536,
    ) -> torch.Tensor:
        """Unclipped importance weights of every row, computed in chunks."""
        out = [
            importance_weights(
                self.residual(
                    obs[i : i + chunk],
                    act[i : i + chunk],
                    reward[i : i + chunk],
                    next_obs[i : i + chunk],
                    terminated[i : i + chunk],
                    policy,
                ),
                self.divergence,
            )
            for i in range(0, obs.shape[0], chunk)
        ]
        return torch.cat(out)
