"""The parts every SAC-driven algorithm (sac, mbpo, tom, mnm) shares: the SAC settings, the real replay
buffer, the SAC agent, exploration and real-data insertion, and the checkpoint entries of these."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field

from mbrlbench.algorithms.base import Algorithm, AlgorithmConfig, Episode
from mbrlbench.components.data.buffers import ReplayBuffer
from mbrlbench.components.models.model_diagnostics import critic_bias
from mbrlbench.components.phases import phase
from mbrlbench.components.policies.sac import SAC, SACSettings
from mbrlbench.components.policies.saved_policy import PolicySpec
from mbrlbench.tasks import TaskSpec, action_bounds


class SACConfigFields(AlgorithmConfig):
    """SAC settings shared by every SAC-driven algorithm [repo: jannerm/mbpo examples/development/base.py]."""

    sac_hidden: int = Field(256, ge=1, description="Units per hidden layer of policy and Q-nets [repo base.py M=256].")
    sac_layers: int = Field(2, ge=1, description="Hidden layers of policy and Q-nets [repo base.py (M, M)].")
    sac_lr: float = Field(3e-4, gt=0, description="Adam lr for policy, Q and temperature [repo base.py].")
    gamma: float = Field(0.99, gt=0, le=1, description="Discount [repo examples/config/<env>/0.py].")
    tau: float = Field(5e-3, gt=0, le=1, description="Polyak rate of the target Q-nets [repo 0.py].")
    target_update_interval: int = Field(1, ge=1, description="SAC updates between target updates [repo base.py].")
    actor_update_interval: int = Field(
        1, ge=1, description="SAC updates per actor/temperature step; 1 = every update [repo base.py, softlearning]."
    )
    init_alpha: float = Field(1.0, gt=0, description="Initial temperature (softlearning log_alpha = 0).")
    sac_cuda_graph: bool = Field(
        False, description="Replay each SAC update from a CUDA graph (CUDA only, ignored on CPU); ours, speed only."
    )
    target_entropy: float | None = Field(
        None, description="Entropy target of the temperature; None = -|A| (SAC v2 heuristic)."
    )
    batch_size: int = Field(256, ge=1, description="SAC minibatch [repo base.py sampler_params].")
    replay_size: int = Field(1_000_000, ge=1, description="Real replay capacity [repo base.py].")
    n_initial_exploration_steps: int = Field(
        5000,
        ge=0,
        description="Uniform-random steps before learning [repo base.py ALGORITHM_PARAMS_ADDITIONAL]; with "
        "episode insertion, exploration runs on until the pool holds this many (softlearning rl_algorithm.py:90).",
    )
    sac_flavor: Literal["softlearning", "pranz24"] = Field(
        "softlearning",
        description="softlearning: MBPO's SAC (log pi and Q on the [-1, 1] action, 0.5 MSE, simultaneous "
        "updates) [repo softlearning]; pranz24: TOM's (env-unit log pi, clamped MSE, critic first) [TOM sac/].",
    )
    real_data_insert: Literal["episode", "step"] = Field(
        "episode",
        description="When real transitions enter the pool: when their episode ends [softlearning "
        "simple_sampler.py:65-70] or at every step [TOM mbpo.py:223].",
    )
    min_pool_size: int = Field(
        1000, ge=1, description="Real transitions before SAC updates start [softlearning max_path_length]."
    )


class SACDriven(Algorithm):
    """Holds env, real buffer and agent; subclasses write ``_train``."""

    sac_diagnostic_keys: ClassVar[tuple[str, ...]] = SAC.DIAGNOSTIC_KEYS
    checkpoint_attrs: ClassVar[tuple[str, ...]] = ("exploration_end", "unfinished_episode", "sac", "env_buffer")

    def __init__(self, config: SACConfigFields, task: TaskSpec, device: torch.device, seed: int) -> None:
        super().__init__(config, task, device, seed)
        self.config: SACConfigFields = config
        low, high = action_bounds(self.env.env)
        target_entropy = -float(self.act_dim) if config.target_entropy is None else config.target_entropy
        settings = SACSettings(
            hidden=config.sac_hidden,
            layers=config.sac_layers,
            lr=config.sac_lr,
            gamma=config.gamma,
            tau=config.tau,
            target_entropy=target_entropy,
            init_alpha=config.init_alpha,
            target_update_interval=config.target_update_interval,
            actor_update_interval=config.actor_update_interval,
            cuda_graph=config.sac_cuda_graph,
            flavor=config.sac_flavor,
        )
        self.sac = SAC(self.obs_dim, self.act_dim, low, high, settings, device)
        self.env_buffer = ReplayBuffer(config.replay_size, self.obs_dim, self.act_dim, device)
        # env step at which exploration ended (None while exploring); the schedule counts from it
        self.exploration_end: int | None = 0 if config.n_initial_exploration_steps == 0 else None
        self.unfinished_episode: list[tuple] = []  # real transitions waiting for their episode's end

    @classmethod
    def checkpoint_rows(cls, config: Any, env_steps: int) -> int:
        return min(env_steps, config.replay_size)

    def policy_action(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        return self.sac.act(obs, deterministic)

    def policy_spec(self) -> PolicySpec:
        return PolicySpec("tanh_gaussian", self.sac.actor.init_kwargs, self.sac.actor)

    def pop_diagnostics(self) -> dict[str, float]:
        return {**self.diagnostics, **self.sac.pop_diagnostics()}

    def exploration_action(self) -> np.ndarray:
        """Action during the initial exploration steps: uniform over the box (softlearning, MBPO)."""
        return self.env.env.action_space.sample()

    @phase("env")
    def env_step(self) -> None:
        """One real step: the exploration action while exploring, else the stochastic policy; store it now
        (``real_data_insert: step``) or with its whole episode when that ends (``episode``)."""
        exploring = self.exploration_end is None
        if exploring:
            action = self.exploration_action()
        else:
            action = self.act(self.env.obs[None], deterministic=False)[0]
        obs, next_obs, reward, terminated, episode_over = self.env.step(action)
        transition = (obs, action, reward, next_obs, terminated)
        self.env_steps += 1
        if self.config.real_data_insert == "step":
            self.env_buffer.add(*transition)
        else:
            self.unfinished_episode.append(transition)
            if episode_over:
                self.env_buffer.add(*(np.stack(column) for column in zip(*self.unfinished_episode, strict=True)))
                self.unfinished_episode = []
        if exploring and self._exploration_over(episode_over):
            self.exploration_end = self.env_steps

    def _exploration_over(self, episode_over: bool) -> bool:
        """Per-step insertion: after exactly N steps. Per-episode: once a finished episode brings the pool to
        N samples, so the policy starts on a fresh episode (softlearning ``while pool.size < N``)."""
        n = self.config.n_initial_exploration_steps
        if self.config.real_data_insert == "step":
            return self.env_steps >= n
        return episode_over and len(self.env_buffer) >= n

    def steps_since_exploration(self) -> int | None:
        """Env steps taken by the learned policy so far (None while exploring): the schedule's clock."""
        return None if self.exploration_end is None else self.env_steps - self.exploration_end

    @property
    def learning(self) -> bool:
        """SAC updates run after each post-exploration step once the pool holds ``min_pool_size`` samples."""
        since = self.steps_since_exploration()
        return since is not None and since > 0 and len(self.env_buffer) >= self.config.min_pool_size

    # ------------------------------------------------------------------ evaluation diagnostics
    @classmethod
    def evaluation_keys_for(cls, config: Any) -> tuple[str, ...]:
        return ("sac/q_bias",)

    def evaluation_diagnostics(self, episodes: list[Episode]) -> dict[str, float]:
        return {"sac/q_bias": self.q_bias(episodes)}

    @torch.no_grad()
    def q_bias(self, episodes: list[Episode]) -> float:
        """Mean over the episodes of min(Q1, Q2)(s_0, a_0) of the online critics (what the actor maximizes; the
        targets use the same min over the Polyak copies) minus the discounted return ``sum_t gamma^t r_t``.
        An indicator, not an estimator: Q is the soft critic of the stochastic policy (entropy bonuses
        included), the episode the deterministic policy's."""
        obs0 = torch.as_tensor(np.stack([e.obs[0] for e in episodes]), dtype=torch.float32, device=self.device)
        act0 = torch.as_tensor(np.stack([e.actions[0] for e in episodes]), dtype=torch.float32, device=self.device)
        q0 = self.sac.q_values(obs0, act0).min(dim=0).values
        return critic_bias(q0, [self.critic_rewards(e.rewards) for e in episodes], self.config.gamma)

    def critic_rewards(self, rewards: np.ndarray) -> np.ndarray:
        """The real rewards as the critic learns them (MnM's log form transforms them)."""
        return rewards
