"""MnM: Mismatched No More (Eysenbach, Khazatsky, Levine, Salakhutdinov, NeurIPS 2022, arXiv 2110.02758).

No deep-RL code is public (ben-eysenbach/mnm holds a tabular notebook only), so this is an interpretation of
the paper's bound on the MBPO core; every uncertain choice is a config field (docs/algorithms/mnm.md).
Per model fit (every ``model_train_freq`` env steps), on top of MBPO:
  1. fit the ensemble by maximum likelihood (MBPO's ``fit``);
  2. train a classifier C(s, a, s'): real transitions (label 1) against model samples for the same (s, a)
     (label ``classifier_neg_label``); its logit estimates log p(s'|s,a) - log q(s'|s,a);
  3. model value step: maximize E_{s'~q}[logit C(s, a, s') + gamma V(s')] through reparameterized ensemble
     samples, plus ``mle_weight`` x the ensemble's NLL on real data; only the model's parameters step
     (alternating with classifier steps, as a GAN);
  4. branched rollouts whose rewards are augmented: r + lambda * logit (or the bound's (1 - gamma) log r form),
     computed once at rollout time and stored in the model buffer.
The policy is MBPO's SAC on those rollouts, with MBPO's schedule and hyperparameters.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field

from mbrlbench.algorithms.base import AlgorithmSpec, Deviation, Fidelity
from mbrlbench.algorithms.catalog import MBPO_ENV_DEVIATIONS
from mbrlbench.algorithms.mbpo import MBPO, MBPOConfig
from mbrlbench.components.data.buffers import Batch
from mbrlbench.components.estimators.classifier import StandardizedClassifier, classifier_loss
from mbrlbench.components.models.ensemble import ProbabilisticEnsemble, model_io
from mbrlbench.components.models.model_training import FixedSteps, NoStop, train_model
from mbrlbench.components.optim import adam, frozen
from mbrlbench.components.phases import phase
from mbrlbench.tasks import TaskSpec


class MnMConfig(MBPOConfig):
    """MBPO's settings plus the classifier, the reward augmentation and the model value step."""

    reward_lambda: float = Field(
        0.1,
        ge=0,
        description="Weight lambda of the classifier logit in the reward (the bound's is 1). Our choice: 0.1, so "
        "lambda * logit_clip = 0.5 stays below the alive reward; 1 made SAC end episodes (docs/algorithms/mnm.md).",
    )
    reward_form: Literal["raw", "log"] = Field(
        "raw",
        description="raw: r + lambda*logit (notebook's VMBPO form); log: (1-gamma)*log(max(r, floor)) + "
        "lambda*logit, the bound's form for positive rewards [notebook experiments.ipynb:179, 221-222; the paper's "
        "deep-RL form was not available to us]. Our choice of default: raw (log pushes toward termination).",
    )
    log_reward_floor: float = Field(1e-3, gt=0, description="Floor on r inside the log form [notebook: 1e-3].")
    logit_clip: float = Field(
        5.0, gt=0, description="The reward's logit is clipped to [-clip, clip] (notebook clips KL to [0, 5]); ours."
    )
    classifier_hidden: int = Field(
        256,
        ge=1,
        description="Units per hidden layer of the classifier; our choice, untuned: the size of TOM's (s, a, s') "
        "discriminator (hidden 256) and of the MBPO core's SAC critics (256 x 256).",
    )
    classifier_layers: int = Field(
        2, ge=1, description="Hidden layers of the classifier (plain MLP); our choice, as TOM's discriminator."
    )
    classifier_activation: Literal["relu", "tanh", "silu"] = Field(
        "relu", description="Classifier activation; our choice."
    )
    classifier_lr: float = Field(3e-4, gt=0, description="Classifier Adam lr; our choice.")
    classifier_batch_size: int = Field(256, ge=1, description="Rows per class per classifier step; our choice.")
    classifier_steps: int = Field(
        200, ge=0, description="Classifier steps per model fit (warm-started across fits); our choice."
    )
    classifier_neg_label: float = Field(
        0.0067,
        ge=0,
        lt=0.5,
        description="Soft label of model samples (one-sided smoothing): the optimal logit is >= "
        "log(b/(1-b)) = -5, the notebook's KL clip at 5; 0 = plain BCE. Our reading of the notebook.",
    )
    classifier_input: Literal["delta", "next_obs"] = Field(
        "delta",
        description="Classifier sees (s, a, s'-s) or (s, a, s'), standardized by real-data statistics; the log "
        "ratio is the same (invertible map of s'), delta is easier to learn. Our choice.",
    )
    classifier_steps_per_value_step: int = Field(
        1, ge=0, description="Classifier steps before each model value step (GAN-style alternation); our choice."
    )
    model_value_steps: int = Field(
        50, ge=0, description="Model value steps per model fit (0 = MLE model + classifier reward only); ours."
    )
    model_value_lr: float = Field(1e-4, gt=0, description="Adam lr of the model value step; our choice.")
    model_value_batch_size: int = Field(256, ge=1, description="(s, a) rows per model value step; our choice.")
    model_value_weight: float = Field(
        1.0, ge=0, description="Weight of -(logit + gamma*V(s')) in the model value loss [bound: 1]."
    )
    mle_weight: float = Field(
        1.0, ge=0, description="Weight of the ensemble NLL (MBPO's loss) in the model value loss; our choice."
    )
    value_actions: Literal["policy", "buffer"] = Field(
        "policy", description="Actions of the value step: a ~ pi(s) (the bound's) or the buffer's; our choice."
    )
    value_critic: Literal["target", "online"] = Field(
        "target", description="Critic used for V(s') = E[min Q(s',a') - alpha log pi] in the value step; ours."
    )


# How a run differs from the paper: all of MBPO's env deviations, plus that this is an interpretation.
DEVIATIONS = (
    Deviation("no public deep-RL code: an interpretation of the paper's bound (docs/algorithms/mnm.md)"),
    Deviation("MBPO's per-task settings and schedule; the paper's MuJoCo hyperparameters were not verified"),
    *MBPO_ENV_DEVIATIONS,
    Deviation(
        "reward_lambda {config.reward_lambda} (the bound weighs the KL term by 1)",
        lambda t, c: c.reward_lambda != 1.0,
    ),
    Deviation(
        "raw reward r + lambda*logit (the notebook's VMBPO form), not the bound's (1-gamma) log r",
        lambda t, c: c.reward_form == "raw",
    ),
)


def augmented_reward(rew: torch.Tensor, logit: torch.Tensor, config: MnMConfig) -> torch.Tensor:
    """The policy's reward on a model transition: base(r) + lambda * clip(logit), base = r or
    (1 - gamma) * log(max(r, floor))."""
    return base_reward(rew, config) + config.reward_lambda * logit.clamp(-config.logit_clip, config.logit_clip)


def base_reward(rew: torch.Tensor, config: MnMConfig) -> torch.Tensor:
    if config.reward_form == "raw":
        return rew
    return (1.0 - config.gamma) * torch.log(rew.clamp(min=config.log_reward_floor))


class AugmentedModel:
    """Wraps the ensemble for ``branched_rollout``: each sampled reward gets the classifier term; the logits
    are summed on the device for the diagnostics (read once per fit)."""

    def __init__(self, model: ProbabilisticEnsemble, classifier: StandardizedClassifier, config: MnMConfig) -> None:
        self.model, self.classifier, self.config = model, classifier, config
        self.sums: torch.Tensor | None = None  # raw logit, reward term; on the rollout's device
        self.count = 0

    @torch.no_grad()
    def sample(self, obs: torch.Tensor, act: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        next_obs, rew = self.model.sample(obs, act)
        logit = self.classifier(obs, act, next_obs)
        aug = augmented_reward(rew, logit, self.config)
        sums = torch.stack([logit.sum(), (aug - base_reward(rew, self.config)).sum()])
        self.sums = sums if self.sums is None else self.sums + sums
        self.count += obs.shape[0]
        return next_obs, aug

    def means(self) -> tuple[float, float]:
        if self.sums is None:
            return float("nan"), float("nan")
        log_ratio, aug = (self.sums / self.count).tolist()
        return log_ratio, aug


class MnM(MBPO):
    fidelity: ClassVar[Fidelity] = "interpretation"
    mnm_keys: ClassVar[tuple[str, ...]] = (
        *("mnm/classifier_acc", "mnm/classifier_loss", "mnm/log_ratio_mean", "mnm/reward_aug_mean"),
        *("mnm/model_value_loss", "mnm/mle_loss", "mnm/model_mse_ratio"),
    )
    checkpoint_attrs: ClassVar[tuple[str, ...]] = (
        *MBPO.checkpoint_attrs,
        "classifier",
        "classifier_opt",
        "model_value_opt",
    )

    def __init__(self, config: MnMConfig, task: TaskSpec, device: torch.device, seed: int) -> None:
        super().__init__(config, task, device, seed)
        self.config: MnMConfig = config
        self.classifier = StandardizedClassifier(
            self.obs_dim,
            self.act_dim,
            config.classifier_hidden,
            config.classifier_layers,
            config.classifier_activation,
            use_delta=config.classifier_input == "delta",
        ).to(device)
        self.classifier_opt = adam(self.classifier.parameters(), lr=config.classifier_lr)
        # a second Adam over the dynamics model's parameters, for the model value step (its own lr and moments)
        self.model_value_opt = adam(self.ensemble.parameters(), lr=config.model_value_lr)

    @classmethod
    def diagnostic_keys_for(cls, config: MBPOConfig) -> tuple[str, ...]:
        return (*super().diagnostic_keys_for(config), *cls.mnm_keys)

    @property
    def ensemble(self) -> ProbabilisticEnsemble:
        """The model (MnM's is always MBPO's ensemble)."""
        assert isinstance(self.model, ProbabilisticEnsemble)
        return self.model

    # ------------------------------------------------------------------ classifier
    def _classifier_rows(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Balanced rows: real (s, a, s') and a model sample s'_q for the same (s, a)."""
        real = self.env_buffer.sample(n)
        with torch.no_grad():
            fake_next, _ = self.ensemble.sample(real.obs, real.act)
        pos = self.classifier.features(real.obs, real.act, real.next_obs)
        neg = self.classifier.features(real.obs, real.act, fake_next)
        return pos, neg

    @phase("model")
    def train_classifier(self, steps: int) -> torch.Tensor:
        """``steps`` BCE steps; returns the summed loss (on the device)."""
        c = self.config
        total = torch.zeros((), device=self.device)
        for _ in range(steps):
            pos, neg = self._classifier_rows(c.classifier_batch_size)
            loss, _ = classifier_loss(self.classifier.net, pos, neg, 1.0, c.classifier_neg_label)
            self.classifier_opt.zero_grad(set_to_none=True)
            loss.backward()
            self.classifier_opt.step()
            total += loss.detach()
        return total

    # ------------------------------------------------------------------ model value step
    def soft_value(self, obs: torch.Tensor) -> torch.Tensor:
        """V(s) = min_j Q_j(s, a) - alpha log pi(a|s), a ~ pi(s) reparameterized: differentiable in ``obs``."""
        act, logp = self.sac.actor(obs)
        q = self.sac.q_values(obs, act, target=self.config.value_critic == "target").min(dim=0).values
        return q - self.sac.log_alpha.exp().detach() * logp

    def model_value_loss(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        """-E_{s'~q}[logit C(s, a, s') + gamma (1 - done) V(s')] through reparameterized model samples. The
        classifier and SAC are frozen: the gradient reaches only the model's parameters."""
        with frozen(self.classifier, self.sac):
            next_obs, _ = self.ensemble.rsample(obs, act)
            logit = self.classifier(obs, act, next_obs)
            done = self.termination_fn(next_obs.detach()).float()
            value = self.soft_value(next_obs)
            return -(logit + self.config.gamma * (1.0 - done) * value).mean()

    @phase("model")
    def model_value_phase(self) -> tuple[float, float, float]:
        """Alternate classifier steps and model value steps; returns (value loss, NLL, MSE after / before)."""
        c = self.config
        px, py = model_io(self.env_buffer.sample(2000))
        mse_before = self.ensemble.mse_per_member(px, py)[self.ensemble.elite_idx].mean()

        def objective(step: torch.Tensor | int, _: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
            self.train_classifier(c.classifier_steps_per_value_step)
            batch = self.env_buffer.sample(c.model_value_batch_size)
            act = batch.act
            if c.value_actions == "policy":
                act = self.sac.act(batch.obs, deterministic=False)
            value_loss = self.model_value_loss(batch.obs, act)
            mle = self.ensemble.bootstrap_nll(self.env_buffer, c.model_batch_size)
            loss = c.model_value_weight * value_loss + c.mle_weight * mle
            return loss, torch.stack([value_loss.detach(), mle.detach()])

        # a fixed number of steps on its own optimizer, no holdout stop (the MLE fit before it had one)
        trained = train_model(objective, self.model_value_opt, FixedSteps(c.model_value_steps), NoStop(), 1)
        mse_after = self.ensemble.mse_per_member(px, py)[self.ensemble.elite_idx].mean()
        if c.model_value_steps == 0:
            return float("nan"), float("nan"), 1.0
        value_mean, mle_mean = (trained.logged_sum / c.model_value_steps).tolist()
        return value_mean, mle_mean, float(mse_after / mse_before)

    @torch.no_grad()
    def classifier_accuracy(self, n: int = 2048) -> float:
        pos, neg = self._classifier_rows(n)
        _, acc = classifier_loss(self.classifier.net, pos, neg, 1.0, self.config.classifier_neg_label)
        return float(acc)

    # ------------------------------------------------------------------ the fit
    def train_model_and_rollout(self, epoch: int) -> None:
        c = self.config
        data = self.env_buffer.all()
        fit = self.fit_model(data)  # MBPO's MLE fit
        self.classifier.fit_stats(data.obs, data.act, data.next_obs)
        clf_loss = self.train_classifier(c.classifier_steps)
        value_loss, mle_loss, mse_ratio = self.model_value_phase()
        accuracy = self.classifier_accuracy()
        augmented = AugmentedModel(self.ensemble, self.classifier, c)
        self.rollout(epoch, self.env_buffer.sample(c.rollout_batch_size).obs, fit, model=augmented)
        log_ratio, reward_aug = augmented.means()
        self.diagnostics.update(
            {
                "mnm/classifier_acc": accuracy,
                "mnm/classifier_loss": float(clf_loss) / max(c.classifier_steps, 1),
                "mnm/log_ratio_mean": log_ratio,
                "mnm/reward_aug_mean": reward_aug,
                "mnm/model_value_loss": value_loss,
                "mnm/mle_loss": mle_loss,
                "mnm/model_mse_ratio": mse_ratio,
            }
        )

    def transform_real(self, batch: Batch) -> Batch:
        """In the log form the real rows' rewards get the same (1 - gamma) log r transform (their classifier
        term is 0: log p/p)."""
        if self.config.reward_form == "raw":
            return batch
        return batch._replace(rew=base_reward(batch.rew, self.config))

    def critic_rewards(self, rewards: np.ndarray) -> np.ndarray:
        """``sac/q_bias`` compares Q with the return of the rewards the critic learns on real rows: base(r)."""
        return base_reward(torch.as_tensor(rewards), self.config).numpy()


SPEC = AlgorithmSpec(MnM, MnMConfig, DEVIATIONS)
