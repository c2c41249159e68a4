"""MB-MPO's dynamics ensemble: deterministic MLPs trained by MSE on standardized ``[reward, next_obs - obs]``.

Official ``sandbox/ours/dynamics/dynamics_ensemble.py`` (jonasrothfuss/model_ensemble_meta_learning): 5
MLPs (512, 512) ReLU, Adam 1e-3, batch 500, each member with its own random 80/20 train/validation split,
each stopping when the rolling average (persistence 0.99) of its validation loss rises, at most 500 epochs,
never reinitialized. Built on the foundation's batched ``EnsembleMLP``: member ``e`` sees slice ``e`` of a
``[members, rows, in]`` input, so every member's rollouts step in one call.
"""

from __future__ import annotations

import torch
from torch import nn

from mbrlbench.components.ensemble import EnsembleMLP, FitResult, Normalizer
from mbrlbench.components.optim import adam


class DeterministicEnsemble(nn.Module):
    def __init__(
        self, obs_dim: int, act_dim: int, members: int = 5, hidden: int = 512, layers: int = 2, lr: float = 1e-3
    ) -> None:
        super().__init__()
        self.obs_dim, self.out_dim, self.members = obs_dim, obs_dim + 1, members
        self.net = EnsembleMLP(members, obs_dim + act_dim, self.out_dim, hidden, layers, nn.ReLU)
        self.input_norm = Normalizer(obs_dim + act_dim)
        self.target_norm = Normalizer(self.out_dim)
        # Range of the real [reward, next_obs] seen at the last fit: imagined values are clipped to it, as
        # rllab's clip_obs bounds model predictions (an unclipped model diverges over 200-step horizons).
        self.register_buffer("low", torch.full((obs_dim + 1,), -torch.inf))
        self.register_buffer("high", torch.full((obs_dim + 1,), torch.inf))
        self.optimizer = adam(self.parameters(), lr=lr)

    def predict(self, obs: torch.Tensor, act: torch.Tensor, clip: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """``obs [members, N, D]``, ``act [members, N, A]`` -> (next_obs, reward) of member e on slice e,
        clipped to the range of the real data when ``clip``."""
        y = self.net(self.input_norm(torch.cat([obs, act], dim=-1)))
        y = y * self.target_norm.std + self.target_norm.mean
        out = torch.cat([y[..., :1], obs + y[..., 1:]], dim=-1)
        if clip:
            out = torch.maximum(torch.minimum(out, self.high), self.low)
        return out[..., 1:], out[..., 0]

    def fit(
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        batch_size: int = 500,
        valid_split: float = 0.2,
        max_epochs: int = 500,
        persistence: float = 0.99,
    ) -> FitResult:
        """Train each member on its own 80% until its rolling validation loss rises (then it is frozen:
        its loss is masked out) or ``max_epochs``. Statistics are refit on all data each call."""
        n, E = inputs.shape[0], self.members
        obs_dim = self.out_dim - 1
        real = torch.cat([targets[:, :1], inputs[:, :obs_dim] + targets[:, 1:]], dim=-1)  # [reward, next_obs]
        self.low.copy_(real.min(dim=0).values)
        self.high.copy_(real.max(dim=0).values)
        self.input_norm.fit(inputs)
        self.target_norm.fit(targets)
        x, y = self.input_norm(inputs), self.target_norm(targets)
        n_valid = max(int(n * valid_split), 1)
        perms = torch.argsort(torch.rand(E, n, device=x.device), dim=1)  # a split per member
        valid_idx, train_idx = perms[:, :n_valid], perms[:, n_valid:]
        n_train = train_idx.shape[1]
        active = torch.ones(E, device=x.device)
        frozen = [p.detach().clone() for p in self.net.parameters()]
        rolling = prev = None
        epoch = 0
        loss_sum = torch.zeros((), device=x.device)
        steps = 0
        for epoch in range(1, max_epochs + 1):  # noqa: B007 - reported below
            order = torch.gather(train_idx, 1, torch.argsort(torch.rand(E, n_train, device=x.device), dim=1))
            loss_sum.zero_()
            steps = 0
            for start in range(0, n_train, batch_size):
                rows = order[:, start : start + batch_size]
                per_member = ((self.net(x[rows]) - y[rows]) ** 2).mean(dim=(1, 2))
                loss = (per_member * active).sum()
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                loss_sum += per_member.detach().mean()
                steps += 1
            with torch.no_grad():
                valid = ((self.net(x[valid_idx]) - y[valid_idx]) ** 2).mean(dim=(1, 2))
            rolling = valid if rolling is None else persistence * rolling + (1 - persistence) * valid
            if prev is not None:
                stopping = (active > 0) & (rolling > prev)  # a member stops once its average rises
                if bool(stopping.any()):
                    with torch.no_grad():  # keep its weights as they are now (Adam momentum would move them)
                        for saved, p in zip(frozen, self.net.parameters(), strict=True):
                            saved[stopping] = p[stopping]
                    active = active * (~stopping).float()
            prev = rolling
            if not bool(active.any()):
                break
        with torch.no_grad():
            stopped = active == 0
            for saved, p in zip(frozen, self.net.parameters(), strict=True):
                p[stopped] = saved[stopped]
            valid = ((self.net(x[valid_idx]) - y[valid_idx]) ** 2).mean(dim=(1, 2))
        return FitResult(train_loss=float(loss_sum) / max(steps, 1), val_loss=float(valid.mean()), epochs=epoch)
