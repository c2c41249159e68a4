"""MB-MPO's dynamics ensemble: deterministic MLPs trained by MSE on standardized ``[reward, next_obs - obs]``.

Official ``sandbox/ours/dynamics/dynamics_ensemble.py`` (jonasrothfuss/model_ensemble_meta_learning): 5
MLPs (512, 512) ReLU, Adam 1e-3, batch 500, each member with its own random 80/20 train/validation split,
each stopping when the rolling average (persistence 0.99) of its validation loss rises, at most 500 epochs,
never reinitialized. The rolling average starts at 1.5x the first validation loss (and its previous value
at 2.0x, ``dynamics_ensemble.py:234-243, 254-258``), so a member stops only once its validation loss
climbs above a slowly decaying average. Built on the foundation's batched ``EnsembleMLP``: member ``e``
sees slice ``e`` of a ``[members, rows, in]`` input, so every member's rollouts step in one call.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from mbrlbench.components.models.ensemble import EnsembleMLP, Normalizer
from mbrlbench.components.models.model_training import (
    FitResult,
    MemberEpochs,
    RollingFreeze,
    member_holdout,
    train_model,
)
from mbrlbench.components.optim import adam


class DeterministicEnsemble(nn.Module):
    """MB-MPO's ensemble; each member stops on its own validation rows (``RollingFreeze``)."""

    # what stops a member (official); model/val_loss is model_training.VAL_LOSS_UNITS, here the same number
    stop_metric: ClassVar[str] = "validation MSE per member on its own split, standardized targets"

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        members: int = 5,
        hidden: int = 512,
        layers: int = 2,
        lr: float = 1e-3,
        obs_clip: float = 1000.0,
        reward_clip: float = 1000.0,
    ) -> None:
        super().__init__()
        self.obs_dim, self.out_dim, self.members = obs_dim, obs_dim + 1, members
        self.net = EnsembleMLP(members, obs_dim + act_dim, self.out_dim, hidden, layers, nn.ReLU)
        self.input_norm = Normalizer(obs_dim + act_dim)
        self.target_norm = Normalizer(self.out_dim)
        # Official clip_obs: predicted next observations clipped to +-1000 against numerical blow-ups
        # (maml_model_vec_env_executor.py:40-41); its analytic rewards were clipped to +-1000 too
        # (hopper_env_random_param.py:41), so our predicted rewards are.
        self.obs_clip, self.reward_clip = obs_clip, reward_clip
        self.optimizer = adam(self.parameters(), lr=lr)
        self.stop_epochs = torch.zeros(members, dtype=torch.long)  # per member, of the last fit
        self.val_history = torch.zeros(0, members)  # [epochs, members] validation MSE of the last fit

    def predict(self, obs: torch.Tensor, act: torch.Tensor, clip: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """``obs [members, N, D]``, ``act [members, N, A]`` -> (next_obs, reward) of member e on slice e,
        clipped to +-``obs_clip`` / +-``reward_clip`` when ``clip``."""
        y = self.net(self.input_norm(torch.cat([obs, act], dim=-1)))
        y = y * self.target_norm.std + self.target_norm.mean
        next_obs, reward = obs + y[..., 1:], y[..., 0]
        if clip:
            next_obs = next_obs.clamp(-self.obs_clip, self.obs_clip)
            reward = reward.clamp(-self.reward_clip, self.reward_clip)
        return next_obs, reward

    @torch.no_grad()
    def mean_step(self, obs: torch.Tensor, act: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``obs [N, D]``, ``act [N, A]`` -> the mean over the members of their clipped predictions (model
        diagnostics; the rollouts clip each member's prediction the same way)."""
        E = self.members
        next_obs, reward = self.predict(obs.expand(E, -1, -1), act.expand(E, -1, -1))
        return next_obs.mean(dim=0), reward.mean(dim=0)

    @property
    def obs_std(self) -> torch.Tensor:
        """Std of each observation dimension in the data of the last fit (the input normalizer's)."""
        return self.input_norm.std[: self.obs_dim]

    def fit(
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        batch_size: int = 500,
        valid_split: float = 0.2,
        max_epochs: int = 500,
        persistence: float = 0.99,
    ) -> FitResult:
        """Train each member on its own 80% until ``RollingFreeze`` stops it (then it is frozen: its loss is
        masked out and its weights kept) or ``max_epochs``. Statistics are refit on all data each call."""
        self.input_norm.fit(inputs)
        self.target_norm.fit(targets)
        x, y = self.input_norm(inputs), self.target_norm(targets)
        split = member_holdout(inputs.shape[0], self.members, valid_split, x.device)

        def objective(rows: torch.Tensor | int, active: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
            per_member = ((self.net(x[rows]) - y[rows]) ** 2).mean(dim=(1, 2))
            assert active is not None
            return (per_member * active).sum(), per_member.detach().mean()

        stop = RollingFreeze(lambda: self._mse(x, y, split.hold), list(self.net.parameters()), persistence, max_epochs)
        trained = train_model(objective, self.optimizer, MemberEpochs(split.train, batch_size), stop, max_epochs)
        self.stop_epochs, self.val_history = stop.stop_epochs, torch.stack(stop.history).cpu()
        # standardized by the target normalizer, fitted on all of this fit's targets: model/val_loss's unit
        val_loss = float(self._mse(x, y, split.hold).mean())
        return FitResult(train_loss=trained.mean(), val_loss=val_loss, epochs=trained.epochs)

    @torch.no_grad()
    def _mse(self, x: torch.Tensor, y: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Per-member MSE on each member's own rows ``idx [members, rows]``."""
        return ((self.net(x[idx]) - y[idx]) ** 2).mean(dim=(1, 2))
