"""Algorithm registry: names, config models, per-task presets, paper budgets and named variants."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import torch

from mbrlbench.algorithms import mbmpo, mbpo, mg, mnm, sac, tom, trpo
from mbrlbench.algorithms.base import Algorithm, AlgorithmConfig, Deviation, render_deviations
from mbrlbench.tasks import TASK_BASE, TaskSpec


@dataclass(frozen=True)
class AlgorithmEntry:
    name: str
    cls: type[Algorithm]
    config_cls: type[AlgorithmConfig]
    presets: dict[str, dict[str, Any]]
    paper_env_steps: dict[str, int]
    deviation_list: tuple[Deviation, ...]
    source: str
    summary: str
    # The progress.csv column holding the return the paper reports; the report compares that one with the
    # paper's numbers (mbrlbench/report/load.py). Default: the runner's deterministic evaluation.
    paper_metric: str = "eval_return_mean"

    @classmethod
    def from_module(cls, name: str, module: ModuleType, **overrides: Any) -> AlgorithmEntry:
        """The entry an algorithm module describes: ``ALGORITHM``, ``CONFIG``, ``PRESETS``, ``PAPER_ENV_STEPS``,
        ``DEVIATIONS``, ``SOURCE``, ``SUMMARY`` and optionally ``PAPER_METRIC``; ``overrides`` replace any."""
        values: dict[str, Any] = {
            "name": name,
            "cls": getattr(module, "ALGORITHM", None),
            "config_cls": getattr(module, "CONFIG", None),
            "presets": getattr(module, "PRESETS", None),
            "paper_env_steps": getattr(module, "PAPER_ENV_STEPS", None),
            "deviation_list": tuple(getattr(module, "DEVIATIONS", ())),
            "source": getattr(module, "SOURCE", None),
            "summary": getattr(module, "SUMMARY", None),
            "paper_metric": getattr(module, "PAPER_METRIC", "eval_return_mean"),
            **overrides,
        }
        missing = [k for k, v in values.items() if v is None]
        if missing:
            raise TypeError(f"algorithm module {module.__name__} lacks {missing}")
        return cls(**values)

    def deviations(self, task: str, config: Any) -> list[str]:
        """How a run of ``task`` with ``config`` differs from the paper's or official setting."""
        return render_deviations(self.deviation_list, task, config)

    def checkpoint_rows(self, config: Any, env_steps: int) -> int:
        """Transitions the run's largest checkpoint holds in buffers (``runner/disk.py`` sizes it)."""
        return self.cls.checkpoint_rows(config, env_steps)


@dataclass(frozen=True)
class Variant:
    """A named algorithm with fixed overrides (e.g. ``tom_uniform``); runs under its own name."""

    name: str
    algorithm: str
    overrides: dict[str, Any] = field(default_factory=dict)
    summary: str = ""


ALGORITHMS: dict[str, AlgorithmEntry] = {
    entry.name: entry
    for entry in (
        AlgorithmEntry.from_module("mbpo", mbpo),
        # the MBPO paper's SAC curves run past MBPO's budgets: MBPO's, so both sides meet in one suite
        AlgorithmEntry.from_module("sac", sac, paper_env_steps=mbpo.PAPER_ENV_STEPS),
        AlgorithmEntry.from_module("mnm", mnm),
        AlgorithmEntry.from_module("tom", tom),
        AlgorithmEntry.from_module("mbmpo", mbmpo),
        AlgorithmEntry.from_module("trpo", trpo),
        AlgorithmEntry.from_module("mg", mg),
    )
}
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
    cls: Any = ALGORITHMS[algorithm].cls  # each class takes its own config type
    algo: Algorithm = cls(config, task, device, seed)
    return algo
