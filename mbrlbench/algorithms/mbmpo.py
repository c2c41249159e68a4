"""MB-MPO: model-based RL via meta-policy optimization (Clavera, Rothfuss, Schulman, Fujita, Asfour, Abbeel,
CoRL 2018, arXiv 1809.05214); ``meta_learning: false`` is its ME-TRPO baseline.

Official code: jonasrothfuss/model_ensemble_meta_learning (TF1/rllab), run script
``experiments/run_scripts/mf_comparison/mb_mpo_train.py`` and ``sandbox/ours/algos/ModelMAML/``. Per iteration:
  1. real data: each of the ``meta_batch_size`` adapted policies runs one real trajectory (iteration 0:
     5,000 uniform-random steps); all real data goes to a FIFO buffer of 1e5 transitions;
  2. the ensemble of ``num_models`` deterministic MLPs is refitted (kept, not reinitialized);
  3. ``meta_steps`` times: every task (``meta_batch_size`` tasks, assigned to the models in equal blocks)
     samples ``rollouts_per_task`` imagined trajectories with the pre-update policy in its model; one
     vanilla policy-gradient step of size ``inner_lr`` adapts the policy to each task; the adapted policies
     sample again; a TRPO step (KL <= ``max_kl``) on the post-update surrogate, differentiated through the
     inner step (second-order MAML), updates the pre-update policy.
Rewards come from the model (it predicts the reward with the next state, as in MBPO); see docs/algorithms/mbmpo.md.
An iteration is atomic: ``train(until)`` finishes the iteration it is in, so it may overshoot ``until``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from pydantic import Field, model_validator
from torch.func import functional_call, vmap

from mbrlbench.algorithms.base import Algorithm, AlgorithmConfig, TrainingEnv, rng_state, set_rng_state
from mbrlbench.components.buffers import ReplayBuffer
from mbrlbench.components.mse_ensemble import DeterministicEnsemble
from mbrlbench.components.policy_gradient import (
    GaussianMLPPolicy,
    LinearFeatureBaseline,
    Params,
    adapt,
    gaussian_kl,
    masked_mean,
    trpo_step,
    vpg_loss,
)
from mbrlbench.components.trajectories import Trajectories, advantages, model_rollouts
from mbrlbench.tasks import TaskSpec

SOURCE = "jonasrothfuss/model_ensemble_meta_learning experiments/run_scripts/mf_comparison/mb_mpo_train.py"


class MBMPOConfig(AlgorithmConfig):
    """MB-MPO hyperparameters; defaults are the official run script's [repo mb_mpo_train.py]."""

    meta_learning: bool = Field(True, description="MAML inner step; false = ME-TRPO (TRPO on imagined data).")
    meta_batch_size: int = Field(20, ge=1, description="Imagined tasks per meta-step, a multiple of num_models [repo].")
    num_models: int = Field(5, ge=1, description="Dynamics ensemble members [repo].")
    rollouts_per_task: int = Field(50, ge=1, description="Imagined trajectories per task and policy [repo].")
    model_horizon: int = Field(200, ge=1, description="Imagined trajectory length [repo path_length 200].")
    real_trajs_per_task: int = Field(1, ge=1, description="Real trajectories per adapted policy [repo].")
    n_initial_random_steps: int = Field(5000, ge=0, description="Uniform-random real steps first [repo].")
    meta_steps: int = Field(30, ge=1, description="MAML meta-steps per iteration [repo num_maml_steps_per_iter].")
    inner_lr: float = Field(1e-3, ge=0, description="Inner policy-gradient step, fixed [repo fast_lr].")
    max_kl: float = Field(0.01, gt=0, description="TRPO trust region of the outer step [repo meta_step_size].")
    gamma: float = Field(0.99, gt=0, le=1, description="Discount [repo discount].")
    gae_lambda: float = Field(1.0, ge=0, le=1, description="GAE lambda [rllab default 1].")
    center_advantages: bool = Field(True, description="Center advantages per task [rllab center_adv].")
    policy_hidden: int = Field(32, ge=1, description="Policy MLP width, tanh [repo hidden_sizes (32, 32)].")
    policy_layers: int = Field(2, ge=1, description="Policy MLP depth [repo].")
    policy_init_std: float = Field(1.0, gt=0, description="Initial policy std [rllab GaussianMLPPolicy].")
    baseline_reg: float = Field(1e-5, gt=0, description="Ridge of the linear feature baseline [rllab].")
    cg_iters: int = Field(10, ge=1, description="Conjugate-gradient iterations [rllab ConjugateGradientOptimizer].")
    cg_damping: float = Field(1e-5, ge=0, description="Fisher damping [rllab reg_coeff].")
    buffer_size: int = Field(100_000, ge=1, description="Real data FIFO for the models [repo 1e5].")
    model_hidden: int = Field(512, ge=1, description="Model width, ReLU [repo (512, 512)].")
    model_layers: int = Field(2, ge=1, description="Model depth [repo].")
    model_lr: float = Field(1e-3, gt=0, description="Model Adam lr [repo].")
    model_batch_size: int = Field(500, ge=1, description="Model minibatch [repo].")
    model_valid_split: float = Field(0.2, gt=0, lt=1, description="Per-member validation share [repo].")
    model_max_epochs: int = Field(500, ge=1, description="Model epochs cap per fit [repo].")
    model_persistence: float = Field(0.99, ge=0, lt=1, description="Rolling-average factor of early stop [repo].")

    @model_validator(mode="after")
    def _check(self) -> MBMPOConfig:
        if self.meta_batch_size % self.num_models:
            raise ValueError(f"meta_batch_size ({self.meta_batch_size}) must be a multiple of num_models")
        return self


PRESETS: dict[str, dict[str, Any]] = {}
# [repo n_itr=100]: 5,000 random steps + 99 x 4,000 on the horizon-200 tasks; the same budget on the
# standard tasks (no Humanoid in the paper).
PAPER_ENV_STEPS = {t: 401_000 for b in ("halfcheetah", "hopper", "walker2d", "ant") for t in (b, f"{b}_h200")}


def deviations(task: str, config: MBMPOConfig) -> list[str]:
    out = [
        "gymnasium v5 MuJoCo instead of the rllab envs (other time steps, rewards and observations): "
        "returns are not comparable with the paper's",
        "the models predict the reward with the next state (official: analytic reward functions of rllab envs)",
        "no weight normalization in the model MLPs; imagined obs and rewards clipped to the real data's range",
        "imagined rollouts start from real initial states drawn by resetting the env (official: env resets too)",
    ]
    if not task.endswith("_h200"):
        out.append(f"{task} is not a horizon-200 task: the paper's setting is horizon 200")
    if not config.meta_learning:
        out.append("ME-TRPO here: one TRPO step per meta-step on imagined data, no model-validation early stop")
    return out


def stacked(params: list[Params]) -> Params:
    return {k: torch.stack([p[k] for p in params]) for k in params[0]}


class MBMPO(Algorithm):
    fidelity: ClassVar = "official-code"
    diagnostic_keys: ClassVar = (
        "mbmpo/pre_update_stochastic_return",
        "mbmpo/post_update_return",
        "mbmpo/imagined_return_pre",
        "mbmpo/imagined_return_post",
        "mbmpo/kl",
        "mbmpo/accepted",
        "mbmpo/iteration",
        "mbmpo/updates",
        "policy/std",
        "model/train_loss",
        "model/val_loss",
        "model/epochs",
    )

    def __init__(self, config: MBMPOConfig, task: TaskSpec, device: torch.device, seed: int) -> None:
        self.config, self.task, self.device, self.seed = config, task, device, seed
        self.env = TrainingEnv(task.make_env(), seed)
        self.obs_dim = self.env.env.observation_space.shape[0]
        self.act_dim = self.env.env.action_space.shape[0]
        self.policy = GaussianMLPPolicy(
            self.obs_dim, self.act_dim, config.policy_hidden, config.policy_layers, config.policy_init_std
        ).to(device)
        self.baseline = LinearFeatureBaseline(config.baseline_reg)
        self.model = DeterministicEnsemble(
            self.obs_dim, self.act_dim, config.num_models, config.model_hidden, config.model_layers, config.model_lr
        ).to(device)
        self.buffer = ReplayBuffer(config.buffer_size, self.obs_dim, self.act_dim, device)
        self.side_env: gym.Env = task.make_env()  # resets for imagined start states and logging rollouts
        self.env_steps, self.iteration, self.updates = 0, 0, 0
        self.adapted: list[Params] | None = None  # the adapted policies of the last meta-step (real data)
        self.last: dict[str, float] = {k: float("nan") for k in self.diagnostic_keys}

    # ------------------------------------------------------------------------- acting
    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        obs_t = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        return self.policy.act(obs_t, deterministic).cpu().numpy()

    def collect_real(self) -> None:
        """Step 1: random steps (iteration 0, up to an episode boundary) or one episode per adapted policy."""
        c = self.config
        returns = []
        if self.adapted is None:
            while self.env_steps < c.n_initial_random_steps or not returns:
                returns.append(self._episode(None))
        else:
            for params in self.adapted:
                returns += [self._episode(params) for _ in range(c.real_trajs_per_task)]
        self.last["mbmpo/post_update_return"] = float(np.mean(returns))

    def _episode(self, params: Params | None) -> float:
        """One real episode (counted, stored) with the policy under ``params``, or uniform-random actions."""
        total = 0.0
        while True:
            if params is None:
                action = self.env.env.action_space.sample()
            else:
                obs_t = torch.as_tensor(self.env.obs, dtype=torch.float32, device=self.device)
                action = self.policy.act(obs_t, params=params).cpu().numpy()
            obs, next_obs, reward, terminated = self.env.step(action)
            self.buffer.add(obs, action, reward, next_obs, terminated)
            self.env_steps += 1
            total += reward
            if self.env.episode_length == 0:  # the env reset: the episode is over
                return total

    # ---------------------------------------------------------------------- training
    def train(self, until: int) -> dict[str, float]:
        while self.env_steps < until and not self.should_stop():
            self.collect_real()
            self.fit_model()
            for _ in range(self.config.meta_steps):
                self.meta_step()
            self.iteration += 1
            self.last["mbmpo/pre_update_stochastic_return"] = self.logging_return()
        if self.env_steps < until:
            return {}
        self.last.update({"mbmpo/iteration": float(self.iteration), "mbmpo/updates": float(self.updates)})
        self.last["policy/std"] = float(self.policy.log_std.detach().exp().mean())
        return dict(self.last)

    def fit_model(self) -> None:
        c = self.config
        data = self.buffer.all()
        fit = self.model.fit(
            torch.cat([data.obs, data.act], dim=-1),
            torch.cat([data.rew[:, None], data.next_obs - data.obs], dim=-1),
            c.model_batch_size,
            c.model_valid_split,
            c.model_max_epochs,
            c.model_persistence,
        )
        self.last.update({"model/train_loss": fit.train_loss, "model/val_loss": fit.val_loss})
        self.last["model/epochs"] = float(fit.epochs)

    def start_states(self) -> torch.Tensor:
        """``[tasks, rollouts, D]`` real initial states, from resets of the side env (seeded per draw)."""
        c = self.config
        n = c.meta_batch_size * c.rollouts_per_task
        seed = int(torch.randint(2**31 - 1, ()).item())
        obs = [self.side_env.reset(seed=seed + i)[0] for i in range(n)]
        return torch.as_tensor(np.asarray(obs, np.float32), device=self.device).view(
            c.meta_batch_size, -1, self.obs_dim
        )

    def rollouts(self, params: list[Params] | None) -> Trajectories:
        """Imagined trajectories of every task: the pre-update policy (``None``) or one policy per task."""
        c = self.config
        if params is None:

            def policy(obs: torch.Tensor) -> torch.Tensor:
                return self.policy.act(obs)

        else:
            batch = stacked(params)

            def policy(obs: torch.Tensor) -> torch.Tensor:
                mean, log_std = vmap(lambda p, o: functional_call(self.policy, p, (o,)))(batch, obs)
                return mean + torch.randn_like(mean) * log_std.exp()

        return model_rollouts(self.model, policy, self.start_states(), c.model_horizon, self.task.termination_fn)

    def meta_step(self) -> None:
        c = self.config
        theta = dict(self.policy.named_parameters())
        pre = self.rollouts(None)
        pre_adv = advantages(pre, self.baseline, c.gamma, c.gae_lambda, c.center_advantages)
        tasks = range(c.meta_batch_size)

        def inner(t: int, params: Params) -> torch.Tensor:
            return vpg_loss(self.policy.log_prob(pre.obs[t], pre.act[t], params), pre_adv[t], pre.valid[t])

        def adapted_all() -> list[Params]:
            if not c.meta_learning:
                return [theta] * c.meta_batch_size
            return [adapt(theta, lambda p, t=t: inner(t, p), c.inner_lr) for t in tasks]

        current = [{k: v.detach() for k, v in p.items()} for p in adapted_all()]
        post = self.rollouts(current) if c.meta_learning else pre
        post_adv = advantages(post, self.baseline, c.gamma, c.gae_lambda, c.center_advantages)
        with torch.no_grad():
            old = [self.policy.dist(post.obs[t], current[t]) for t in tasks]
            old_logp = [self.policy.log_prob(post.obs[t], post.act[t], current[t]) for t in tasks]

        def loss_fn() -> torch.Tensor:
            adapted = adapted_all()
            losses = [
                -masked_mean(
                    torch.exp(self.policy.log_prob(post.obs[t], post.act[t], adapted[t]) - old_logp[t]) * post_adv[t],
                    post.valid[t],
                )
                for t in tasks
            ]
            return torch.stack(losses).mean()

        def kl_fn() -> torch.Tensor:
            adapted = adapted_all()
            kls = [
                masked_mean(gaussian_kl(*old[t], *self.policy.dist(post.obs[t], adapted[t])), post.valid[t])
                for t in tasks
            ]
            return torch.stack(kls).mean()

        result = trpo_step(list(theta.values()), loss_fn, kl_fn, c.max_kl, c.cg_iters, c.cg_damping)
        self.updates += 1
        self.adapted = current if c.meta_learning else [{k: v.detach() for k, v in theta.items()}] * c.meta_batch_size
        self.last.update(
            {
                "mbmpo/imagined_return_pre": float(pre.returns().mean()),
                "mbmpo/imagined_return_post": float(post.returns().mean()),
                "mbmpo/kl": result.kl,
                "mbmpo/accepted": float(result.accepted),
            }
        )

    @torch.no_grad()
    def logging_return(self) -> float:
        """Return of one stochastic pre-update episode in the side env (not counted, not stored)."""
        obs, _ = self.side_env.reset(seed=self.seed * 1000 + self.iteration)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = self.side_env.step(self.act(obs, deterministic=False))
            total += float(reward)
            done = terminated or truncated
        return total

    def pop_train_return(self) -> float:
        return self.env.pop_train_return()

    # --------------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        return {
            "env_steps": self.env_steps,
            "iteration": self.iteration,
            "updates": self.updates,
            "policy": self.policy.state_dict(),
            "model": self.model.state_dict(),
            "model_opt": self.model.optimizer.state_dict(),
            "buffer": self.buffer.state_dict(),
            "env": self.env.state_dict(),
            "adapted": self.adapted,
            "last": dict(self.last),
            "rng": rng_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.env_steps, self.iteration, self.updates = state["env_steps"], state["iteration"], state["updates"]
        self.policy.load_state_dict(state["policy"])
        self.model.load_state_dict(state["model"])
        self.model.optimizer.load_state_dict(state["model_opt"])
        self.buffer.load_state_dict(state["buffer"])
        self.env.load_state_dict(state["env"])
        self.adapted = state["adapted"]
        self.last = dict(state["last"])
        set_rng_state(state["rng"])
