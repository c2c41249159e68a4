"""TOM: policy-aware model learning by transition occupancy matching (Ma, Sivakumar, Yan, Bastani,
Jayaraman, L4DC 2023, arXiv 2305.12663), on the MBPO core.

Official code: kausiksivakumar/TOM (PyTorch, on mbpo_pytorch), followed at commit 4d196c3. TOM is MBPO whose
model is fitted by importance-weighted maximum likelihood, the weights picking out the replay transitions the
current policy would experience. Every ``model_train_freq`` env steps:
  1. a discriminator separates the newest ``policy_pool_size`` real transitions (the current policy's
     proxy, label 1) from the whole buffer (label 0.1); its logit is a reward ``log d_cur / d_buffer``;
  2. a dual value network learns, from that reward, the f-divergence dual (``components/estimators/occupancy.py``);
     its residuals give each buffer transition a weight ``w = ReLU(e + 1)`` (chi-square);
  3. the model (one mixture density network) trains on minibatches drawn with probability ~ min(w, 10),
     and model rollouts start from real states drawn ~ w;
then SAC trains on 5% real + 95% model data, 20 updates every 4th env step, as MBPO otherwise.
``weighting="uniform"`` (the registered variant ``tom_uniform``) is the paper's MBPO baseline: the same
model, schedule and rollouts with uniform weights.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field

from mbrlbench.algorithms.base import AlgorithmSpec, Deviation, Fidelity
from mbrlbench.algorithms.catalog import MBPO_ENV_DEVIATIONS
from mbrlbench.algorithms.mbpo import MBPO, MBPOConfig
from mbrlbench.components.data.buffers import Batch
from mbrlbench.components.estimators.classifier import TransitionClassifier, classifier_loss
from mbrlbench.components.estimators.occupancy import DualValue, effective_sample_size
from mbrlbench.components.models.dynamics import model_io
from mbrlbench.components.models.ensemble import FitResult, ProbabilisticEnsemble
from mbrlbench.components.models.mdn import MixtureDensityModel
from mbrlbench.components.optim import adam
from mbrlbench.components.phases import phase
from mbrlbench.tasks import TaskSpec


class TOMConfig(MBPOConfig):
    """TOM hyperparameters; defaults are the official code's (``mbpo.py`` argparse, run with ``--use_disc``)."""

    # MBPO fields whose TOM defaults differ.
    rollout_schedule: tuple[int, int, int, int] = Field(
        (1, 1, 1, 1), description="Rollout length schedule; fixed length 1 [repo train_tom_disc.sh --rollout_length 1]."
    )
    holdout_ratio: float = Field(
        0.1, ge=0, lt=1, description="Model holdout share of weighted fits [repo smodice_pytorch.py:91]."
    )
    uniform_holdout_ratio: float = Field(
        0.2,
        ge=0,
        lt=1,
        description="Model holdout share of uniform fits (warm-up, tom_uniform) [repo mdn.py:143 default, "
        "train_predict_model mbpo.py:298].",
    )
    fit_resample: bool = Field(
        True,
        description="Fit the model on a with-replacement resample of the buffer, of its size (so holdout rows "
        "repeat training rows) [repo ReplayMemory.sample(len), mbpo.py:285, utils.py:105].",
    )
    model_max_epochs: int | None = Field(30, ge=1, description="Cap on model epochs per fit [repo mbpo.py max_epochs].")
    # The model.
    model: Literal["mdn", "ensemble"] = Field(
        "mdn",
        description="mdn: one mixture density network [repo --model mdn]; ensemble: MBPO's, our option (the "
        "official --model ensemble does not run: ProbEnsemble is never imported, mbpo.py:464).",
    )
    mdn_components: int = Field(10, ge=1, description="Gaussian components per output dim [repo mdn.py].")
    mdn_batches_per_epoch: int = Field(100, ge=1, description="Minibatches per MDN epoch [repo mdn.py train].")
    # SAC: TOM's own pranz24-style SAC, real data pushed every step.
    sac_flavor: Literal["softlearning", "pranz24"] = Field(
        "pranz24", description="TOM's SAC: env-unit log pi, target -|A|, clamped MSE, critic first [repo sac/]."
    )
    real_data_insert: Literal["episode", "step"] = Field(
        "step", description="Real transitions enter the pool at every step [repo mbpo.py:223 env_pool.push]."
    )
    # SAC schedule and exploration.
    sac_update_every: int = Field(
        4, ge=1, description="Env steps between bursts of n_train_repeat updates [repo max_train_repeat_per_step=5]."
    )
    exploration: Literal["policy", "uniform"] = Field(
        "policy", description="Initial exploration actions: the initial SAC policy [repo exploration_before_start]."
    )
    # The weights.
    weighting: Literal["tom", "uniform"] = Field(
        "tom", description="tom: occupancy-ratio weights; uniform: the paper's MBPO baseline [repo --method]."
    )
    weight_mode: Literal["sample", "loss"] = Field(
        "sample", description="sample: minibatches drawn ~ w [repo mdn.py]; loss: uniform draws, NLL times w."
    )
    weight_clip: float = Field(10.0, gt=0, description="Upper clip of w for model training [repo mdn.py train].")
    weighted_rollout_starts: bool = Field(True, description="Rollout start states drawn ~ w [repo rollout_model].")
    rollout_weight_clip: float | None = Field(
        None, gt=0, description="Clip of w for rollout starts; None = unclipped [repo rollout_model]."
    )
    divergence: Literal["chi", "kl"] = Field("chi", description="f-divergence of the dual [repo --f chi].")
    policy_pool_size: int = Field(
        1000,
        ge=1,
        description="Newest real transitions standing for the current policy; weighting starts once the policy "
        "has taken this many steps after exploration [repo policy_pool_size, mbpo.py:163,226].",
    )
    # The discriminator.
    disc: bool = Field(
        True, description="Train the discriminator [repo README --use_disc]; false: reward 1 on the newest pool."
    )
    disc_hidden: int = Field(256, ge=2, description="Discriminator width [repo disc_hidden].")
    disc_passes: int = Field(100, ge=1, description="Passes over the newest pool per fit [repo disc_iter].")
    disc_batch_size: int = Field(256, ge=1, description="Discriminator minibatch [repo d_batch_size].")
    disc_lr: float = Field(3e-4, gt=0, description="Discriminator Adam lr [repo discriminator_pytorch.py].")
    disc_grad_penalty: float = Field(10.0, ge=0, description="Gradient-penalty weight [repo compute_grad_pen].")
    disc_buffer_label: float = Field(
        0.1, ge=0, lt=1, description="BCE label of buffer rows (1 for the newest pool) [repo Discriminator_SAS]."
    )
    disc_reinit: bool = Field(True, description="New discriminator at every fit [repo mbpo.py train].")
    disc_train_input_trunks: bool = Field(
        False, description="Also train the s/a/s' input layers; false = official (optimizer holds trunk only)."
    )
    # The dual value network.
    q_hidden: int = Field(256, ge=1, description="Dual value width [repo hidden_sizes (256, 256)].")
    q_layers: int = Field(2, ge=1, description="Dual value hidden layers [repo hidden_sizes].")
    q_lr: float = Field(3e-4, gt=0, description="Dual value Adam lr [repo smodice_pytorch.py].")
    q_weight_decay: float = Field(1e-4, ge=0, description="Dual value Adam L2 [repo q_l2_reg].")
    q_steps: int = Field(1000, ge=1, description="Dual value updates per fit [repo q_iter].")
    q_batch_size: int = Field(256, ge=1, description="Dual value minibatch [repo m_batch_size].")


DEVIATIONS = (
    *MBPO_ENV_DEVIATIONS,
    Deviation(
        "InvertedPendulum is not in the TOM paper (500 initial steps, as MBPO's pendulum config)",
        lambda t, c: t == "inverted_pendulum",
    ),
    Deviation("dual-value initial states drawn with replacement (official: all of them when fewer than a batch)"),
    Deviation(
        "SAC (and the dual value, when weighting) bootstraps through time-limit truncations (gymnasium v5 tells "
        "them from terminations); official stores gym-v2 done, also true at the 1,000-step TimeLimit: no bootstrap",
        lambda t, c: not t.startswith(("ant", "humanoid")),
    ),
    Deviation(
        "MBPO's ensemble instead of the official mixture density network: our option (the official "
        "--model ensemble does not run)",
        lambda t, c: c.model == "ensemble",
    ),
)


class TOM(MBPO):
    fidelity: ClassVar[Fidelity] = "official-code"
    weight_keys: ClassVar[tuple[str, ...]] = (
        "tom/weight_mean",
        "tom/weight_max",
        "tom/weight_ess",
        "tom/weight_newest",
        "tom/weight_oldest",
    )
    checkpoint_attrs: ClassVar[tuple[str, ...]] = (
        *MBPO.checkpoint_attrs,
        "dual",
        "dual.optimizer",
        "initial_obs",
        "disc",
        "disc_optimizer",
    )

    def __init__(self, config: TOMConfig, task: TaskSpec, device: torch.device, seed: int) -> None:
        super().__init__(config, task, device, seed)
        self.config: TOMConfig = config
        self.dual = DualValue(
            self.obs_dim,
            self.act_dim,
            config.q_hidden,
            config.q_layers,
            config.q_lr,
            config.q_weight_decay,
            config.gamma,
            config.divergence,
        ).to(device)
        self.disc: TransitionClassifier | None = None
        self.disc_optimizer: torch.optim.Optimizer | None = None
        self.initial_obs: list[np.ndarray] = []  # first observation of every real episode (the dual's s0)

    @classmethod
    def extra_keys(cls, config: MBPOConfig) -> tuple[str, ...]:
        assert isinstance(config, TOMConfig)
        learned = config.weighting == "tom"
        return (
            *cls.weight_keys,
            *(["tom/disc_acc"] if learned and config.disc else []),
            *(["tom/q_loss"] if learned else []),
        )

    def build_model(self) -> MixtureDensityModel | ProbabilisticEnsemble:
        c = self.config
        if c.model == "ensemble":
            return super().build_model()
        return MixtureDensityModel(
            self.obs_dim,
            self.act_dim,
            c.mdn_components,
            c.model_hidden,
            c.model_layers,
            c.model_lr,
            c.mdn_batches_per_epoch,
        )

    # ------------------------------------------------------------------ real env
    def exploration_action(self) -> np.ndarray:
        if self.config.exploration == "policy":
            return self.act(self.env.obs[None], deterministic=False)[0]
        return super().exploration_action()

    @phase("env")
    def env_step(self) -> None:
        if self.env.at_episode_start:
            self.initial_obs.append(np.array(self.env.obs, dtype=np.float32))
        super().env_step()

    def sac_updates_due(self, since: int) -> int:
        """Official ``train_policy_repeats`` cap: 20 updates when the step index is a multiple of 4."""
        return self.config.n_train_repeat if since % self.config.sac_update_every == 0 else 0

    # ------------------------------------------------------------- model training
    def train_model_and_rollout(self, epoch: int) -> None:
        c = self.config
        data = self.env_buffer.all()
        weights = self.occupancy_weights(data)  # None: uniform
        fit = self.fit_model(data, None if weights is None else weights.clamp(max=c.weight_clip))
        if weights is not None and c.weighted_rollout_starts:
            starts = weights if c.rollout_weight_clip is None else weights.clamp(max=c.rollout_weight_clip)
            start = data.obs[torch.multinomial(starts, c.rollout_batch_size, replacement=True)]
        else:
            start = self.env_buffer.sample(c.rollout_batch_size).obs
        self.rollout(epoch, start, fit)

    @phase("model", fit=True)
    def fit_model(self, data: Batch, weights: torch.Tensor | None = None) -> FitResult:
        c = self.config
        if c.fit_resample:  # official: the model sees ReplayMemory.sample(len(pool)), a resample with replacement
            idx = torch.randint(data.obs.shape[0], (data.obs.shape[0],), device=data.obs.device)
            data = Batch(*(x[idx] for x in data))
            weights = None if weights is None else weights[idx]
        return self.model.fit(
            *model_io(data),
            weights=weights,
            weight_mode=c.weight_mode,
            batch_size=c.model_batch_size,
            holdout_ratio=c.uniform_holdout_ratio if weights is None else c.holdout_ratio,
            max_holdout=c.max_holdout,
            patience=c.model_patience,
            max_epochs=c.model_max_epochs,
        )

    def weighting_started(self) -> bool:
        """Official: TOM runs once ``cur_pol_pool`` (filled only after exploration) holds ``policy_pool_size``
        transitions; before that the fits are uniform (mbpo.py:163,212-214,226)."""
        since = self.steps_since_exploration()
        return self.config.weighting == "tom" and since is not None and since >= self.config.policy_pool_size

    @phase("model")
    def occupancy_weights(self, data: Batch) -> torch.Tensor | None:
        """Steps 1-2 of the module docstring: one weight per buffer row (oldest first), or None for uniform
        (``tom_uniform``, or before the learned policy has filled the current-policy pool)."""
        c = self.config
        n = data.obs.shape[0]
        if not self.weighting_started():
            ones = {k: 1.0 for k in self.weight_keys}
            self.diagnostics.update(ones)
            return None
        if c.disc:
            reward = self.train_discriminator(self.env_buffer.recent(c.policy_pool_size), data)
        else:  # official --no_disc: 1 for the newest pool, 0 elsewhere
            reward = torch.zeros(n, device=self.device)
            reward[-c.policy_pool_size :] = 1.0
        self.train_dual_value(data, reward)
        weights = self.dual.weights(data.obs, data.act, reward, data.next_obs, data.terminated, self.policy_sample)
        if not bool(weights.sum() > 0):  # all-zero ratio estimate: nothing to weight by, fall back to uniform
            weights = torch.ones_like(weights)
        k = min(c.policy_pool_size, n)
        self.diagnostics.update(
            {
                "tom/weight_mean": float(weights.mean()),
                "tom/weight_max": float(weights.max()),
                "tom/weight_ess": float(effective_sample_size(weights.clamp(max=c.weight_clip))),
                "tom/weight_newest": float(weights[-k:].mean()),
                "tom/weight_oldest": float(weights[:k].mean()),
            }
        )
        return weights

    def policy_sample(self, obs: torch.Tensor) -> torch.Tensor:
        return self.sac.act(obs, deterministic=False)

    def train_discriminator(self, recent: Batch, data: Batch) -> torch.Tensor:
        """BCE (newest pool -> 1, buffer -> ``disc_buffer_label``) with a gradient penalty; returns the logit
        of every buffer row, TOM's reward ``log sigma(D) - log(1 - sigma(D))``."""
        c = self.config
        if self.disc is None or c.disc_reinit:
            self.build_discriminator()
        assert self.disc is not None and self.disc_optimizer is not None
        pos = torch.cat([recent.obs, recent.act, recent.next_obs], dim=-1)
        rows = torch.cat([data.obs, data.act, data.next_obs], dim=-1)
        for _ in range(c.disc_passes):  # official: one pass = the newest pool in shuffled minibatches
            for chunk in torch.randperm(pos.shape[0], device=self.device).split(c.disc_batch_size):
                neg = rows[torch.randint(rows.shape[0], (chunk.shape[0],), device=self.device)]
                loss, _ = classifier_loss(self.disc, pos[chunk], neg, 1.0, c.disc_buffer_label, c.disc_grad_penalty)
                self.disc_optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.disc_optimizer.step()
        with torch.no_grad():
            neg = rows[torch.randint(rows.shape[0], (pos.shape[0],), device=self.device)]
            _, accuracy = classifier_loss(self.disc, pos, neg)
            self.diagnostics["tom/disc_acc"] = float(accuracy)
            return torch.cat([self.disc.forward_flat(part) for part in rows.split(65_536)])

    def train_dual_value(self, data: Batch, reward: torch.Tensor) -> None:
        c = self.config
        initial = torch.as_tensor(np.stack(self.initial_obs), device=self.device)
        n = data.obs.shape[0]
        idx = torch.randint(n, (c.q_steps, c.q_batch_size), device=self.device)
        init_idx = torch.randint(initial.shape[0], (c.q_steps, c.q_batch_size), device=self.device)
        loss_sum = torch.zeros((), device=self.device)
        for step in range(c.q_steps):
            r = idx[step]
            loss_sum += self.dual.update(
                initial[init_idx[step]],
                data.obs[r],
                data.act[r],
                reward[r],
                data.next_obs[r],
                data.terminated[r],
                self.policy_sample,
            )
        self.diagnostics["tom/q_loss"] = float(loss_sum) / c.q_steps

    def build_discriminator(self) -> None:
        """A fresh discriminator and its optimizer (every fit with ``disc_reinit``, else once)."""
        c = self.config
        self.disc = TransitionClassifier(self.obs_dim, self.act_dim, c.disc_hidden, layers=2).to(self.device)
        params = self.disc.parameters() if c.disc_train_input_trunks else self.disc.head.parameters()
        self.disc_optimizer = adam(params, lr=c.disc_lr)

    def prepare_load(self, state: dict[str, Any]) -> None:
        if state["disc"] is not None and self.disc is None:
            self.build_discriminator()  # its draws are undone: the base restores the RNG last


SPEC = AlgorithmSpec(TOM, TOMConfig, DEVIATIONS)
