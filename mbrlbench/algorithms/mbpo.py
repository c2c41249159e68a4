"""MBPO: Model-Based Policy Optimization (Janner, Fu, Zhang, Levine, NeurIPS 2019, arXiv 1906.08253).

Official code: jannerm/mbpo (TF1) at HEAD ac694ff (identical to 5cbe2fa in the algorithm; the humanoid config's
max rollout length changed 20 -> 25 in 7ffb5e4). Its SAC is softlearning's (``components/sac.py``, flavour
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

from mbrlbench.algorithms.base import Deviation, Episode, Fidelity
from mbrlbench.algorithms.sac_agent import SACConfigFields, SACDriven
from mbrlbench.components.buffers import Batch, ReplayBuffer
from mbrlbench.components.dynamics import EnsembleConfigFields, ensemble_from_config, model_buffer_size, model_io
from mbrlbench.components.ensemble import FitResult, ProbabilisticEnsemble
from mbrlbench.components.mdn import MixtureDensityModel
from mbrlbench.components.model_diagnostics import MODEL_KEYS, model_errors, nan_model_errors, obs_scale
from mbrlbench.components.rollouts import DynamicsModel, branched_rollout, rollout_length
from mbrlbench.tasks import TaskSpec

SUMMARY = "Model-Based Policy Optimization (Janner et al. 2019)"
SOURCE = "jannerm/mbpo@ac694ff examples/config/<env>/0.py + examples/development/base.py"


class MBPOConfig(SACConfigFields, EnsembleConfigFields):
    """MBPO hyperparameters; defaults are the official Hopper config, ``PRESETS`` hold the other tasks."""

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


# Per-task settings of the official configs (``examples/config/<env>/0.py``) over the Hopper defaults.
PRESETS: dict[str, dict[str, Any]] = {
    "hopper": {"target_entropy": -1.0},
    "walker2d": {"rollout_schedule": (20, 150, 1, 1), "target_entropy": -3.0},
    "halfcheetah": {"rollout_schedule": (20, 150, 1, 1), "target_entropy": -3.0, "n_train_repeat": 40},
    "ant": {"rollout_schedule": (20, 100, 1, 25), "target_entropy": -4.0},
    # Max length 25 since 7ffb5e4 (2020-04-06, "updated humanoid config"; 20 at the older 5cbe2fa); mbrl-lib: 25.
    "humanoid": {
        "rollout_schedule": (20, 300, 1, 25),
        "target_entropy": -2.0,
        "model_train_freq": 1000,
        "model_retain_epochs": 5,
        "model_hidden": 400,
    },
    # 500 initial steps: since c87eaaf the per-env config overrides base.py's 5000 (base.py:129-137).
    "inverted_pendulum": {
        "epoch_length": 250,
        "n_train_repeat": 10,
        "rollout_schedule": (1, 15, 1, 1),
        "target_entropy": -0.05,
        "n_initial_exploration_steps": 500,
    },
}
# Budgets count every real step, exploration included. inverted_pendulum: 80 epochs x 250 steps after the 500
# exploration steps (examples/config/inverted_pendulum/0.py:11-12, 34; exploration runs before the epoch loop,
# mbpo/algorithms/mbpo.py:185-199, softlearning/algorithms/rl_algorithm.py:81-91, at ac694ff).
PAPER_ENV_STEPS = {
    "hopper": 125_000,
    "walker2d": 300_000,
    "halfcheetah": 400_000,
    "ant": 300_000,
    "humanoid": 300_000,
    "inverted_pendulum": 20_500,
}


# How a run differs from the official setting; TOM and MnM share these (``MBPO.env_deviations``).
ENV_DEVIATIONS: tuple[Deviation, ...] = (
    Deviation(
        "gymnasium v5 env on MuJoCo 3.3 instead of gym v2 on MuJoCo 1.50 (v5: healthy reward only while healthy)"
    ),
    Deviation(
        "Walker2d-v5 fixes the left-foot friction: dynamics differ from v2", lambda t, c: t.startswith("walker2d")
    ),
    Deviation(
        "truncated obs via v5 include_* flags; v5 reward (Ant-v5 contact cost on), predicted by the model",
        lambda t, c: t.startswith(("ant", "humanoid")),
    ),
    Deviation(
        "termination checks |obs[1:]| < 100 on both sides (official checks only the upper bound)",
        lambda t, c: t.startswith("hopper"),
    ),
)
DEVIATIONS = ENV_DEVIATIONS


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

    # registry data the MBPO family shares (TOM's and MnM's modules may import only the class)
    env_deviations: ClassVar[tuple[Deviation, ...]] = ENV_DEVIATIONS
    mbpo_presets: ClassVar[dict[str, dict[str, Any]]] = PRESETS
    mbpo_env_steps: ClassVar[dict[str, int]] = PAPER_ENV_STEPS

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
        """The model's k-step and reward errors, then the critic bias (``components/model_diagnostics.py``)."""
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


ALGORITHM, CONFIG = MBPO, MBPOConfig
