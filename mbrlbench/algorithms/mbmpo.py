"""MB-MPO: model-based RL via meta-policy optimization (Clavera, Rothfuss, Schulman, Fujita, Asfour, Abbeel,
CoRL 2018, arXiv 1809.05214); ``meta_learning: false`` is its ME-TRPO baseline.

Official code: jonasrothfuss/model_ensemble_meta_learning (TF1/rllab), run script
``experiments/run_scripts/mf_comparison/mb_mpo_train.py`` and ``sandbox/ours/algos/ModelMAML/``. Per iteration:
  1. real data: ``meta_batch_size`` envs, one per adapted policy, step together and restart their episodes
     until the completed episodes hold ``real_steps_per_iter`` samples (iteration 0: uniform-random actions,
     ``n_initial_random_steps``); unfinished episodes are discarded; the rest goes to a FIFO of 1e5;
  2. logging: the stochastic pre-update policy runs the same way (not counted, not stored): the paper's metric;
  3. the ensemble of ``num_models`` deterministic MLPs is refitted (kept, not reinitialized);
  4. ``meta_steps`` times: every task (``meta_batch_size`` tasks, assigned to the models in equal blocks)
     samples imagined paths with the pre-update policy in its model (``rollouts_per_task`` parallel slots
     per task, restarted after termination, until ``rollouts_per_task x model_horizon x meta_batch_size``
     completed samples); one vanilla policy-gradient step of size ``inner_lr`` adapts the policy to each task;
     the adapted policies sample again; a TRPO step (KL <= ``trpo_max_kl``) on the post-update surrogate,
     differentiated through the inner step (second-order MAML), updates the pre-update policy.
Rewards come from the model (it predicts the reward with the next state, as in MBPO); see docs/algorithms/mbmpo.md.
An iteration is atomic: ``train(until)`` finishes the iteration it is in, so it may overshoot ``until``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from pydantic import Field, model_validator
from torch.func import functional_call, vmap

from mbrlbench.algorithms.base import Algorithm, AlgorithmSpec, Deviation, Episode, Fidelity, space_dims
from mbrlbench.components.config import RllabPolicyGradientFields
from mbrlbench.components.data.buffers import ReplayBuffer
from mbrlbench.components.data.sampler import PATH_FIELDS, sample_real
from mbrlbench.components.data.trajectories import Trajectories, advantages, model_rollouts
from mbrlbench.components.models.ensemble import model_io
from mbrlbench.components.models.model_diagnostics import MODEL_KEYS, model_errors, nan_model_errors, obs_scale
from mbrlbench.components.models.mse_ensemble import DeterministicEnsemble
from mbrlbench.components.phases import phase
from mbrlbench.components.policies.policy_gradient import (
    GaussianMLPPolicy,
    LinearFeatureBaseline,
    Params,
    adapt,
    gaussian_kl,
    masked_mean,
    trpo_step,
    vpg_loss,
)
from mbrlbench.components.policies.saved_policy import PolicySpec
from mbrlbench.tasks import TaskSpec


class MBMPOConfig(RllabPolicyGradientFields):
    """MB-MPO hyperparameters; defaults are the official run script's [repo mb_mpo_train.py]."""

    meta_learning: bool = Field(True, description="MAML inner step; false = ME-TRPO (TRPO on imagined data).")
    meta_batch_size: int = Field(20, ge=1, description="Imagined tasks per meta-step, a multiple of num_models [repo].")
    num_models: int = Field(5, ge=1, description="Dynamics ensemble members [repo].")
    rollouts_per_task: int = Field(
        50,
        ge=1,
        description="Parallel imagined paths per task; x horizon x tasks = budget [repo batch_size_dynamics_samples].",
    )
    model_horizon: int = Field(200, ge=1, description="Imagined path length cap [repo path_length 200].")
    real_steps_per_iter: int = Field(
        4000, ge=1, description="Completed real samples per iteration [repo batch_size 1 x 200 x 20; n_timesteps]."
    )
    n_initial_random_steps: int = Field(5000, ge=0, description="Uniform-random real samples first [repo].")
    meta_steps: int = Field(30, ge=1, description="MAML meta-steps per iteration [repo num_maml_steps_per_iter].")
    inner_lr: float = Field(1e-3, ge=0, description="Inner policy-gradient step, fixed [repo fast_lr].")
    trpo_max_kl: float = Field(0.01, gt=0, description="TRPO trust region of the outer step [repo meta_step_size].")
    gae_lambda: float = Field(1.0, ge=0, le=1, description="GAE lambda [rllab default 1].")
    buffer_size: int = Field(100_000, ge=1, description="Real data FIFO for the models [repo 1e5].")
    model_hidden: int = Field(512, ge=1, description="Model width, ReLU [repo (512, 512)].")
    model_layers: int = Field(2, ge=1, description="Model depth [repo].")
    model_lr: float = Field(1e-3, gt=0, description="Model Adam lr [repo].")
    model_batch_size: int = Field(500, ge=1, description="Model minibatch [repo].")
    model_valid_split: float = Field(0.2, gt=0, lt=1, description="Per-member validation share [repo].")
    model_max_epochs: int = Field(500, ge=1, description="Model epochs cap per fit [repo].")
    model_persistence: float = Field(0.99, ge=0, lt=1, description="Rolling-average factor of early stop [repo].")
    model_obs_clip: float = Field(1000.0, gt=0, description="Imagined next obs clipped to +- this [repo clip_obs].")
    model_reward_clip: float = Field(
        1000.0, gt=0, description="Predicted rewards clipped to +- this [repo analytic rewards' clip]."
    )

    @model_validator(mode="after")
    def _check(self) -> MBMPOConfig:
        if self.meta_batch_size % self.num_models:
            raise ValueError(f"meta_batch_size ({self.meta_batch_size}) must be a multiple of num_models")
        return self


DEVIATIONS = (
    Deviation(
        "gymnasium v5 MuJoCo instead of the rllab envs (other time steps, rewards and observations): "
        "returns are not comparable with the paper's"
    ),
    Deviation(
        "the models predict the reward with the next state, clipped to +-1000 (official: analytic reward "
        "functions of rllab envs, clipped to +-1000)"
    ),
    Deviation("no weight normalization in the model MLPs"),
    Deviation(
        "outer TRPO step with exact Fisher-vector products (double backprop); official: float32 central "
        "finite differences with step 1/|theta|, which agree with them to about 0.3%"
    ),
    Deviation("every real transition is stored for the models (official drops the last transition of each path)"),
    Deviation(
        "{task} is not a horizon-200 task: the paper's setting is horizon 200", lambda t, c: not t.endswith("_h200")
    ),
    Deviation(
        "ME-TRPO here: MB-MPO's loop and sizes, one TRPO step per meta-step on 200k imagined samples, 4k real per "
        "iteration after 5k random, models <= 500 epochs, one member per path; official ME-TRPO: 50k imagined per "
        "step, 4k real, 4k random, <= 1000 epochs, a random member per step (both: no early stop of the TRPO steps)",
        lambda t, c: not c.meta_learning,
    ),
)


def stacked(params: list[Params]) -> Params:
    return {k: torch.stack([p[k] for p in params]) for k in params[0]}


def pooled_mean(values: list[torch.Tensor], valid: torch.Tensor) -> torch.Tensor:
    """Mean over the valid samples of all tasks together (``values[t]`` and ``valid[t]`` of task t), as
    the official ``reduce_mean(concat(...))``: tasks with more samples weigh more."""
    total = torch.stack([(v * m).sum() for v, m in zip(values, valid, strict=True)]).sum()
    return total / valid.sum().clamp_min(1)


class MBMPO(Algorithm):
    fidelity: ClassVar[Fidelity] = "official-code"
    uses_training_env: ClassVar[bool] = False  # meta_batch_size real envs, reset at every sampling
    checkpoint_attrs: ClassVar[tuple[str, ...]] = (
        "iteration",
        "updates",
        "stored_steps",
        "simulated_steps",
        "finished_returns",
        "policy",
        "model",
        "model.optimizer",
        "buffer",
        "adapted",
    )
    keys: ClassVar[tuple[str, ...]] = (
        "mbmpo/pre_update_return",
        "mbmpo/post_update_return",
        "mbmpo/imagined_return_pre",
        "mbmpo/imagined_return_post",
        "mbmpo/imagined_paths",
        "mbmpo/kl",
        "mbmpo/accepted",
        "mbmpo/iteration",
        "mbmpo/updates",
        "mbmpo/real_steps_stored",
        "mbmpo/real_steps_simulated",
        "policy/std",
        "model/train_loss",
        "model/val_loss",
        "model/epochs",
    )

    def __init__(self, config: MBMPOConfig, task: TaskSpec, device: torch.device, seed: int) -> None:
        super().__init__(config, task, device, seed)
        self.config: MBMPOConfig = config
        # one real env per adapted policy, reset at the start of every sampling: no env state between iterations
        self.envs: list[gym.Env] = [task.make_env() for _ in range(config.meta_batch_size)]
        self.side_env: gym.Env = task.make_env()  # resets for imagined start states
        self.obs_dim, self.act_dim = space_dims(self.side_env)
        self.policy = GaussianMLPPolicy(
            self.obs_dim, self.act_dim, config.policy_hidden, config.policy_layers, config.policy_init_std
        ).to(device)
        self.baseline = LinearFeatureBaseline(config.baseline_reg)
        self.model = DeterministicEnsemble(
            self.obs_dim,
            self.act_dim,
            config.num_models,
            config.model_hidden,
            config.model_layers,
            config.model_lr,
            config.model_obs_clip,
            config.model_reward_clip,
        ).to(device)
        self.buffer = ReplayBuffer(config.buffer_size, self.obs_dim, self.act_dim, device)
        self.iteration, self.updates = 0, 0
        self.stored_steps, self.simulated_steps = 0, 0
        self.finished_returns: list[float] = []
        self.adapted: list[Params] | None = None  # the adapted policies of the last meta-step (real data)

    @classmethod
    def diagnostic_keys_for(cls, config: MBMPOConfig) -> tuple[str, ...]:
        return cls.keys

    @classmethod
    def evaluation_keys_for(cls, config: MBMPOConfig) -> tuple[str, ...]:
        return MODEL_KEYS

    def evaluation_diagnostics(self, episodes: list[Episode]) -> dict[str, float]:
        """The ensemble on the evaluation episodes (NaN before the first iteration's fit): the mean over the
        members of their clipped predictions, k_rollout = ``model_horizon``."""
        if self.iteration == 0:
            return nan_model_errors()
        horizon, scale = self.config.model_horizon, obs_scale(self.model.obs_std)
        return model_errors(self.model.mean_step, episodes, horizon, scale)

    @classmethod
    def checkpoint_rows(cls, config: Any, env_steps: int) -> int:
        """The real-data FIFO: the completed samples stored (about the nominal env steps; the first
        iteration's completed episodes may hold more), capped at ``buffer_size``."""
        return min(config.buffer_size, env_steps)

    # ------------------------------------------------------------------------- acting
    def policy_action(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        return self.policy.act(obs, deterministic)

    def policy_spec(self) -> PolicySpec:
        """The Gaussian MLP policy (MB-MPO: the pre-update policy, whose parameters the meta step learns)."""
        return PolicySpec("gaussian_mlp", self.policy.init_kwargs, self.policy)

    def task_policy(self, params: list[Params] | None) -> Callable[[torch.Tensor], torch.Tensor]:
        """Stochastic actions for ``[tasks, k, D]``: the pre-update policy (``None``) or task t's ``params[t]``."""
        if params is None:
            return lambda obs: self.policy.act(obs)
        batch = stacked(params)

        def policy(obs: torch.Tensor) -> torch.Tensor:
            mean, log_std = vmap(lambda p, o: functional_call(self.policy, p, (o,)))(batch, obs)
            return mean + torch.randn_like(mean) * log_std.exp()

        return policy

    def real_act(self, params: list[Params] | None, random: bool = False) -> Callable[[np.ndarray], np.ndarray]:
        """``act`` for ``sample_real``: env i runs task ``i // (envs / tasks)``'s policy, or uniform actions."""
        space: Any = self.side_env.action_space  # a Box
        if random:
            rng = np.random.default_rng(self.draw_seed())
            return lambda obs: rng.uniform(space.low, space.high, (len(obs), self.act_dim)).astype(np.float32)
        policy = self.task_policy(params)

        @torch.no_grad()
        def act(obs: np.ndarray) -> np.ndarray:
            obs_t = torch.as_tensor(obs, device=self.device).view(self.config.meta_batch_size, -1, self.obs_dim)
            return policy(obs_t).reshape(len(obs), -1).cpu().numpy()

        return act

    @staticmethod
    def draw_seed() -> int:
        """A seed from the torch RNG (checkpointed), so a resumed run draws the same envs and actions."""
        return int(torch.randint(2**31 - 1, ()).item())

    @phase("env")
    def collect_real(self) -> None:
        """Step 1: uniform-random samples (iteration 0) or the adapted policies' samples, stored.

        ``env_steps`` grows by the official nominal count: ``n_timesteps += initial_random_samples`` then
        ``+= batch_size`` (``model_batch_maml_polopt.py:233, 253``), the paper's x axis. The completed
        samples stored are at least that (e.g. 8,000 random ones on halfcheetah_h200: 2 x 20 x 200);
        ``mbmpo/real_steps_stored`` and ``mbmpo/real_steps_simulated`` (with the discarded unfinished
        episodes) count what really ran."""
        c = self.config
        random = self.iteration == 0 and c.n_initial_random_steps > 0
        target = c.n_initial_random_steps if random else c.real_steps_per_iter
        paths, simulated = sample_real(self.envs, self.real_act(self.adapted, random), target, self.draw_seed())
        self.buffer.add(*(np.concatenate([p[k] for p in paths]) for k in PATH_FIELDS))
        returns = [float(p["rew"].sum()) for p in paths]
        self.env_steps += target
        self.stored_steps += sum(len(p["rew"]) for p in paths)
        self.simulated_steps += simulated
        self.finished_returns += returns
        self.diagnostics["mbmpo/post_update_return"] = float(np.mean(returns))

    @torch.no_grad()
    @phase("env")
    def logging_return(self) -> float:
        """The paper's metric, official ``PrePolicy-AverageReturn`` (``model_batch_maml_polopt.py:269-280``):
        the stochastic pre-update policy on the real envs until ``real_steps_per_iter`` completed samples,
        mean episode return; not counted, not stored. Measured before this iteration's model fit and
        meta-steps, as the official loop does, so the row at env step N shows the policy whose adapted
        versions collected the data up to N."""
        paths, _ = sample_real(self.envs, self.real_act(None), self.config.real_steps_per_iter, self.draw_seed())
        return float(np.mean([p["rew"].sum() for p in paths]))

    # ---------------------------------------------------------------------- training
    def _train(self, until: int) -> None:
        while self.running(until):
            self.collect_real()
            self.diagnostics["mbmpo/pre_update_return"] = self.logging_return()
            self.fit_model()
            for _ in range(self.config.meta_steps):
                self.meta_step()
            self.iteration += 1

    def pop_diagnostics(self) -> dict[str, float]:
        counts = {"iteration": self.iteration, "updates": self.updates, "real_steps_stored": self.stored_steps}
        self.diagnostics.update({f"mbmpo/{k}": float(v) for k, v in counts.items()})
        self.diagnostics["mbmpo/real_steps_simulated"] = float(self.simulated_steps)
        self.diagnostics["policy/std"] = float(self.policy.log_std.detach().exp().mean())
        return dict(self.diagnostics)

    @phase("model", fit=True)
    def fit_model(self) -> None:
        c = self.config
        fit = self.model.fit(
            *model_io(self.buffer.all()),
            c.model_batch_size,
            c.model_valid_split,
            c.model_max_epochs,
            c.model_persistence,
        )
        self.diagnostics.update({"model/train_loss": fit.train_loss, "model/val_loss": fit.val_loss})
        self.diagnostics["model/epochs"] = float(self.model.stop_epochs.float().mean())  # official AvgEpochsPerModel

    def reset_obs(self, k: int) -> torch.Tensor:
        """``[k, D]`` fresh initial states of the real env for imagined paths (``reset_from_env_traj=False``):
        one reset seeded from the torch RNG, then ``k - 1`` unseeded ones continuing that env's RNG (about
        60 us each on Hopper; a seeded reset costs 105 us)."""
        first = self.side_env.reset(seed=self.draw_seed())[0]
        obs = [first] + [self.side_env.reset()[0] for _ in range(k - 1)]
        return torch.as_tensor(np.asarray(obs, np.float32), device=self.device)

    @phase("rollouts")
    def rollouts(self, params: list[Params] | None) -> Trajectories:
        """Imagined paths of every task: the pre-update policy (``None``) or one policy per task, until
        ``meta_batch_size x rollouts_per_task x model_horizon`` completed samples (official 200k)."""
        c = self.config
        budget = c.meta_batch_size * c.rollouts_per_task * c.model_horizon
        shape = (c.meta_batch_size, c.rollouts_per_task)
        policy, done_fn = self.task_policy(params), self.task.termination_fn
        return model_rollouts(self.model, policy, self.reset_obs, shape, c.model_horizon, done_fn, budget)

    @phase("policy")
    def meta_step(self) -> None:
        c = self.config
        theta: Params = dict(self.policy.named_parameters())
        pre = self.rollouts(None)
        pre_adv = advantages(pre, self.baseline, c.gamma, c.gae_lambda, c.center_advantages, c.center_advantages)
        tasks = range(c.meta_batch_size)

        def inner(t: int, params: Params) -> torch.Tensor:
            return vpg_loss(self.policy.log_prob(pre.obs[t], pre.act[t], params), pre_adv[t], pre.valid[t])

        def adapted_all() -> list[Params]:
            if not c.meta_learning:
                return [theta] * c.meta_batch_size
            return [adapt(theta, functools.partial(inner, t), c.inner_lr) for t in tasks]

        current = [{k: v.detach() for k, v in p.items()} for p in adapted_all()]
        post = self.rollouts(current) if c.meta_learning else pre
        post_adv = advantages(post, self.baseline, c.gamma, c.gae_lambda, c.center_advantages, c.center_advantages)
        with torch.no_grad():
            old = [self.policy.dist(post.obs[t], current[t]) for t in tasks]
            old_logp = [self.policy.log_prob(post.obs[t], post.act[t], current[t]) for t in tasks]

        def loss_fn() -> torch.Tensor:
            """Mean over tasks of each task's importance-sampled surrogate (``model_maml_npo.py:136-140``)."""
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
            """Mean KL over all samples of all tasks (``model_maml_npo.py:147``: one mean over the concatenation)."""
            adapted = adapted_all()
            kls = [gaussian_kl(*old[t], *self.policy.dist(post.obs[t], adapted[t])) for t in tasks]
            return pooled_mean(kls, post.valid)

        result = trpo_step(list(theta.values()), loss_fn, kl_fn, c.trpo_max_kl, c.trpo_cg_iters, c.trpo_damping)
        self.updates += 1
        self.adapted = current if c.meta_learning else [{k: v.detach() for k, v in theta.items()}] * c.meta_batch_size
        self.diagnostics.update(
            {
                "mbmpo/imagined_return_pre": pre.mean_path_return(),
                "mbmpo/imagined_return_post": post.mean_path_return(),
                "mbmpo/imagined_paths": float((pre.valid * (1 - pre.continues())).sum()),
                "mbmpo/kl": result.kl,
                "mbmpo/accepted": float(result.accepted),
            }
        )

    def pop_train_return(self) -> float:
        """Mean return of the real (counted) episodes completed since the last call (NaN if none)."""
        value = float(np.mean(self.finished_returns)) if self.finished_returns else float("nan")
        self.finished_returns = []
        return value


SPEC = AlgorithmSpec(MBMPO, MBMPOConfig, DEVIATIONS)
