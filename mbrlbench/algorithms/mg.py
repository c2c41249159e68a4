"""MG: Model Gradient (Jia, Zhang, Xu, Pang, Zhang, Yu, Frontiers of Computer Science 18(4):184339, 2024;
doi 10.1007/s11704-023-3150-5).

Only the abstract was available to us: model learning and policy learning share one objective (the real
return), which makes the model's target "the policy gradient computed on model data is similar to the policy gradient
computed on real data"; the model's update is derived from that target and combined with an on-policy
policy-gradient method. Everything else is our interpretation, each choice a config field
(docs/algorithms/mg.md). The closest published relative is PAML (Abachi et al. 2020, arXiv 2003.00030),
whose model loss is the squared L2 distance between the two gradients (``model_loss="l2"``).

One iteration per ``batch_steps`` real env steps (collected one step at a time, so ``train(until)`` stops
exactly at ``until`` and a checkpoint may fall inside a batch):
  1. real data from the stochastic policy; GAE advantages with the value network;
  2. ``g_real`` = the gradient over the policy's parameters of the policy-gradient surrogate on real data;
  3. ``model_steps`` model steps, each: ``model_rollouts`` reparameterized rollouts of ``model_horizon``
     steps from real start states; ``g_model(phi)`` = the same gradient on them, kept differentiable in the
     model's parameters (``create_graph``); loss = 1 - cos(g_model, g_real) (or ||g_model - g_real||^2)
     + ``beta`` x the ensemble's NLL on real data. ``model_objective="mle"`` (variant ``mg_mle``) uses the
     NLL alone in the same loop;
  4. ``policy_rollouts`` fresh model rollouts with the updated model; PPO (or TRPO) on a
     ``model_data_ratio``-weighted mix of model and real data; the value network on real returns.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, model_validator
from torch import nn
from torch.func import functional_call

from mbrlbench.algorithms.base import Algorithm, AlgorithmSpec, Deviation, Episode, Fidelity
from mbrlbench.components.config import BaselinesPPOFields
from mbrlbench.components.data.trajectories import bootstrapped_advantages, imagine
from mbrlbench.components.mlp import mlp
from mbrlbench.components.models.dynamics import EnsembleConfigFields, StridedModelData, ensemble_from_config, model_io
from mbrlbench.components.models.model_diagnostics import MODEL_KEYS, model_errors, nan_model_errors, obs_scale
from mbrlbench.components.models.model_training import FixedSteps, NoStop, target_std, train_model
from mbrlbench.components.optim import adam
from mbrlbench.components.phases import phase
from mbrlbench.components.policies.policy_gradient import (
    GaussianMLPPolicy,
    Params,
    center_advantages,
    cosine,
    detached,
    flat_grad,
    gae_bootstrapped,
    gradient_distance,
    vpg_loss,
)
from mbrlbench.components.policies.ppo import (
    ValueFit,
    explained_variance,
    weighted_policy_update,
)
from mbrlbench.components.policies.saved_policy import PolicySpec
from mbrlbench.tasks import TaskSpec, action_bounds


class MGConfig(EnsembleConfigFields, BaselinesPPOFields):
    """MG hyperparameters. Tags: [paper-abs] the abstract; [ppo] openai/baselines ppo2 ``defaults.mujoco()``
    (Schulman et al. 2017); [mbpo] MBPO's ensemble; "ours" an uncertain choice of this implementation."""

    # The model objective.
    model_objective: Literal["mg", "mle"] = Field(
        "mg", description="mg: gradient matching + beta*NLL [paper-abs]; mle: NLL only (variant mg_mle, baseline)."
    )
    model_loss: Literal["cosine", "l2"] = Field(
        "cosine", description="Gradient distance: 1 - cos (ours, scale-free) or squared L2 (PAML's form)."
    )
    beta: float = Field(1.0, ge=0, description="Weight of the NLL on real data in the mg loss; ours.")
    model_steps: int = Field(
        100, ge=1, description="Model Adam steps per iteration, same for mg and mle (each with the NLL); ours."
    )
    matching_steps: int = Field(
        10, ge=0, description="The last matching_steps of them add the gradient-matching loss (mg only); ours."
    )
    mle_batch_size: int = Field(256, ge=1, description="Real rows per member per NLL term (bootstrap draws); ours.")
    model_rollouts: int = Field(256, ge=1, description="Model rollouts per g_model estimate; ours.")
    model_horizon: int = Field(10, ge=1, description="Steps of each model rollout for g_model; ours.")
    start_states: Literal["batch", "buffer"] = Field(
        "batch", description="Model rollouts start from this iteration's real states (on-policy) or all; ours."
    )
    grad_advantage: Literal["gae", "return"] = Field(
        "gae",
        description="Advantage inside g_real and g_model: GAE with the value baseline, or the discounted return "
        "(value used only to bootstrap at the horizon); ours.",
    )
    model_grad_clip: float | None = Field(
        10.0, gt=0, description="Clip of the model gradient's norm per step (second-order terms can spike); ours."
    )
    # The model: MBPO's probabilistic ensemble (EnsembleConfigFields), trained by gradient steps (not MBPO's
    # early-stopped fit).
    ensemble_size: int = Field(5, ge=1, description="Ensemble members; ours (MBPO: 7).")
    holdout_ratio: float = Field(0.1, ge=0, lt=1, description="Share of real transitions held out (striding); ours.")
    max_holdout: int = Field(5000, ge=1, description="Newest held-out transitions kept [mbpo bnn.py cap].")
    replay_size: int = Field(1_000_000, ge=1, description="Real transitions kept for the NLL (FIFO); ours.")
    # The policy update.
    backbone: Literal["ppo", "trpo"] = Field("ppo", description="Policy-gradient method [paper-abs: 'PG-based'].")
    policy_rollouts: int = Field(512, ge=0, description="Model rollouts for the policy update; ours.")
    policy_horizon: int | None = Field(None, ge=1, description="Their length; None = model_horizon; ours.")
    model_data_ratio: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Weight of the model-data loss in the policy update; 1 - it weighs the real data; ours.",
    )
    value_on_model_data: bool = Field(False, description="Also fit the value to model returns; ours (real only).")

    @model_validator(mode="after")
    def _check(self) -> MGConfig:
        if self.matching_steps > self.model_steps:
            raise ValueError(f"matching_steps ({self.matching_steps}) exceeds model_steps ({self.model_steps})")
        if self.model_data_ratio > 0 and self.policy_rollouts == 0:
            raise ValueError("model_data_ratio > 0 needs policy_rollouts > 0")
        return self


# How a run differs from the paper (whose settings are unknown beyond the abstract).
DEVIATIONS = (
    Deviation(
        "only the abstract was available to us: loss, backbone and settings are an interpretation "
        "(docs/algorithms/mg.md)"
    ),
    Deviation("env-step budget: MBPO's for the task (the MG paper's budgets are unknown)"),
    Deviation("gymnasium v5 env on MuJoCo 3.3"),
    Deviation("PPO without observation normalization and with a constant lr (baselines: VecNormalize, annealed lr)"),
    Deviation("InvertedPendulum is not in the paper (CPU check task)", lambda t, c: t == "inverted_pendulum"),
    Deviation(
        "model trained by maximum likelihood only (the paper's 'traditional MBRL' baseline)",
        lambda t, c: c.model_objective == "mle",
    ),
)


# ------------------------------------------------------------------------------------- the algorithm
class MG(Algorithm):
    fidelity: ClassVar[Fidelity] = "interpretation"
    keys: ClassVar[tuple[str, ...]] = (
        *("mg/grad_cosine_before", "mg/grad_cosine_after", "mg/grad_cosine_real_split", "mg/grad_norm_real"),
        *("mg/grad_norm_model", "mg/iterations", "model/loss", "model/nll", "model/val_loss", "model/fits"),
        *("rollout/survival", "policy/updates", "policy/kl", "policy/std", "policy/value_loss"),
        *("policy/entropy", "policy/explained_variance"),
    )
    counter_keys: ClassVar[tuple[str, ...]] = ("mg/iterations", "model/fits", "policy/updates")
    checkpoint_attrs: ClassVar[tuple[str, ...]] = (
        *("policy", "value", "policy_opt", "value_opt", "model", "model.optimizer"),
        *("model_data", "batch", "batch_count"),
    )

    def __init__(self, config: MGConfig, task: TaskSpec, device: torch.device, seed: int) -> None:
        super().__init__(config, task, device, seed)
        c = self.config = config
        self.low, self.high = action_bounds(self.env.env)
        self.termination_fn = task.termination_fn
        self.policy = GaussianMLPPolicy(self.obs_dim, self.act_dim, c.policy_hidden, c.policy_layers, c.policy_init_std)
        self.policy.to(device)
        self.value = mlp(self.obs_dim, c.value_hidden, c.value_layers, 1, nn.Tanh).to(device)
        self.policy_opt = adam(self.policy.parameters(), lr=c.policy_lr, eps=1e-5)
        self.value_opt = adam(self.value.parameters(), lr=c.value_lr, eps=1e-5)
        self.model = ensemble_from_config(c, self.obs_dim, self.act_dim).to(device)
        self.model_data = StridedModelData(
            c.replay_size, c.max_holdout, c.holdout_ratio, self.obs_dim, self.act_dim, device
        )
        n = c.batch_steps
        self.batch = {
            "obs": np.zeros((n, self.obs_dim), np.float32),
            "act": np.zeros((n, self.act_dim), np.float32),  # raw Gaussian sample (the env gets it clipped)
            "rew": np.zeros(n, np.float32),
            "next_obs": np.zeros((n, self.obs_dim), np.float32),
            "terminated": np.zeros(n, np.float32),
            "ended": np.zeros(n, np.float32),  # terminated or truncated: the next row is a new episode
        }
        self.batch_count = 0

    def prepare_load(self, state: dict[str, Any]) -> None:
        if "terminal" in state["batch"]:  # checkpoints written before the column was named ``terminated``
            state["batch"]["terminated"] = state["batch"].pop("terminal")

    @classmethod
    def checkpoint_rows(cls, config: Any, env_steps: int) -> int:
        """The NLL pool and the holdout (split by stride) plus the real batch being collected."""
        held = int(env_steps * config.holdout_ratio) + 1
        return min(config.replay_size, env_steps) + min(config.max_holdout, held) + config.batch_steps

    @classmethod
    def diagnostic_keys_for(cls, config: MGConfig) -> tuple[str, ...]:
        return (*cls.keys, *(["policy/clip_frac", "policy/approx_kl"] if config.backbone == "ppo" else []))

    @classmethod
    def evaluation_keys_for(cls, config: MGConfig) -> tuple[str, ...]:
        return MODEL_KEYS

    def evaluation_diagnostics(self, episodes: list[Episode]) -> dict[str, float]:
        """The ensemble (mean of the elites' means) on the evaluation episodes, NaN before its first update;
        k_rollout = ``model_horizon``."""
        if self.diagnostics["model/fits"] == 0:
            return nan_model_errors()
        horizon, scale = self.config.model_horizon, obs_scale(self.model.obs_std)
        return model_errors(self.model.mean_step, episodes, horizon, scale)

    # ------------------------------------------------------------------ acting
    def policy_action(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        return self.policy.act(obs, deterministic).clamp(self.low, self.high)

    def policy_spec(self) -> PolicySpec:
        return PolicySpec("gaussian_mlp", self.policy.init_kwargs, self.policy, clamp=(self.low, self.high))

    def value_fn(self, obs: torch.Tensor, params: Params | None = None) -> torch.Tensor:
        if params is None:
            return self.value(obs).squeeze(-1)
        return functional_call(self.value, params, (obs,)).squeeze(-1)

    @phase("env")
    def env_step(self) -> None:
        obs_t = torch.as_tensor(self.env.obs, dtype=torch.float32, device=self.device)[None]
        raw = self.policy.act(obs_t, deterministic=False)[0]
        obs, next_obs, reward, terminated, ended = self.env.step(raw.clamp(self.low, self.high).cpu().numpy())
        i, b = self.batch_count, self.batch
        b["obs"][i], b["act"][i], b["rew"][i], b["next_obs"][i] = obs, raw.cpu().numpy(), reward, next_obs
        b["terminated"][i], b["ended"][i] = terminated, float(ended)
        self.batch_count += 1
        self.env_steps += 1

    # ------------------------------------------------------------------ training
    def _train(self, until: int) -> None:
        while self.running(until):
            self.env_step()
            if self.batch_count == self.config.batch_steps:
                self.iteration()
                self.batch_count = 0

    def real_batch(self) -> dict[str, torch.Tensor]:
        """This iteration's real data as tensors, with GAE advantages and returns (flat stream, bootstrapped
        at time limits and at the batch end)."""
        c = self.config
        t = {k: torch.as_tensor(v, device=self.device) for k, v in self.batch.items()}
        cont = 1.0 - t["ended"]
        cont[-1] = 0.0
        with torch.no_grad():
            value, next_value = self.value_fn(t["obs"]), self.value_fn(t["next_obs"])
            gae = gae_bootstrapped(t["rew"], value, next_value, t["terminated"], cont, c.gamma, c.gae_lambda)
            full = gae_bootstrapped(t["rew"], value, next_value, t["terminated"], cont, c.gamma, 1.0)
        t["adv"], t["returns"] = gae, gae + value
        t["grad_adv"] = gae if c.grad_advantage == "gae" else full + value
        t["valid"] = torch.ones_like(t["rew"])
        return t

    def policy_grad(
        self, obs: torch.Tensor, act: torch.Tensor, adv: torch.Tensor, valid: torch.Tensor, create_graph: bool = False
    ) -> torch.Tensor:
        """The gradient of the surrogate ``-E[log pi(a|s) A]`` (PPO's and TRPO's at the current parameters,
        where the ratio is 1) over the policy's parameters, as one flat vector."""
        if self.config.normalize_advantages:
            adv = center_advantages(adv, valid, scale=True)
        loss = vpg_loss(self.policy.log_prob(obs, act), adv, valid)
        return flat_grad(loss, list(self.policy.parameters()), create_graph)

    def model_grad(self, start: torch.Tensor, create_graph: bool) -> torch.Tensor:
        """g_model: the policy gradient on reparameterized model rollouts from ``start``; with ``create_graph``
        a differentiable function of the model's parameters."""
        c = self.config
        traj = imagine(
            self.model.rsample, self.policy, start, c.model_horizon, self.termination_fn, self.low, self.high
        )
        frozen_value = detached(dict(self.value.named_parameters()))
        adv, _ = bootstrapped_advantages(
            traj, lambda o: self.value_fn(o, frozen_value), c.gamma, c.gae_lambda, c.grad_advantage
        )
        return self.policy_grad(traj.obs, traj.act, adv, traj.valid, create_graph)

    def starts(self, real: dict[str, torch.Tensor], n: int) -> torch.Tensor:
        if self.config.start_states == "batch":
            return real["obs"][torch.randint(real["obs"].shape[0], (n,), device=self.device)]
        return self.model_data.train.sample(n).obs

    def iteration(self) -> None:
        real = self.real_batch()
        act = real["act"].clamp(self.low, self.high)  # what the env received
        self.model_data.add(real["obs"], act, real["rew"], real["next_obs"], real["terminated"])
        # g_real, and the split-half check of how noisy that target is.
        g_real = self.policy_grad(real["obs"], real["act"], real["grad_adv"], real["valid"])
        half = real["obs"].shape[0] // 2
        g_a, g_b = (
            self.policy_grad(real["obs"][s], real["act"][s], real["grad_adv"][s], real["valid"][s])
            for s in (slice(0, half), slice(half, None))
        )
        diag = {
            "mg/grad_norm_real": float(g_real.norm()),
            "mg/grad_cosine_real_split": float(cosine(g_a, g_b)),
        }
        diag.update(self.model_update(real, g_real))
        diag.update(self.policy_update(real))
        self.diagnostics.update(diag)
        self.diagnostics["mg/iterations"] += 1

    # ------------------------------------------------------------------ the model
    @phase("model", fit=True)
    def model_update(self, real: dict[str, torch.Tensor], g_real: torch.Tensor) -> dict[str, float]:
        c = self.config
        data = self.model_data.train.all()
        self.model.normalizer.fit(torch.cat([data.obs, data.act], dim=-1))
        out: dict[str, float] = {}
        first_mg = c.model_steps - c.matching_steps  # NLL-only steps first, then the gradient-matching steps

        def objective(step: torch.Tensor | int, _: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
            nll = self.model.bootstrap_nll(self.model_data.train, c.mle_batch_size)
            loss = nll
            if c.model_objective == "mg" and step >= first_mg:
                g_model = self.model_grad(self.starts(real, c.model_rollouts), create_graph=True)
                loss = gradient_distance(g_model, g_real, c.model_loss) + c.beta * nll
            elif step == first_mg:  # mle: the same diagnostic at the same point, first order only
                g_model = self.model_grad(self.starts(real, c.model_rollouts), create_graph=False)
            if step == first_mg:
                out["mg/grad_cosine_before"] = float(cosine(g_model.detach(), g_real))
                out["mg/grad_norm_model"] = float(g_model.detach().norm())
            return loss, torch.stack([loss.detach(), nll.detach()])

        # a fixed number of steps, no holdout stop: MG's update is gradient matching, not a fit to convergence
        trained = train_model(
            objective, self.model.optimizer, FixedSteps(c.model_steps), NoStop(), 1, c.model_grad_clip
        )
        loss_sum, nll_sum = trained.logged_sum.unbind()
        self.model.optimizer.zero_grad(set_to_none=True)
        if first_mg == c.model_steps:  # no matching steps: "before" = after the NLL steps
            g_model = self.model_grad(self.starts(real, c.model_rollouts), create_graph=False)
            out["mg/grad_cosine_before"] = float(cosine(g_model, g_real))
            out["mg/grad_norm_model"] = float(g_model.norm())
        g_after = self.model_grad(self.starts(real, c.model_rollouts), create_graph=False)
        out["mg/grad_cosine_after"] = float(cosine(g_after, g_real))
        hold_x, hold_y = model_io(self.model_data.holdout.all())
        self.model.refresh_elites(hold_x, hold_y)
        all_targets = torch.cat([model_io(data)[1], hold_y])
        out["model/val_loss"] = self.model.validation_mse(hold_x, hold_y, target_std(all_targets))
        out["model/loss"] = float(loss_sum) / c.model_steps
        out["model/nll"] = float(nll_sum) / c.model_steps / c.ensemble_size
        out["model/fits"] = self.diagnostics["model/fits"] + 1
        return out

    # ------------------------------------------------------------------ the policy
    def model_batch(self, real: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Fresh rollouts of the updated model for the policy update, flattened to their valid steps."""
        c = self.config
        with torch.no_grad():
            start = self.starts(real, c.policy_rollouts)
            traj = imagine(
                self.model.rsample,
                self.policy,
                start,
                c.policy_horizon or c.model_horizon,
                self.termination_fn,
                self.low,
                self.high,
            )
            adv, returns = bootstrapped_advantages(traj, self.value_fn, c.gamma, c.gae_lambda, "gae")
            assert traj.terminated is not None
            valid = traj.valid > 0
            self.diagnostics["rollout/survival"] = float((traj.valid[:, -1] * (1 - traj.terminated[:, -1])).mean())
            return {
                "obs": traj.obs[valid],
                "act": traj.act[valid],
                "adv": adv[valid],
                "returns": returns[valid],
            }

    @phase("policy")
    def policy_update(self, real: dict[str, torch.Tensor]) -> dict[str, float]:
        """PPO (or TRPO) on real data and fresh model rollouts, weighted ``1 - model_data_ratio`` and
        ``model_data_ratio``; the value network on real returns (and model returns with value_on_model_data)."""
        c = self.config
        w = c.model_data_ratio
        sources: list[tuple[float, dict[str, torch.Tensor]]] = []
        if w < 1:
            sources.append((1.0 - w, {k: real[k] for k in ("obs", "act", "adv", "returns")}))
        if w > 0:
            sources.append((w, self.model_batch(real)))
        model_src = [sources[-1][1]] if w > 0 and c.value_on_model_data else []
        value_sources = [(s["obs"], s["returns"]) for s in ({k: real[k] for k in ("obs", "returns")}, *model_src)]
        value = ValueFit(self.value_fn, self.value, self.value_opt, value_sources)
        out, updates = weighted_policy_update(self.policy, self.policy_opt, sources, value, c, c.backbone)
        with torch.no_grad():
            out["policy/explained_variance"] = explained_variance(self.value_fn(real["obs"]), real["returns"])
        out["policy/updates"] = self.diagnostics["policy/updates"] + updates
        return out


SPEC = AlgorithmSpec(MG, MGConfig, DEVIATIONS)
