"""Algorithm registry: names, config models, per-task presets, paper budgets and named variants."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from mbrlbench.algorithms import mbmpo, mbpo, mg, mnm, sac, tom, trpo
from mbrlbench.algorithms.base import Algorithm, AlgorithmConfig
from mbrlbench.tasks import TASK_BASE, TaskSpec


@dataclass(frozen=True)
class AlgorithmEntry:
    name: str
    cls: type[Algorithm]
    config_cls: type[AlgorithmConfig]
    presets: dict[str, dict[str, Any]]
    paper_env_steps: dict[str, int]
    deviations: Callable[[str, Any], list[str]]
    source: str
    summary: str
    # The progress.csv column holding the return the paper reports; the report compares that one with the
    # paper's numbers (mbrlbench/report/load.py). Default: the runner's deterministic evaluation.
    paper_metric: str = "eval_return_mean"


@dataclass(frozen=True)
class Variant:
    """A named algorithm with fixed overrides (e.g. ``tom_uniform``); runs under its own name."""

    name: str
    algorithm: str
    overrides: dict[str, Any] = field(default_factory=dict)
    summary: str = ""


ALGORITHMS: dict[str, AlgorithmEntry] = {
    "mbpo": AlgorithmEntry(
        "mbpo",
        mbpo.MBPO,
        mbpo.MBPOConfig,
        mbpo.PRESETS,
        mbpo.PAPER_ENV_STEPS,
        mbpo.deviations,
        mbpo.SOURCE,
        "Model-Based Policy Optimization (Janner et al. 2019)",
    ),
    "sac": AlgorithmEntry(
        "sac",
        sac.SAC,
        sac.SACConfig,
        sac.PRESETS,
        sac.PAPER_ENV_STEPS,
        sac.deviations,
        sac.SOURCE,
        "Soft actor-critic, model-free baseline of the MBPO paper",
    ),
    "mnm": AlgorithmEntry(
        "mnm",
        mnm.MnM,
        mnm.MnMConfig,
        mnm.PRESETS,
        mnm.PAPER_ENV_STEPS,
        mnm.deviations,
        mnm.SOURCE,
        "Mismatched No More: classifier-augmented reward and model value step on MBPO (Eysenbach et al. 2022)",
    ),
    "tom": AlgorithmEntry(
        "tom",
        tom.TOM,
        tom.TOMConfig,
        tom.PRESETS,
        tom.PAPER_ENV_STEPS,
        tom.deviations,
        tom.SOURCE,
        "Transition occupancy matching: MBPO with a policy-weighted model fit (Ma et al. 2023)",
    ),
}
ALGORITHMS["mbmpo"] = AlgorithmEntry(
    "mbmpo",
    mbmpo.MBMPO,
    mbmpo.MBMPOConfig,
    mbmpo.PRESETS,
    mbmpo.PAPER_ENV_STEPS,
    mbmpo.deviations,
    mbmpo.SOURCE,
    "Model-based meta-policy optimization: TRPO through a MAML step over a model ensemble (Clavera et al. 2018)",
    mbmpo.PAPER_METRIC,  # the paper plots PrePolicy-AverageReturn, the stochastic pre-update policy
)
ALGORITHMS["trpo"] = AlgorithmEntry(
    "trpo",
    trpo.OnPolicyPG,
    trpo.TRPOConfig,
    trpo.PRESETS,
    trpo.PAPER_ENV_STEPS,
    trpo.deviations,
    trpo.SOURCE,
    "Model-free TRPO with MB-MPO's policy class (the MB-MPO paper's baseline)",
    "train_return",  # rllab's AverageReturn: the stochastic policy's episodes of each iteration, as MB-MPO's
)
ALGORITHMS["mg"] = AlgorithmEntry(
    "mg",
    mg.MG,
    mg.MGConfig,
    mg.PRESETS,
    mg.PAPER_ENV_STEPS,
    mg.deviations,
    mg.SOURCE,
    "Model Gradient: model trained to match real policy gradients, PPO/TRPO backbone (Jia et al. 2024)",
)
VARIANTS: dict[str, Variant] = {
    "me_trpo": Variant(
        "me_trpo",
        "mbmpo",
        {"meta_learning": False},
        "ME-TRPO (Kurutach et al. 2018): the same ensemble and loop, TRPO on imagined data, no meta step",
    ),
    "ppo": Variant("ppo", "trpo", {"optimizer": "ppo"}, "Model-free PPO with MB-MPO's policy class"),
    "mg_mle": Variant(
        "mg_mle",
        "mg",
        {"model_objective": "mle"},
        "MG's baseline: the same loop and PPO backbone with a maximum-likelihood model (paper: 'traditional MBRL')",
    ),
    "tom_uniform": Variant(
        "tom_uniform",
        "tom",
        {"weighting": "uniform"},
        "TOM's MBPO baseline: the same model, schedule and rollouts with uniform weights [repo --method mbpo]",
    ),
}


def resolve(name: str) -> tuple[str, dict[str, Any]]:
    """Algorithm or registered variant name -> (base algorithm, the variant's overrides)."""
    if name in ALGORITHMS:
        return name, {}
    variant = VARIANTS[name]
    return variant.algorithm, dict(variant.overrides)


def resolve_config(algorithm: str, task: str, *layers: dict[str, Any]) -> AlgorithmConfig:
    """Defaults <- the paper's per-task preset <- each override layer in order."""
    entry = ALGORITHMS[algorithm]
    values: dict[str, Any] = dict(entry.presets.get(TASK_BASE.get(task, task), {}))
    for layer in layers:
        values.update(layer)
    return entry.config_cls(**values)


def build(algorithm: str, config: AlgorithmConfig, task: TaskSpec, device: torch.device, seed: int) -> Algorithm:
    return ALGORITHMS[algorithm].cls(config, task, device, seed)
