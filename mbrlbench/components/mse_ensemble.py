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

import torch
from torch import nn

from mbrlbench.components.ensemble import EnsembleMLP, FitResult, Normalizer
from mbrlbench.components.optim import adam


class DeterministicEnsemble(nn.Module):
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
        """Train each member on its own 80% until ``RollingStop`` stops it (then it is frozen: its loss is
        masked out and its weights kept) or ``max_epochs``. Statistics are refit on all data each call."""
        n, E = inputs.shape[0], self.members
        self.input_norm.fit(inputs)
        self.target_norm.fit(targets)
        x, y = self.input_norm(inputs), self.target_norm(targets)
        n_valid = max(int(n * valid_split), 1)
        perms = torch.argsort(torch.rand(E, n, device=x.device), dim=1)  # a split per member
        valid_idx, train_idx = perms[:, :n_valid], perms[:, n_valid:]
        active = torch.ones(E, dtype=torch.bool, device=x.device)
        frozen = [p.detach().clone() for p in self.net.parameters()]
        rule, history = RollingStop(persistence), []
        stop_epochs = torch.full((E,), max_epochs, dtype=torch.long)
        train_loss, epoch = torch.zeros(()), 0
        for epoch in range(1, max_epochs + 1):
            train_loss = self._epoch(x, y, train_idx, batch_size, active.float())
            valid = self._mse(x, y, valid_idx)
            history.append(valid)
            stopping = active & rule(valid)
            if bool(stopping.any()):
                with torch.no_grad():  # keep its weights as they are now (Adam momentum would move them)
                    for saved, p in zip(frozen, self.net.parameters(), strict=True):
                        saved[stopping] = p[stopping]
                stop_epochs[stopping.cpu()] = epoch
                active = active & ~stopping
            if not bool(active.any()):
                break
        with torch.no_grad():
            for saved, p in zip(frozen, self.net.parameters(), strict=True):
                p[~active] = saved[~active]
        self.stop_epochs, self.val_history = stop_epochs, torch.stack(history).cpu()
        val_loss = float(self._mse(x, y, valid_idx).mean())
        return FitResult(train_loss=float(train_loss), val_loss=val_loss, epochs=epoch)

    def _epoch(
        self, x: torch.Tensor, y: torch.Tensor, train_idx: torch.Tensor, batch_size: int, active: torch.Tensor
    ) -> torch.Tensor:
        """One pass of every active member over its own reshuffled training rows; mean train MSE."""
        E, n_train = train_idx.shape
        order = torch.gather(train_idx, 1, torch.argsort(torch.rand(E, n_train, device=x.device), dim=1))
        loss_sum, steps = torch.zeros((), device=x.device), 0
        for start in range(0, n_train, batch_size):
            rows = order[:, start : start + batch_size]
            per_member = ((self.net(x[rows]) - y[rows]) ** 2).mean(dim=(1, 2))
            self.optimizer.zero_grad(set_to_none=True)
            (per_member * active).sum().backward()
            self.optimizer.step()
            loss_sum += per_member.detach().mean()
            steps += 1
        return loss_sum / max(steps, 1)

    @torch.no_grad()
    def _mse(self, x: torch.Tensor, y: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Per-member MSE on each member's own rows ``idx [members, rows]``."""
        return ((self.net(x[idx]) - y[idx]) ** 2).mean(dim=(1, 2))


class RollingStop:
    """The official per-member early stop (``dynamics_ensemble.py:234-243, 254-258``): a rolling average
    ``r <- p r + (1 - p) v`` of the validation loss ``v``, started at ``1.5 v_1`` with its previous value at
    ``2.0 v_1`` "to avoid too early stopping"; a member stops at the first epoch where ``r`` rises. So it
    stops once ``v`` climbs above the slowly decaying average, not at the first uptick of ``v``. (The
    official branch for negative losses cannot occur with an MSE.)"""

    def __init__(self, persistence: float) -> None:
        self.persistence = persistence
        self.rolling: torch.Tensor | None = None
        self.prev: torch.Tensor | None = None

    def __call__(self, valid: torch.Tensor) -> torch.Tensor:
        """This epoch's validation losses ``[members]`` -> which members stop now."""
        if self.rolling is None or self.prev is None:
            self.rolling, self.prev = 1.5 * valid, 2.0 * valid
        self.rolling = self.persistence * self.rolling + (1 - self.persistence) * valid
        stop = self.prev < self.rolling
        self.prev = self.rolling
        return stop
