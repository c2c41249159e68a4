"""The base of every algorithm's hyperparameters, and the field groups several algorithms share."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AlgorithmConfig(BaseModel):
    """Base of every algorithm's hyperparameters: unknown keys are errors, every field has a doc."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


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
    cg_iters: int = Field(10, ge=1, description="Conjugate-gradient iterations [rllab ConjugateGradientOptimizer].")
    cg_damping: float = Field(1e-5, ge=0, description="Fisher damping [rllab reg_coeff].")
