"""Expanding a checked suite into one ``RunSpec`` per run: each cell's config from its layers, its budget, its
exclusions."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mbrlbench.algorithms.base import AlgorithmConfig
from mbrlbench.algorithms.registry import ALGORITHMS, resolve_config
from mbrlbench.runner.spec import RunSpec
from mbrlbench.suite.messages import config_error
from mbrlbench.suite.resolve import Algo, check_references, resolve_algorithms, resolve_seeds, resolve_tasks
from mbrlbench.suite.schema import MAX_RUNS, SuiteError, SuiteFile
from mbrlbench.suite.sweeps import expand_sweeps
from mbrlbench.support.safe_yaml import KeyPath
from mbrlbench.tasks import TASK_BASE


def _cell_config(sf: SuiteFile, task_name: str, algo_name: str, algo: Algo) -> AlgorithmConfig:
    """Defaults <- paper preset <- variant <- ``all`` overrides <- this task's overrides <- the sweep point;
    an error names the scope that caused it."""
    entry = ALGORITHMS[algo.base]
    scopes = sf.overrides.get(algo_name, sf.overrides.get(algo.source, {}))
    at = algo_name if algo_name in sf.overrides else algo.source
    all_scope, task_scope = scopes.get("all", {}), scopes.get(task_name, {})
    stages: list[tuple[tuple[dict[str, Any], ...], KeyPath]] = [
        ((all_scope,), ("overrides", at, "all")),
        ((all_scope, task_scope), ("overrides", at, task_name)),
    ]
    if algo.sweep:
        stages.append(((all_scope, task_scope, algo.sweep), ("sweeps", algo.source)))
    config: AlgorithmConfig | None = None
    for layers, where in stages:
        try:
            config = resolve_config(algo.base, task_name, algo.layer, *layers)
        except ValidationError as err:
            raise config_error(err, where, entry.config_cls) from None
    assert config is not None
    return config


def _budget(sf: SuiteFile, task_name: str, algo_name: str, algo: Algo) -> int:
    if algo.env_steps is not None:
        return algo.env_steps
    base = algo.base
    if sf.env_steps != "paper":
        return sf.env_steps
    budget = ALGORITHMS[base].paper_env_steps.get(TASK_BASE.get(task_name, task_name))
    if budget is None:
        raise SuiteError(f"'paper' has no budget for {algo_name} on {task_name}; give an integer", ("env_steps",))
    return budget


def _excluded(sf: SuiteFile, task: str, algo_name: str, algo: Algo, seed: int) -> bool:
    return any(
        ex.task in (None, task) and ex.algorithm in (None, algo_name, algo.source) and ex.seed in (None, seed)
        for ex in sf.exclude
    )


def expand_runs(sf: SuiteFile, folder: Path) -> list[RunSpec]:
    """Every run of the suite, checked: tasks x algorithms (sweep points expanded) x seeds, less exclusions."""
    tasks, seeds = resolve_tasks(sf, folder), resolve_seeds(sf)
    algos = expand_sweeps(sf, resolve_algorithms(sf, folder))
    total = len(tasks) * len(algos) * len(seeds)
    if total > MAX_RUNS:
        raise SuiteError(
            f"expands to {total:,} runs ({len(tasks)} tasks x {len(algos)} algorithms and sweep points x "
            f"{len(seeds)} seeds), more than {MAX_RUNS:,}; split it into several suites"
        )
    check_references(sf, tasks, algos)
    runs: list[RunSpec] = []
    for (task_name, task), (algo_name, algo) in itertools.product(tasks.items(), algos.items()):
        config = _cell_config(sf, task_name, algo_name, algo)
        kept = [seed for seed in seeds if not _excluded(sf, task_name, algo_name, algo, seed)]
        if not kept:
            continue  # an excluded cell needs no budget
        budget = _budget(sf, task_name, algo_name, algo)
        entry = ALGORITHMS[algo.base]
        deviations = tuple(entry.deviations(task_name, config))
        for seed in kept:
            runs.append(
                RunSpec(
                    suite=sf.name,
                    task=task,
                    algorithm=algo.base,
                    variant=algo_name,
                    seed=seed,
                    env_steps=budget,
                    eval_every=sf.eval.every,
                    eval_episodes=sf.eval.episodes,
                    device=sf.device,
                    config=config,
                    fidelity=entry.fidelity,
                    deviations=deviations,
                    checkpoint_every=sf.checkpoint_every,
                    checkpoint_minutes=sf.checkpoint_minutes,
                    tensorboard=sf.tensorboard,
                )
            )
    return runs
