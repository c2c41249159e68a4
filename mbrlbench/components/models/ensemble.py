"""Vectorized ensembles: one module whose weights are ``[members, in, out]`` tensors.

``EnsembleMLP`` serves both the dynamics ensemble and SAC's twin critics. ``ProbabilisticEnsemble`` is
MBPO's bootstrap ensemble of Gaussian MLPs (official ``mbpo/models/bnn.py``): it predicts a diagonal
Gaussian over ``[reward, next_obs - obs]`` from standardized ``[obs, action]``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import ClassVar, Literal

import torch
from torch import nn

from mbrlbench.components.data.buffers import Batch, ReplayBuffer
from mbrlbench.components.models.model_training import (
    FitResult,
    KeepBestMembers,
    MemberEpochs,
    bootstrap_rows,
    shared_holdout,
    standardized_mse,
    target_std,
    train_model,
)
from mbrlbench.components.optim import adam

# Kernel choice, by measurement (benchmarks/ensemble_kernels.py, 2-core CPU): one ``baddbmm`` beat a
# per-member ``addmm`` loop for 7 x 100k rows (2.9 s vs 3.9 s) and tied for training batches (15 ms), so
# the batched kernel is used everywhere. Rollouts avoid the question: ``forward_grouped`` sends each row
# through its own elite only (175 ms for 100k rows), 7x less work than evaluating every member.


Init = Literal["truncated_normal", "glorot_uniform"]


def init_weight_(weight: torch.Tensor, in_dim: int, out_dim: int, init: Init) -> None:
    """Fill one layer's weight in place (biases stay zero in both schemes).

    ``truncated_normal``: MBPO's model init, std ``1 / (2 sqrt(in))`` with draws beyond 2 std redrawn
    (``mbpo/models/fc.py:132-136``, TF ``truncated_normal``; effective std 0.88 of it). PyTorch's
    ``trunc_normal_`` takes *absolute* bounds, so they are passed as +-2 std.
    ``glorot_uniform``: Keras' ``Dense`` default, used by softlearning's Q-nets and policy
    (``softlearning/models/feedforward.py:34-41``) and by TOM's SAC (``sac/model.py:11-14``, xavier gain 1).
    """
    if init == "truncated_normal":
        std = 1.0 / (2.0 * math.sqrt(in_dim))
        nn.init.trunc_normal_(weight, std=std, a=-2.0 * std, b=2.0 * std)
    else:
        limit = math.sqrt(6.0 / (in_dim + out_dim))
        nn.init.uniform_(weight, -limit, limit)


class EnsembleLinear(nn.Module):
    """``members`` independent affine maps, applied to ``x`` of shape ``[members, rows, in]``."""

    def __init__(self, members: int, in_dim: int, out_dim: int, init: Init = "truncated_normal") -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(members, in_dim, out_dim))
        self.bias = nn.Parameter(torch.zeros(members, 1, out_dim))
        init_weight_(self.weight, in_dim, out_dim, init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class EnsembleMLP(nn.Module):
    """An ensemble of MLPs evaluated in one pass; a 2-D input is shared by every member."""

    def __init__(
        self,
        members: int,
        in_dim: int,
        out_dim: int,
        hidden: int,
        layers: int,
        activation: type[nn.Module],
        init: Init = "truncated_normal",
    ) -> None:
        super().__init__()
        dims = [in_dim] + [hidden] * layers + [out_dim]
        self.members = members
        self.layers = nn.ModuleList(EnsembleLinear(members, a, b, init) for a, b in itertools.pairwise(dims))
        self.activation = activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.members, -1, -1)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = self.activation(x)
        return x

    def linears(self) -> list[EnsembleLinear]:
        return [layer for layer in self.layers if isinstance(layer, EnsembleLinear)]

    def forward_members(self, x: torch.Tensor, members: torch.Tensor) -> torch.Tensor:
        """A 2-D input ``x [N, in]`` through the listed members only -> ``[len(members), N, out]``."""
        h = x.unsqueeze(0).expand(members.shape[0], -1, -1)
        for i, layer in enumerate(self.linears()):
            h = torch.baddbmm(layer.bias[members], h, layer.weight[members])
            if i < len(self.layers) - 1:
                h = self.activation(h)
        return h

    def forward_grouped(self, x: torch.Tensor, member: torch.Tensor) -> torch.Tensor:
        """Row ``i`` of ``x [N, in]`` through member ``member[i]`` only: no work on other members."""
        order = torch.argsort(member)
        counts = torch.bincount(member, minlength=self.members).tolist()  # one host sync per call
        chunks = torch.split(x[order], counts)
        outs = []
        for e, chunk in enumerate(chunks):
            if chunk.shape[0] == 0:
                continue
            h = chunk
            for i, layer in enumerate(self.linears()):
                h = torch.addmm(layer.bias[e], h, layer.weight[e])
                if i < len(self.layers) - 1:
                    h = self.activation(h)
            outs.append(h)
        out = torch.empty(x.shape[0], outs[0].shape[1], dtype=x.dtype, device=x.device)
        out[order] = torch.cat(outs)
        return out


class Normalizer(nn.Module):
    """Standardizes inputs with statistics of the latest training set; a std below ``eps`` counts as 1
    (MBPO: 1e-12; MnM's classifier: 1e-6)."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, dim: int, eps: float = 1e-12) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> None:
        self.mean.copy_(x.mean(dim=0))
        std = x.std(dim=0, unbiased=False)
        self.std.copy_(torch.where(std < self.eps, torch.ones_like(std), std))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def model_io(data: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's training pairs: inputs ``[s, a]``, targets ``[r, s' - s]`` (any leading shape)."""
    return torch.cat([data.obs, data.act], dim=-1), torch.cat([data.rew[..., None], data.next_obs - data.obs], dim=-1)


class ProbabilisticEnsemble(nn.Module):
    """Bootstrap ensemble of Gaussian MLPs with learned soft log-variance bounds and elites."""

    elite_idx: torch.Tensor
    # what stops a fit and picks elites (official); model/val_loss is model_training.VAL_LOSS_UNITS for all
    stop_metric: ClassVar[str] = "holdout MSE per member, raw units (weighted by TOM's weights when given)"

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        members: int = 7,
        elites: int = 5,
        hidden: int = 200,
        layers: int = 4,
        weight_decays: Sequence[float] = (2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4),
        lr: float = 1e-3,
    ) -> None:
        super().__init__()
        if len(weight_decays) != layers + 1:
            raise ValueError(f"need {layers + 1} weight decays (one per layer), got {len(weight_decays)}")
        self.obs_dim, self.act_dim, self.out_dim = obs_dim, act_dim, obs_dim + 1
        self.num_members, self.num_elites = members, elites
        self.net = EnsembleMLP(members, obs_dim + act_dim, 2 * self.out_dim, hidden, layers, nn.SiLU)
        self.max_logvar = nn.Parameter(torch.full((1, self.out_dim), 0.5))
        self.min_logvar = nn.Parameter(torch.full((1, self.out_dim), -10.0))
        self.normalizer = Normalizer(obs_dim + act_dim)
        self.register_buffer("elite_idx", torch.arange(elites))
        self.weight_decays = tuple(weight_decays)
        self.optimizer = adam(self.parameters(), lr=lr)

    # ----------------------------------------------------------------- prediction
    def _bound_logvar(self, logvar: torch.Tensor) -> torch.Tensor:
        logvar = self.max_logvar - nn.functional.softplus(self.max_logvar - logvar)
        return self.min_logvar + nn.functional.softplus(logvar - self.min_logvar)

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw ``[obs, act]`` -> mean and bounded log-variance, each ``[members, N, out]``."""
        out = self.net(self.normalizer(inputs))
        mean, logvar = out.split(self.out_dim, dim=-1)
        return mean, self._bound_logvar(logvar)

    @torch.no_grad()
    def sample(self, obs: torch.Tensor, act: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """MBPO's model step: a random elite per row, a sample from its Gaussian -> (next_obs, reward)."""
        return self.rsample(obs, act)

    def rsample(self, obs: torch.Tensor, act: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``sample``, reparameterized (``mean + eps * std`` of a random elite per row): differentiable in the
        model's parameters and inputs (MnM's model value step, MG's rollouts). Returns (next_obs, reward)."""
        x = self.normalizer(torch.cat([obs, act], dim=-1))
        pick = torch.randint(self.num_elites, (obs.shape[0],), device=obs.device)
        out = self.net.forward_grouped(x, self.elite_idx[pick])
        mean, logvar = out.split(self.out_dim, dim=-1)
        draw = mean + torch.randn_like(mean) * torch.exp(0.5 * self._bound_logvar(logvar))
        return obs + draw[:, 1:], draw[:, 0]

    @torch.no_grad()
    def mean_step(self, obs: torch.Tensor, act: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The ensemble's deterministic prediction (model diagnostics): the mean over the elites of each elite's
        Gaussian mean, no sample -> (next_obs, reward)."""
        x = self.normalizer(torch.cat([obs, act], dim=-1))
        mean = self.net.forward_members(x, self.elite_idx)[..., : self.out_dim].mean(dim=0)
        return obs + mean[:, 1:], mean[:, 0]

    @property
    def obs_std(self) -> torch.Tensor:
        """Std of each observation dimension in the data of the last fit (the input normalizer's)."""
        return self.normalizer.std[: self.obs_dim]

    # ------------------------------------------------------------------- training
    def nll_loss(
        self, inputs: torch.Tensor, targets: torch.Tensor, row_weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Official training loss: per member mean over batch and outputs of ``(mu-y)^2/var + logvar``,
        summed over members, plus the log-variance bound penalty and per-layer L2 (``decay * |W|^2 / 2``).

        ``inputs``/``targets`` are ``[members, B, .]`` (each member its own bootstrap batch);
        ``row_weights [members, B]`` multiply each row's term (TOM's weighted-loss option).
        """
        mean, logvar = self(inputs)
        per_row = (((mean - targets) ** 2) * torch.exp(-logvar) + logvar).mean(dim=2)
        if row_weights is not None:
            per_row = per_row * row_weights
        per_member = per_row.mean(dim=1)
        loss = per_member.sum() + 0.01 * (self.max_logvar.sum() - self.min_logvar.sum())
        for decay, layer in zip(self.weight_decays, self.net.linears(), strict=True):
            loss = loss + decay * 0.5 * (layer.weight**2).sum()
        return loss

    @torch.no_grad()
    def mse_per_member(
        self, inputs: torch.Tensor, targets: torch.Tensor, row_weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Holdout criterion for early stopping and elites: mean squared error of each member's mean
        (weighted by ``row_weights`` when the fit is weighted, as TOM's holdout loss)."""
        mean, _ = self(inputs)
        per_row = ((mean - targets) ** 2).mean(dim=2)
        if row_weights is None:
            return per_row.mean(dim=1)
        return (per_row * row_weights).sum(dim=1) / row_weights.sum().clamp_min(1e-12)

    def bootstrap_nll(self, buffer: ReplayBuffer, batch_size: int) -> torch.Tensor:
        """``nll_loss`` on ``batch_size`` rows of ``buffer`` per member, each member its own uniform draw."""
        E = self.num_members
        x, y = model_io(buffer.sample(E * batch_size))
        return self.nll_loss(x.view(E, batch_size, -1), y.view(E, batch_size, -1))

    @torch.no_grad()
    def refresh_elites(
        self, inputs: torch.Tensor, targets: torch.Tensor, row_weights: torch.Tensor | None = None
    ) -> float:
        """Elites = the ``num_elites`` members of lowest holdout MSE on these rows; returns their mean MSE."""
        mse = self.mse_per_member(inputs, targets, row_weights)
        self.elite_idx.copy_(torch.argsort(mse)[: self.num_elites])
        return float(mse[self.elite_idx].mean())

    def fit(
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        batch_size: int = 256,
        holdout_ratio: float = 0.2,
        max_holdout: int = 5000,
        patience: int = 5,
        improvement: float = 0.01,
        max_epochs: int | None = None,
        weights: torch.Tensor | None = None,
        weight_mode: str = "sample",
    ) -> FitResult:
        """Official ``bnn.train``: a holdout, each member a bootstrap sample of the rest drawn once per fit,
        epochs until no member improves its holdout MSE by ``improvement`` for ``patience`` epochs, each
        member's best snapshot kept (``KeepBestMembers``), then elites by holdout MSE.

        ``weights`` (one per row, TOM) draw each member's bootstrap set with probability proportional to
        them (``weight_mode="sample"``) or multiply each row's loss (``"loss"``, normalized to mean 1); the
        holdout MSE that stops the fit and picks elites is then weighted too (TOM's holdout loss).
        """
        split = shared_holdout(inputs.shape[0], holdout_ratio, max_holdout, inputs.device)
        train, hold = split.train, (split.train if split.empty else split.hold)
        x_train, y_train, x_hold, y_hold = inputs[train], targets[train], inputs[hold], targets[hold]
        w = None if weights is None else weights.reshape(-1)
        w_hold = None if w is None else w[hold]
        self.normalizer.fit(x_train)
        w_train = None if w is None else w[train].float()
        if weight_mode == "sample":  # weights draw the bootstrap rows
            rows = bootstrap_rows(x_train.shape[0], self.num_members, inputs.device, w_train)
            w_train = None
        else:  # weights (if any) multiply each row's loss
            rows = bootstrap_rows(x_train.shape[0], self.num_members, inputs.device)
            w_train = None if w_train is None else w_train / w_train.mean()

        def objective(idx: torch.Tensor | int, _: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
            loss = self.nll_loss(x_train[idx], y_train[idx], None if w_train is None else w_train[idx])
            return loss, loss

        stop = KeepBestMembers(
            lambda: self.mse_per_member(x_hold, y_hold, w_hold), list(self.net.parameters()), patience, improvement
        )
        trained = train_model(objective, self.optimizer, MemberEpochs(rows, batch_size), stop, max_epochs)
        self.refresh_elites(x_hold, y_hold, w_hold)
        return FitResult(
            train_loss=trained.mean() / self.num_members,
            val_loss=self.validation_mse(x_hold, y_hold, target_std(targets)),
            epochs=trained.epochs,
        )

    @torch.no_grad()
    def validation_mse(self, inputs: torch.Tensor, targets: torch.Tensor, std: torch.Tensor) -> float:
        """``model/val_loss``: the elites' mean ``standardized_mse`` of their Gaussian means on these rows."""
        mean = self.net.forward_members(self.normalizer(inputs), self.elite_idx)[..., : self.out_dim]
        return float(standardized_mse(mean, targets, std).mean())
