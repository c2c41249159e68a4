"""Model plumbing shared by the algorithms on MBPO's probabilistic ensemble (MBPO, TOM, MnM, MG): the config
fields of the ensemble, building it from them, the training pairs, MBPO's model-buffer size, and MG's
strided split of real data into a training pool and a holdout."""

from __future__ import annotations

from typing import Any, Protocol

import torch
from pydantic import Field, model_validator
from torch import Tensor

from mbrlbench.components.config import AlgorithmConfig
from mbrlbench.components.data.buffers import ReplayBuffer
from mbrlbench.components.models.ensemble import ProbabilisticEnsemble, model_io

__all__ = [
    "EnsembleConfigFields",
    "StridedModelData",
    "ensemble_from_config",
    "model_buffer_size",
    "model_io",
    "official_weight_decays",
]


def official_weight_decays(layers: int, override: list[float] | None = None) -> list[float]:
    """Per-layer L2 of the model: the override, else MBPO's official values for its 4 hidden layers, else (other
    depths, no official value) the same 2.5e-5 .. 1e-4 ramp evenly spaced. Shared so every algorithm that says
    "MBPO's decays" gets exactly these."""
    if override is not None:
        return list(override)
    if layers == 4:
        return [2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4]
    step = (1e-4 - 2.5e-5) / layers
    return [2.5e-5 + i * step for i in range(layers + 1)]


class EnsembleConfigFields(AlgorithmConfig):
    """The fields of MBPO's ensemble [repo jannerm/mbpo examples/config/<env>/0.py, constructor.py]; MBPO,
    TOM, MnM and MG inherit them (MG overrides some defaults)."""

    ensemble_size: int = Field(7, ge=1, description="Ensemble members [repo 0.py num_networks].")
    num_elites: int = Field(5, ge=1, description="Members used for rollouts, by holdout MSE [repo 0.py].")
    model_hidden: int = Field(200, ge=1, description="Units per hidden layer of the model [repo constructor.py].")
    model_layers: int = Field(4, ge=1, description="Hidden layers of the model, swish [repo constructor.py].")
    model_lr: float = Field(1e-3, gt=0, description="Model Adam lr [repo constructor.py].")
    model_weight_decays: list[float] | None = Field(
        None, description="L2 per layer; None = official (2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4) [repo constructor.py]."
    )

    @model_validator(mode="after")
    def _check_ensemble(self) -> EnsembleConfigFields:
        if self.num_elites > self.ensemble_size:
            raise ValueError(f"num_elites ({self.num_elites}) exceeds ensemble_size ({self.ensemble_size})")
        if self.model_weight_decays is not None and len(self.model_weight_decays) != self.model_layers + 1:
            raise ValueError(f"model_weight_decays needs model_layers + 1 = {self.model_layers + 1} values")
        return self

    def weight_decays(self) -> list[float]:
        return official_weight_decays(self.model_layers, self.model_weight_decays)


def ensemble_from_config(c: EnsembleConfigFields, obs_dim: int, act_dim: int) -> ProbabilisticEnsemble:
    """The ensemble a config's ensemble fields describe."""
    return ProbabilisticEnsemble(
        obs_dim,
        act_dim,
        members=c.ensemble_size,
        elites=c.num_elites,
        hidden=c.model_hidden,
        layers=c.model_layers,
        weight_decays=c.weight_decays(),
        lr=c.model_lr,
    )


class ModelBufferSchedule(Protocol):
    model_retain_epochs: int
    rollout_batch_size: int
    epoch_length: int
    model_train_freq: int


def model_buffer_size(c: ModelBufferSchedule, horizon: int) -> int:
    """Official ``_reallocate_model_pool``: retain_epochs x model transitions per epoch."""
    return int(c.model_retain_epochs * horizon * c.rollout_batch_size * c.epoch_length / c.model_train_freq)


class StridedModelData:
    """Real transitions for a model trained by gradient steps (MG): each goes to the training pool or, by a
    fixed stride (no RNG), to the holdout, which keeps the newest ``max_holdout``."""

    def __init__(
        self, capacity: int, max_holdout: int, holdout_ratio: float, obs_dim: int, act_dim: int, device: torch.device
    ) -> None:
        self.train = ReplayBuffer(capacity, obs_dim, act_dim, device)
        self.holdout = ReplayBuffer(max_holdout, obs_dim, act_dim, device)
        self.holdout_ratio, self.device = holdout_ratio, device
        self.transitions = 0  # transitions handed over so far: decides the stride

    def add(self, obs: Tensor, act: Tensor, rew: Tensor, next_obs: Tensor, terminated: Tensor) -> None:
        n, r = obs.shape[0], self.holdout_ratio
        index = torch.arange(self.transitions, self.transitions + n, dtype=torch.float64)
        hold = torch.floor((index + 1) * r) > torch.floor(index * r)
        for buffer, mask in ((self.train, ~hold), (self.holdout, hold)):
            m = mask.to(self.device)
            buffer.add(obs[m], act[m], rew[m], next_obs[m], terminated[m])
        self.transitions += n

    def state_dict(self) -> dict[str, Any]:
        return {"train": self.train.state_dict(), "holdout": self.holdout.state_dict(), "transitions": self.transitions}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.train.load_state_dict(state["train"])
        self.holdout.load_state_dict(state["holdout"])
        self.transitions = state["transitions"]
