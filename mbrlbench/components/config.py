"""The base of every algorithm's hyperparameters, and the field groups several algorithms share."""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Settings renamed so that one idea has one spelling across algorithms (issue 30): old suite keys still work,
# with a deprecation line.
RENAMED: dict[str, str] = {
    "ppo_lr": "policy_lr",
    "ppo_minibatch": "ppo_minibatch_size",
    "max_kl": "trpo_max_kl",
    "cg_iters": "trpo_cg_iters",
    "cg_damping": "trpo_damping",
    "init_std": "policy_init_std",
}


class RenamedSetting(FutureWarning):
    """An old spelling of a setting was used; the CLI prints it as one "deprecated:" line."""


class AlgorithmConfig(BaseModel):
    """Base of every algorithm's hyperparameters: unknown keys are errors, every field has a doc."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    renamed: ClassVar[dict[str, str]] = RENAMED

    @model_validator(mode="before")
    @classmethod
    def _old_spellings(cls, data: Any) -> Any:
        """An old key of a renamed setting becomes the new one (if this config has it), with a warning."""
        if not isinstance(data, dict):
            return data
        for old, new in cls.renamed.items():
            if old in data and new in cls.model_fields and old not in cls.model_fields:
                if new in data:
                    raise ValueError(f"{old} is the old name of {new}: give one of them")
                data = {k: v for k, v in data.items() if k != old} | {new: data[old]}
                warnings.warn(f"{old} is now called {new}; the old name will be removed", RenamedSetting, stacklevel=2)
        return data


class PolicyGradientFields(AlgorithmConfig):
    """The on-policy learners' discount and Gaussian MLP policy (TRPO/PPO, MB-MPO, MG; MG widens the policy)."""

    gamma: float = Field(0.99, gt=0, le=1, description="Discount [MB-MPO repo discount; ppo].")
    policy_hidden: int = Field(32, ge=1, description="Policy MLP width, tanh [MB-MPO repo hidden_sizes (32, 32)].")
    policy_layers: int = Field(2, ge=1, description="Policy MLP depth [MB-MPO repo; ppo].")


class RllabPolicyGradientFields(PolicyGradientFields):
    """rllab's advantage standardization, initial std, linear baseline and TRPO solver (TRPO/PPO and MB-MPO)."""

    center_advantages: bool = Field(
        True, description="Standardize advantages (per task), (A - mean) / (std + 1e-8) [rllab center_adv]."
    )
    policy_init_std: float = Field(1.0, gt=0, description="Initial policy std [rllab GaussianMLPPolicy].")
    baseline_reg: float = Field(1e-5, gt=0, description="Ridge of the linear feature baseline [rllab].")
    trpo_cg_iters: int = Field(
        10, ge=1, description="Conjugate-gradient iterations [rllab ConjugateGradientOptimizer]."
    )
    trpo_damping: float = Field(1e-5, ge=0, description="Fisher damping [rllab reg_coeff].")


class BaselinesPPOFields(PolicyGradientFields):
    """openai/baselines' PPO2 ``defaults.mujoco()`` (Schulman et al. 2017) and trpo_mpi solver settings, tagged
    [ppo] / [baselines trpo_mpi]: MG's policy-gradient backbone (a 64x64 tanh policy and value network)."""

    normalize_advantages: bool = Field(
        True, description="Center and scale advantages per data source (g's and policy update) [ppo]."
    )
    batch_steps: int = Field(2048, ge=2, description="Real env steps per iteration [ppo nsteps].")
    gae_lambda: float = Field(0.95, ge=0, le=1, description="GAE lambda [ppo].")
    policy_hidden: int = Field(64, ge=1, description="Policy units per tanh hidden layer [ppo mlp 64x64].")
    policy_init_std: float = Field(1.0, gt=0, description="Initial action std (log-std 0) [ppo].")
    value_hidden: int = Field(64, ge=1, description="Value-network units per tanh layer [ppo value_network='copy'].")
    value_layers: int = Field(2, ge=1, description="Value-network hidden layers [ppo].")
    value_lr: float = Field(3e-4, gt=0, description="Value Adam lr [ppo lr].")
    policy_lr: float = Field(3e-4, gt=0, description="PPO Adam lr, constant (baselines anneals it) [ppo].")
    ppo_epochs: int = Field(10, ge=1, description="Epochs per iteration (policy and value) [ppo noptepochs].")
    ppo_minibatches: int = Field(32, ge=1, description="Minibatches per epoch [ppo nminibatches].")
    ppo_clip: float = Field(0.2, gt=0, description="Clip range [ppo cliprange].")
    max_grad_norm: float = Field(0.5, gt=0, description="Gradient-norm clip of policy and value steps [ppo].")
    trpo_max_kl: float = Field(0.01, gt=0, description="TRPO trust region [baselines trpo_mpi max_kl].")
    trpo_cg_iters: int = Field(10, ge=1, description="Conjugate-gradient iterations [baselines trpo_mpi].")
    trpo_damping: float = Field(0.1, ge=0, description="Fisher damping [baselines trpo_mpi cg_damping].")
