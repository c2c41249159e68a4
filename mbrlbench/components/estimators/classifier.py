"""Binary classifiers on transitions (s, a, s'): TOM's discriminator and MnM's real-vs-model classifier.

Trained by binary cross-entropy on balanced batches, the logit of the optimal classifier estimates the log
density ratio log p_pos(s, a, s') - log p_neg(s, a, s'). With soft labels (TOM labels its negatives 0.1) the
optimum moves to ``optimal_logit``: tests and docs use that formula to say what the logit then estimates.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from mbrlbench.components.mlp import mlp
from mbrlbench.components.models.ensemble import Normalizer


class TransitionClassifier(nn.Module):
    """Logit of "positive" for (s, a, s').

    ``split_trunks=True`` is TOM's ``Discriminator_SAS``: s, a and s' each pass their own Tanh layer of
    ``hidden // 2`` units, then ``hidden`` Tanh -> 1. ``False`` is a plain MLP on the concatenation.
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        hidden: int = 256,
        layers: int = 2,
        split_trunks: bool = True,
        activation: type[nn.Module] = nn.Tanh,
    ) -> None:
        super().__init__()
        self.obs_dim, self.act_dim, self.split_trunks = obs_dim, act_dim, split_trunks
        if split_trunks:
            half = hidden // 2
            self.trunks = nn.ModuleList(
                nn.Sequential(nn.Linear(d, half), activation()) for d in (obs_dim, act_dim, obs_dim)
            )
            head_in, head_layers = 3 * half, layers - 1
        else:
            self.trunks = nn.ModuleList()
            head_in, head_layers = 2 * obs_dim + act_dim, layers
        self.head = mlp(head_in, hidden, head_layers, 1, activation)

    def forward_flat(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[N]`` of concatenated ``[s, a, s']`` rows (the gradient penalty differentiates this)."""
        if self.split_trunks:
            parts = x.split((self.obs_dim, self.act_dim, self.obs_dim), dim=-1)
            x = torch.cat([trunk(p) for trunk, p in zip(self.trunks, parts, strict=True)], dim=-1)
        return self.head(x).squeeze(-1)


ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "silu": nn.SiLU}


class StandardizedClassifier(nn.Module):
    """MnM's classifier: a plain-MLP ``TransitionClassifier`` on (s, a, s' - s) or (s, a, s'), standardized by
    the statistics of the latest real data (a std below 1e-6 counts as 1)."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: int, layers: int, activation: str, use_delta: bool) -> None:
        super().__init__()
        self.use_delta = use_delta
        self.net = TransitionClassifier(
            obs_dim, act_dim, hidden, layers, split_trunks=False, activation=ACTIVATIONS[activation]
        )
        self.normalizer = Normalizer(2 * obs_dim + act_dim, eps=1e-6)

    def _raw(self, obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        return torch.cat([obs, act, next_obs - obs if self.use_delta else next_obs], dim=-1)

    def fit_stats(self, obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> None:
        self.normalizer.fit(self._raw(obs, act, next_obs))

    def features(self, obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        return self.normalizer(self._raw(obs, act, next_obs))

    def forward(self, obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        """Logit of "real": the estimate of log p(s'|s,a) - log q(s'|s,a)."""
        return self.net.forward_flat(self.features(obs, act, next_obs))


def gradient_penalty(classifier: TransitionClassifier, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """WGAN-GP term ``E[(|grad_x D(x)| - 1)^2]`` on random interpolates of paired rows (as GAIL/SMODICE)."""
    mix = torch.rand(pos.shape[0], 1, device=pos.device)
    x = (mix * pos + (1 - mix) * neg).requires_grad_(True)
    (grad,) = torch.autograd.grad(classifier.forward_flat(x).sum(), x, create_graph=True)
    return ((grad.norm(dim=-1) - 1) ** 2).mean()


def classifier_loss(
    classifier: TransitionClassifier,
    pos: torch.Tensor,
    neg: torch.Tensor,
    pos_label: float = 1.0,
    neg_label: float = 0.0,
    penalty: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BCE of positives against ``pos_label`` plus negatives against ``neg_label`` (each class averaged
    separately, so the classes weigh equally), plus ``penalty`` x the gradient penalty.

    ``pos``/``neg`` are concatenated ``[s, a, s']`` rows. Returns (loss, accuracy at logit 0, detached).
    """
    logit_pos, logit_neg = classifier.forward_flat(pos), classifier.forward_flat(neg)
    loss = F.binary_cross_entropy_with_logits(
        logit_pos, torch.full_like(logit_pos, pos_label)
    ) + F.binary_cross_entropy_with_logits(logit_neg, torch.full_like(logit_neg, neg_label))
    if penalty > 0:
        n = min(pos.shape[0], neg.shape[0])
        loss = loss + penalty * gradient_penalty(classifier, pos[:n], neg[:n])
    accuracy = 0.5 * ((logit_pos > 0).float().mean() + (logit_neg <= 0).float().mean())
    return loss, accuracy.detach()


def optimal_logit(log_ratio: torch.Tensor, pos_label: float = 1.0, neg_label: float = 0.0) -> torch.Tensor:
    """Logit of the BCE-optimal classifier on balanced classes with soft labels, as a function of the true
    ``log_ratio = log p_pos - log p_neg``: ``log(a p + b q) - log((1-a) p + (1-b) q)`` for labels a, b.

    With hard labels (1, 0) this is ``log_ratio`` itself; TOM's (1, 0.1) bounds it below by log(0.1/0.9).
    """
    a, b = pos_label, neg_label
    r = torch.exp(log_ratio)
    return torch.log(a * r + b) - torch.log((1 - a) * r + (1 - b))
