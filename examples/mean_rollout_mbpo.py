"""MBPO with mean model rollouts: a worked example of an algorithm living outside mbrlbench.

MBPO branches short rollouts in its learned ensemble, each step drawing the next state from a random elite's
Gaussian. This variant steps with the ensemble's mean prediction instead (the elites' Gaussian means,
averaged; no noise), a common ablation of how much the model's sampled uncertainty matters. Everything
else (model fits, rollout schedule, SAC updates, checkpoints, diagnostics, policy.pt) is MBPO's, inherited.

Run it beside MBPO from a suite file by import path (``examples/mean_rollout.yaml``)::

    mbrlbench run examples/mean_rollout.yaml

or register it from an installed package (pyproject.toml)::

    [project.entry-points."mbrlbench.algorithms"]
    mean_mbpo = "mean_rollout_mbpo:MeanRolloutMBPO"

See docs/extending.md for the protocol.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from mbrlbench.algorithms.base import Fidelity
from mbrlbench.algorithms.catalog import MBPO_ENV_STEPS, MBPO_PRESETS
from mbrlbench.algorithms.mbpo import MBPO, MBPOConfig
from mbrlbench.components.data.rollouts import DynamicsModel
from mbrlbench.components.models.ensemble import FitResult


class MeanModel:
    """A model whose rollout step is its owner's deterministic mean prediction."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def sample(self, obs: torch.Tensor, act: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        next_obs, reward = self.model.mean_step(obs, act)
        return next_obs, reward


class MeanRolloutMBPO(MBPO):
    """MBPO whose model rollouts follow the ensemble's mean instead of sampling it."""

    config_cls = MBPOConfig  # the same hyperparameters as MBPO, validated the same way
    presets = MBPO_PRESETS  # MBPO's per-task settings, so the two compare like for like
    paper_env_steps = MBPO_ENV_STEPS  # lets a suite say `env_steps: paper`
    fidelity: ClassVar[Fidelity] = "external"  # the default for plugins; stated here for the reader
    summary = "MBPO with mean (not sampled) model rollouts (examples/mean_rollout_mbpo.py)"

    def rollout(self, epoch: int, start: torch.Tensor, fit: FitResult, model: DynamicsModel | None = None) -> None:
        super().rollout(epoch, start, fit, MeanModel(self.model) if model is None else model)
