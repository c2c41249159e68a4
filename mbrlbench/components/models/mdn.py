"""TOM's dynamics model: one mixture density network over standardized ``[reward, next_obs - obs]``.

Follows kausiksivakumar/TOM ``mdn.py`` (4x200 swish, 10 Gaussian components per output dimension, the
"variance" head passed through softplus plus a learned softplus noise floor), trained on minibatches drawn
with probability proportional to per-row weights (TOM's importance weights; uniform for its MBPO baseline).
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import torch
from torch import nn
from torch.nn import functional as F

from mbrlbench.components.mlp import mlp
from mbrlbench.components.models.ensemble import Normalizer
from mbrlbench.components.models.model_training import (
    FitResult,
    RelativeImprovement,
    WeightedDraws,
    shared_holdout,
    standardized_mse,
    target_std,
    train_model,
)
from mbrlbench.components.optim import adam

WeightMode = Literal["sample", "loss"]


class MixtureDensityModel(nn.Module):
    """``p(y | s, a) = prod_d sum_k pi_dk N(y_d; mu_dk, var_dk)`` with ``y = [r, s' - s]`` standardized."""

    # what stops a fit (official); model/val_loss is model_training.VAL_LOSS_UNITS for every model
    stop_metric: ClassVar[str] = "holdout NLL per row of the standardized targets, weighted by TOM's weights"

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        components: int = 10,
        hidden: int = 200,
        layers: int = 4,
        lr: float = 1e-3,
        batches_per_epoch: int = 100,
    ) -> None:
        super().__init__()
        self.batches_per_epoch = batches_per_epoch  # official MDN.train: a fixed number of minibatches per epoch
        self.obs_dim, self.out_dim, self.components = obs_dim, obs_dim + 1, components
        self.body = mlp(obs_dim + act_dim, hidden, layers, None, nn.SiLU)
        self.head = nn.Linear(hidden, 3 * components * self.out_dim)
        self.noise = nn.Parameter(torch.zeros(1))  # learned variance floor, softplus(0) = 0.69 at init
        self.input_norm = Normalizer(obs_dim + act_dim)
        self.target_norm = Normalizer(self.out_dim)
        self.optimizer = adam(self.parameters(), lr=lr)

    def forward(self, x_norm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Standardized inputs -> (means, variances, mixture log-weights), each ``[N, out, K]``."""
        out = self.head(self.body(x_norm)).view(-1, 3, self.out_dim, self.components)
        mean, raw_var, logits = out.unbind(dim=1)
        var = F.softplus(raw_var) + F.softplus(self.noise)
        return mean, var, torch.log_softmax(logits, dim=-1)

    @staticmethod
    def nll(mean: torch.Tensor, var: torch.Tensor, log_pi: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-row negative log-likelihood, averaged over output dims (official ``-log_prob(y).mean``)."""
        y = y.unsqueeze(-1)
        log_normal = -0.5 * ((y - mean) ** 2 / var + torch.log(var) + math.log(2 * math.pi))
        return -torch.logsumexp(log_pi + log_normal, dim=-1).mean(dim=-1)

    @staticmethod
    def mixture_mean(mean: torch.Tensor, log_pi: torch.Tensor) -> torch.Tensor:
        return (torch.exp(log_pi) * mean).sum(dim=-1)

    @torch.no_grad()
    def sample(self, obs: torch.Tensor, act: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One draw per row: a component per output dim, then its Gaussian -> (next_obs, reward)."""
        mean, var, log_pi = self(self.input_norm(torch.cat([obs, act], dim=-1)))
        k = torch.multinomial(torch.exp(log_pi).reshape(-1, self.components), 1).view(*mean.shape[:2], 1)
        mu, v = mean.gather(-1, k).squeeze(-1), var.gather(-1, k).squeeze(-1)
        y = mu + torch.randn_like(mu) * v.sqrt()
        y = y * self.target_norm.std + self.target_norm.mean
        return obs + y[:, 1:], y[:, 0]

    @torch.no_grad()
    def mean_step(self, obs: torch.Tensor, act: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The mixture's mean (model diagnostics), no sample -> (next_obs, reward)."""
        mean, _, log_pi = self(self.input_norm(torch.cat([obs, act], dim=-1)))
        y = self.mixture_mean(mean, log_pi) * self.target_norm.std + self.target_norm.mean
        return obs + y[:, 1:], y[:, 0]

    @property
    def obs_std(self) -> torch.Tensor:
        """Std of each observation dimension in the data of the last fit (the input normalizer's)."""
        return self.input_norm.std[: self.obs_dim]

    def fit(
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        weights: torch.Tensor | None = None,
        weight_mode: WeightMode = "sample",
        batch_size: int = 256,
        holdout_ratio: float = 0.1,
        max_holdout: int = 5000,
        patience: int = 5,
        improvement: float = 0.01,
        max_epochs: int | None = 30,
    ) -> FitResult:
        """Official ``MDN.train``: epochs of ``batches_per_epoch`` minibatches drawn with probability
        proportional to ``weights`` (``weight_mode="sample"``) or uniformly with the NLL multiplied by the
        weights (``"loss"``); stop when the weighted holdout NLL has not improved by ``improvement``
        (relative) for ``patience`` epochs or after ``max_epochs`` (``RelativeImprovement``). The model keeps
        its last weights (official: no snapshot restore) and is not reinitialized between fits.
        """
        n = inputs.shape[0]
        w = torch.ones(n, device=inputs.device) if weights is None else weights.reshape(-1).float()
        split = shared_holdout(n, holdout_ratio, max_holdout, inputs.device)
        train, hold = split.train, split.hold
        self.input_norm.fit(inputs[train])
        self.target_norm.fit(targets[train])
        x, y, w_train = self.input_norm(inputs[train]), self.target_norm(targets[train]), w[train]
        x_hold, y_hold, w_hold = self.input_norm(inputs[hold]), self.target_norm(targets[hold]), w[hold]
        loss_scale = 1.0 / w_train.mean()  # "loss" mode: weights normalized to mean 1 keep the lr meaningful

        def objective(rows: torch.Tensor | int, _: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
            per_row = self.nll(*self.forward(x[rows]), y[rows])
            loss = (per_row * w_train[rows] * loss_scale).mean() if weight_mode == "loss" else per_row.mean()
            return loss, loss

        @torch.no_grad()
        def holdout_nll() -> float:
            return float((self.nll(*self.forward(x_hold), y_hold) * w_hold).mean())

        plan = WeightedDraws(
            x.shape[0], self.batches_per_epoch, batch_size, w_train if weight_mode == "sample" else None, x.device
        )
        stop = RelativeImprovement(None if split.empty else holdout_nll, patience, improvement)
        trained = train_model(objective, self.optimizer, plan, stop, max_epochs)
        with torch.no_grad():
            x_val, y_val = (x, y) if split.empty else (x_hold, y_hold)
            mean, _, log_pi = self(x_val)
            # standardized by all of this fit's targets (target_norm holds the training rows' statistics)
            err = (self.mixture_mean(mean, log_pi) - y_val) * self.target_norm.std
            val = float(standardized_mse(err, torch.zeros_like(err), target_std(targets)))
        return FitResult(train_loss=trained.mean(), val_loss=val, epochs=trained.epochs)
