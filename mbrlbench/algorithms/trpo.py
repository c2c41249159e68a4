"""Model-free TRPO (Schulman et al. 2015) and PPO (Schulman et al. 2017): the MB-MPO paper's model-free
baselines, with MB-MPO's policy class (Gaussian MLP 32x32 tanh), the linear feature baseline and GAE.

Per iteration: whole real episodes with the stochastic policy until ``batch_steps`` steps are collected (the
last episode is completed, so an iteration may overshoot); advantages; one TRPO step (KL <= ``trpo_max_kl``) or
``ppo_epochs`` epochs of clipped-surrogate minibatch updates. ``ppo`` is the registered variant
``{optimizer: ppo}``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import torch
from pydantic import Field

from mbrlbench.algorithms.base import Algorithm, AlgorithmSpec, Deviation, Fidelity
from mbrlbench.components.config import RllabPolicyGradientFields
from mbrlbench.components.data.trajectories import Trajectories, advantages, discounted_cumsum, pad_episodes
from mbrlbench.components.optim import adam
from mbrlbench.components.phases import phase
from mbrlbench.components.policies.policy_gradient import (
    GaussianMLPPolicy,
    LinearFeatureBaseline,
    gaussian_kl,
    masked_mean,
    trpo_step,
)
from mbrlbench.components.policies.ppo import (
    Minibatching,
    Source,
    explained_variance,
    gaussian_entropy,
    ppo_epochs,
    surrogate_loss,
)
from mbrlbench.components.policies.saved_policy import PolicySpec
from mbrlbench.tasks import TaskSpec


class TRPOConfig(RllabPolicyGradientFields):
    """On-policy model-free baselines; the policy and baseline are MB-MPO's [repo mb_mpo_train.py]."""

    optimizer: Literal["trpo", "ppo"] = Field("trpo", description="Policy update: TRPO step or PPO epochs.")
    batch_steps: int = Field(4000, ge=1, description="Real steps per iteration; our choice: MB-MPO's 4,000.")
    gae_lambda: float | None = Field(
        None, ge=0, le=1, description="GAE lambda; None = 1.0 for TRPO [rllab], 0.95 for PPO [Schulman 2017]."
    )
    trpo_max_kl: float = Field(0.01, gt=0, description="TRPO trust region [rllab step_size 0.01].")
    ppo_clip: float = Field(0.2, gt=0, description="PPO clip range [Schulman 2017 MuJoCo].")
    ppo_epochs: int = Field(10, ge=1, description="PPO epochs per iteration [Schulman 2017 MuJoCo].")
    ppo_minibatch_size: int = Field(64, ge=1, description="PPO minibatch in steps [Schulman 2017 MuJoCo].")
    policy_lr: float = Field(3e-4, gt=0, description="PPO Adam lr [Schulman 2017 MuJoCo].")

    def lam(self) -> float:
        if self.gae_lambda is not None:
            return self.gae_lambda
        return 1.0 if self.optimizer == "trpo" else 0.95


DEVIATIONS = (
    Deviation("gymnasium v5 MuJoCo instead of the rllab envs: returns are not comparable with the MB-MPO paper's"),
    Deviation("the paper's model-free runs used their own batch sizes, which were not read; 4,000 steps here"),
)


class OnPolicyPG(Algorithm):
    """Model-free on-policy policy gradient: TRPO (``optimizer: trpo``) or PPO (``optimizer: ppo``)."""

    fidelity: ClassVar[Fidelity] = "paper-text"
    keys: ClassVar[tuple[str, ...]] = (
        "pg/kl",
        "pg/loss_improvement",
        "pg/updates",
        "policy/std",
        "pg/batch_return",
        "pg/entropy",
        "pg/explained_variance",
    )
    ppo_keys: ClassVar[tuple[str, ...]] = ("pg/clip_frac", "pg/approx_kl")
    checkpoint_attrs: ClassVar[tuple[str, ...]] = ("updates", "policy", "optimizer")

    def __init__(self, config: TRPOConfig, task: TaskSpec, device: torch.device, seed: int) -> None:
        super().__init__(config, task, device, seed)
        self.config: TRPOConfig = config
        self.policy = GaussianMLPPolicy(
            self.obs_dim, self.act_dim, config.policy_hidden, config.policy_layers, config.policy_init_std
        ).to(device)
        self.baseline = LinearFeatureBaseline(config.baseline_reg)
        self.optimizer = adam(self.policy.parameters(), lr=config.policy_lr)
        self.updates = 0

    @classmethod
    def diagnostic_keys_for(cls, config: TRPOConfig) -> tuple[str, ...]:
        return cls.keys + (cls.ppo_keys if config.optimizer == "ppo" else ())

    def policy_action(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        return self.policy.act(obs, deterministic)

    def policy_spec(self) -> PolicySpec:
        """The Gaussian MLP policy."""
        return PolicySpec("gaussian_mlp", self.policy.init_kwargs, self.policy)

    @phase("env")
    def collect(self) -> list[dict[str, np.ndarray]]:
        """Whole episodes until ``batch_steps`` real steps (the last one completed)."""
        episodes, steps = [], 0
        while steps < self.config.batch_steps:
            obs_l, act_l, rew_l = [], [], []
            ended = False
            while not ended:
                action = self.act(self.env.obs[None], deterministic=False)[0]
                obs, _, reward, _, ended = self.env.step(action)
                obs_l.append(obs)
                act_l.append(action)
                rew_l.append(reward)
                self.env_steps += 1
            episodes.append({"obs": np.asarray(obs_l), "act": np.asarray(act_l), "rew": np.asarray(rew_l)})
            steps += len(rew_l)
        return episodes

    def _train(self, until: int) -> None:
        while self.running(until):
            self.update(pad_episodes(self.collect(), self.device))

    def pop_diagnostics(self) -> dict[str, float]:
        self.diagnostics["policy/std"] = float(self.policy.log_std.detach().exp().mean())
        return dict(self.diagnostics)

    @phase("policy")
    def update(self, traj: Trajectories) -> None:
        c = self.config
        adv = advantages(traj, self.baseline, c.gamma, c.lam(), c.center_advantages, scale=c.center_advantages)
        with torch.no_grad():
            old_mean, old_log_std = self.policy(traj.obs)
            old_logp = self.policy.log_prob(traj.obs, traj.act)

        def loss_fn() -> torch.Tensor:
            return surrogate_loss(self.policy.log_prob(traj.obs, traj.act), old_logp, adv, traj.valid)

        def kl_fn() -> torch.Tensor:
            return masked_mean(gaussian_kl(old_mean, old_log_std, *self.policy(traj.obs)), traj.valid)

        before = float(loss_fn().detach())
        if c.optimizer == "trpo":
            trpo_step(list(self.policy.parameters()), loss_fn, kl_fn, c.trpo_max_kl, c.trpo_cg_iters, c.trpo_damping)
        else:
            keep = traj.valid.reshape(-1) > 0
            flat = Source(
                traj.obs.reshape(-1, traj.obs.shape[-1])[keep],
                traj.act.reshape(-1, traj.act.shape[-1])[keep],
                adv.reshape(-1)[keep],
                old_logp.reshape(-1)[keep],
            )
            stats = ppo_epochs(
                self.policy, self.optimizer, [flat], c.ppo_epochs, Minibatching(size=c.ppo_minibatch_size), c.ppo_clip
            )
            self.diagnostics.update({"pg/clip_frac": stats.clip_frac, "pg/approx_kl": stats.approx_kl})
        self.updates += 1
        self.diagnostics.update(
            {
                "pg/kl": float(kl_fn().detach()),
                "pg/loss_improvement": before - float(loss_fn().detach()),
                "pg/updates": float(self.updates),
                "pg/batch_return": float(traj.returns().mean()),
                "pg/entropy": gaussian_entropy(self.policy),
                "pg/explained_variance": self.baseline_fit(traj),
            }
        )

    @torch.no_grad()
    def baseline_fit(self, traj: Trajectories) -> float:
        """The linear baseline's explained variance of this batch's discounted returns (its in-sample fit)."""
        c = self.config
        returns = discounted_cumsum(traj.rew * traj.valid, c.gamma, traj.continues()) * traj.valid
        keep = traj.valid > 0
        predicted = self.baseline.predict(traj.obs[None], None if traj.time is None else traj.time[None])[0]
        return explained_variance(predicted[keep], returns[keep])


SPEC = AlgorithmSpec(OnPolicyPG, TRPOConfig, DEVIATIONS)
