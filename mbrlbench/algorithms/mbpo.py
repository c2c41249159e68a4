"""MBPO: Model-Based Policy Optimization (Janner, Fu, Zhang, Levine, NeurIPS 2019, arXiv 1906.08253).

Official code: jannerm/mbpo (TF1) at HEAD ac694ff (identical to 5cbe2fa in the algorithm; the humanoid config's
max rollout length changed 20 -> 25 in 7ffb5e4). Its SAC is softlearning's (``components/policies/sac.py``, flavour
``softlearning``), real data enters the pool episode by episode. Per real env step after exploration:
  1. every ``model_train_freq`` steps: fit the ensemble on all real data, set the rollout length from the
     schedule, reallocate the model buffer, and branch ``rollout_batch_size`` rollouts from real states;
  2. take one real step with the stochastic policy;
  3. ``n_train_repeat`` SAC updates on minibatches of ``real_ratio`` real + the rest model data.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import Field

from mbrlbench.algorithms.base import AlgorithmSpec, Episode, Fidelity
from mbrlbench.algorithms.catalog import MBPO_ENV_DEVIATIONS
from mbrlbench.algorithms.sac_agent import SACConfigFields, SACDriven
from mbrlbench.components.data.buffers import Batch, ReplayBuffer
from mbrlbench.components.data.rollouts import DynamicsModel, branched_rollout, rollout_length
from mbrlbench.components.models.dynamics import EnsembleConfigFields, ensemble_from_config, model_buffer_size, model_io
from mbrlbench.components.models.ensemble import FitResult, ProbabilisticEnsemble
from mbrlbench.components.models.mdn import MixtureDensityModel
from mbrlbench.components.models.model_diagnostics import MODEL_KEYS, model_errors, nan_model_errors, obs_scale
from mbrlbench.components.phases import phase
from mbrlbench.tasks import TaskSpec


class MBPOConfig(SACConfigFields, EnsembleConfigFields):
    """MBPO hyperparameters; defaults are the official Hopper config, ``catalog.MBPO_PRESETS`` hold the other
    tasks."""

    epoch_length: int = Field(1000, ge=1, description="Env steps per epoch; the schedule counts epochs [repo 0.py].")
    model_train_freq: int = Field(250, ge=1, description="Env steps between model fits and rollouts [repo 0.py].")
    model_retain_epochs: int = Field(1, ge=1, description="Epochs of model data the model buffer keeps [repo 0.py].")
    rollout_batch_size: int = Field(100_000, ge=1, description="Model rollouts branched per fit [repo 0.py].")
    rollout_schedule: tuple[int, int, int, int] = Field(
        (20, 150, 1, 15), description="[min_epoch, max_epoch, min_len, max_len] of the rollout length [repo 0.py]."
    )
    real_ratio: float = Field(0.05, ge=0, le=1, description="Share of real data in each SAC batch [repo 0.py].")
    n_train_repeat: int = Field(20, ge=1, description="SAC updates per env step, G [repo 0.py].")
    model_batch_size: int = Field(256, ge=1, description="Model minibatch [repo mbpo.py _train_model].")
    holdout_ratio: float = Field(0.2, ge=0, lt=1, description="Share of data held out [repo mbpo.py _train_model].")
    max_holdout: int = Field(5000, ge=0, description="Cap on holdout size [repo bnn.py].")
    model_patience: int = Field(5, ge=0, description="Epochs without 1% holdout gain before stop [repo bnn.py].")
    model_max_epochs: int | None = Field(None, ge=1, description="Cap on epochs per fit; None = official (none).")


class MBPO(SACDriven):
    fidelity: ClassVar[Fidelity] = "official-code"
    model_keys: ClassVar[tuple[str, ...]] = (
        "model/train_loss",
        "model/val_loss",
        "model/epochs",
        "model/fits",
        "rollout/horizon",
        "rollout/survival",
        "rollout/model_buffer",
    )
    counter_keys: ClassVar[tuple[str, ...]] = ("model/fits",)
    checkpoint_attrs: ClassVar[tuple[str, ...]] = (
        *SACDriven.checkpoint_attrs,
        "model",
        "model.optimizer",
        "model_buffer",
    )

    def __init__(self, config: MBPOConfig, task: TaskSpec, device: torch.device, seed: int) -> None:
        super().__init__(config, task, device, seed)
        self.config: MBPOConfig = config
        self.model = self.build_model().to(device)
        self.model_buffer = ReplayBuffer(self._model_buffer_size(1), self.obs_dim, self.act_dim, device)
        self.termination_fn = task.termination_fn

    @classmethod
    def diagnostic_keys_for(cls, config: MBPOConfig) -> tuple[str, ...]:
        """MBPO's model and rollout columns, the subclass's own, then SAC's."""
        return (*cls.model_keys, *cls.extra_keys(config), *cls.sac_diagnostic_keys)

    @classmethod
    def extra_keys(cls, config: MBPOConfig) -> tuple[str, ...]:
        """A subclass's columns between MBPO's and SAC's."""
        return ()

    @classmethod
    def evaluation_keys_for(cls, config: Any) -> tuple[str, ...]:
        """The model's k-step and reward errors, then the critic bias (``components/models/model_diagnostics.py``)."""
        return (*MODEL_KEYS, *super().evaluation_keys_for(config))

    def evaluation_diagnostics(self, episodes: list[Episode]) -> dict[str, float]:
        """The current model on the evaluation episodes (NaN before its first fit): its deterministic mean step
        (ensemble: mean of the elites' means; TOM's MDN: the mixture mean), k_rollout = the horizon of the
        rollouts branched after its last fit; then SAC's critic bias."""
        model = nan_model_errors()
        if self.diagnostics["model/fits"] > 0:
            horizon = int(self.diagnostics["rollout/horizon"])
            model = model_errors(self.model.mean_step, episodes, horizon, obs_scale(self.model.obs_std))
        return {**model, **super().evaluation_diagnostics(episodes)}

    @classmethod
    def checkpoint_rows(cls, config: Any, env_steps: int) -> int:
        """The real pool plus the model buffer at its largest (the schedule's longest rollouts)."""
        return super().checkpoint_rows(config, env_steps) + model_buffer_size(config, max(config.rollout_schedule[2:]))

    def build_model(self) -> ProbabilisticEnsemble | MixtureDensityModel:
        """MBPO's ensemble (TOM may build a mixture density network instead)."""
        return ensemble_from_config(self.config, self.obs_dim, self.act_dim)

    def _model_buffer_size(self, horizon: int) -> int:
        return model_buffer_size(self.config, horizon)

    # ------------------------------------------------------------------ training
    def _train(self, until: int) -> None:
        c = self.config
        while self.running(until):
            since = self.steps_since_exploration()  # the official loop's timestep, counted after exploration
            if since is not None and since % c.model_train_freq == 0:
                self.train_model_and_rollout(epoch=since // c.epoch_length)
            self.env_step()
            if self.learning:
                assert since is not None  # learning starts after exploration
                for _ in range(self.sac_updates_due(since)):
                    self.sac.update(self.training_batch())

    def sac_updates_due(self, since_exploration: int) -> int:
        """SAC updates after this env step: G after every step (official MBPO)."""
        return self.config.n_train_repeat

    def train_model_and_rollout(self, epoch: int) -> None:
        fit = self.fit_model(self.env_buffer.all())
        self.rollout(epoch, self.env_buffer.sample(self.config.rollout_batch_size).obs, fit)

    @phase("model", fit=True)
    def fit_model(self, data: Batch) -> FitResult:
        """Fit on every real transition: inputs ``[s, a]``, targets ``[r, s' - s]``."""
        c = self.config
        return self.model.fit(
            *model_io(data),
            batch_size=c.model_batch_size,
            holdout_ratio=c.holdout_ratio,
            max_holdout=c.max_holdout,
            patience=c.model_patience,
            max_epochs=c.model_max_epochs,
        )

    def rollout(self, epoch: int, start: torch.Tensor, fit: FitResult, model: DynamicsModel | None = None) -> None:
        """Resize the model buffer for this epoch's horizon, branch rollouts from ``start`` in ``model``
        (default: the fitted model; MnM passes its reward-augmented wrapper), log."""
        c = self.config
        horizon = rollout_length(c.rollout_schedule, epoch)
        self.model_buffer.resize(self._model_buffer_size(horizon))
        stats = branched_rollout(
            self.model if model is None else model,
            lambda o: self.sac.act(o, deterministic=False),
            self.termination_fn,
            start,
            horizon,
            self.model_buffer,
        )
        self.diagnostics.update(
            {
                "model/train_loss": fit.train_loss,
                "model/val_loss": fit.val_loss,
                "model/epochs": float(fit.epochs),
                "model/fits": self.diagnostics["model/fits"] + 1,
                "rollout/horizon": stats["rollout/horizon"],
                "rollout/survival": stats["rollout/survival"],
                "rollout/model_buffer": float(len(self.model_buffer)),
            }
        )

    def training_batch(self) -> Batch:
        """Official ``_training_batch``: ``int(batch * real_ratio)`` real rows, the rest from the model; the
        real rows pass through ``transform_real`` (identity here)."""
        c = self.config
        if len(self.model_buffer) == 0:
            return self.transform_real(self.env_buffer.sample(c.batch_size))
        n_real = int(c.batch_size * c.real_ratio)
        real = self.transform_real(self.env_buffer.sample(n_real))
        return Batch.cat(real, self.model_buffer.sample(c.batch_size - n_real))

    def transform_real(self, batch: Batch) -> Batch:
        """Hook: what a subclass does to the real rows of a SAC batch (MnM's log-form reward)."""
        return batch


# Every MBPO-family run compares with curves made on gym v2 (catalog.MBPO_ENV_DEVIATIONS).
SPEC = AlgorithmSpec(MBPO, MBPOConfig, MBPO_ENV_DEVIATIONS)
