"""Checking a suite's names against the registries: tasks (inline ones made and their termination function
tried), algorithms (variants, entry points, import paths), seeds, and what ``exclude``/``overrides`` refer to."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
from pydantic import ValidationError

from mbrlbench.algorithms.registry import ALGORITHMS, VARIANTS, resolve
from mbrlbench.suite.messages import config_error
from mbrlbench.suite.schema import ALLOWED_HINTS, MAX_SEEDS, NAME_PATTERN, CustomTask, SuiteError, SuiteFile
from mbrlbench.support.plugins import PluginError, add_search_path, import_module, is_import_path, registered
from mbrlbench.support.safe_yaml import KeyPath
from mbrlbench.tasks import TASKS, TERMINATION_FNS, TaskSpec, termination_disagreement


def resolve_tasks(sf: SuiteFile, folder: Path) -> dict[str, TaskSpec]:
    tasks: dict[str, TaskSpec] = {}
    for i, entry in enumerate(sf.tasks):
        if isinstance(entry, str):
            if entry not in TASKS:
                raise SuiteError(f"unknown task {entry!r}; allowed: {', '.join(TASKS)} or an inline task", ("tasks", i))
            spec = TASKS[entry]
        else:
            spec = _custom_task(entry, ("tasks", i), folder)
        if spec.name in tasks:
            raise SuiteError(f"task {spec.name!r} listed twice", ("tasks", i))
        tasks[spec.name] = spec
    return tasks


def _custom_task(entry: CustomTask, at: KeyPath, folder: Path) -> TaskSpec:
    """An inline task; a termination function by import path is tried on real transitions right away, since
    a wrong one silently corrupts every model rollout."""
    _check_env_id(entry.env_id, (*at, "env_id"), folder)
    imported = entry.termination not in TERMINATION_FNS
    if imported and not is_import_path(entry.termination):
        hint = ALLOWED_HINTS["termination"]
        raise SuiteError(f"invalid value {entry.termination!r}; allowed: {hint}", (*at, "termination"))
    spec = TaskSpec(entry.name, entry.env_id, entry.env_kwargs, entry.termination, entry.max_episode_steps)
    try:
        spec.make_env().close()
    except Exception as err:  # MuJoCo's constructors raise TypeError, ValueError, ... on bad kwargs
        raise SuiteError(
            f"{entry.env_id} cannot be made with these ({type(err).__name__}: {err})", (*at, "env_kwargs")
        ) from None
    if imported:
        add_search_path(folder)
    try:  # a built-in name on a custom task too: hopper's function on another env corrupts every rollout
        problem = termination_disagreement(spec)
    except PluginError as err:
        problem = str(err)
    if problem:
        raise SuiteError(f"task {spec.name!r}: {problem}", (*at, "termination"))
    return spec


def _check_env_id(env_id: str, at: KeyPath, folder: Path) -> None:
    """A registered id, or gymnasium's ``module:EnvName-v0`` (the module registers the env when imported)."""
    module, sep, name = env_id.rpartition(":")
    if sep:
        add_search_path(folder)
        try:
            import_module(module)
        except PluginError as err:
            raise SuiteError(str(err), at) from None
    if name not in gym.registry:
        raise SuiteError(f"{env_id!r} is not a registered gymnasium env id", at)


@dataclass(frozen=True)
class Algo:
    """A run name's algorithm: registry key, the variant's overrides, the suite entry it came from (a sweep's
    points share their entry's overrides and exclusions) and the sweep point's values (applied last)."""

    base: str
    layer: dict[str, Any]
    source: str
    sweep: dict[str, Any] = field(default_factory=dict)
    env_steps: int | None = None  # the entry's own budget, over the suite's


def _lookup(name: str, at: KeyPath, folder: Path, bare: bool) -> tuple[str, dict[str, Any]]:
    """Registry key and variant overrides of an algorithm, variant, entry point or import path."""
    if is_import_path(name):
        if bare:
            raise SuiteError(f"an import path needs a run name: {{name: NAME, algorithm: {name!r}}}", at)
        add_search_path(folder)
    elif bare and not re.fullmatch(NAME_PATTERN, name):
        raise SuiteError(f"{name!r} is not a folder-safe name (letters, digits, _ . -)", at)
    try:
        return resolve(name)
    except KeyError:
        known = [*ALGORITHMS, *VARIANTS, *registered()]
        raise SuiteError(
            f"unknown algorithm {name!r}; allowed: {', '.join(known)} or an import path module:Class", at
        ) from None
    except PluginError as err:
        raise SuiteError(f"plugin {name!r} cannot be used: {err}", at) from None


def resolve_algorithms(sf: SuiteFile, folder: Path) -> dict[str, Algo]:
    """Run name -> its algorithm, before sweeps are expanded."""
    algos: dict[str, Algo] = {}
    for i, entry in enumerate(sf.algorithms):
        budget: int | None = None
        if isinstance(entry, str):
            base, layer = _lookup(entry, ("algorithms", i), folder, bare=True)
            name = entry
        else:
            if entry.name in {*ALGORITHMS, *VARIANTS} and entry.name != entry.algorithm:
                raise SuiteError(
                    f"{entry.name!r} is a built-in algorithm's name; report and compare would judge "
                    f"{entry.algorithm} against {entry.name}'s papers and reference runs: give the entry another name",
                    ("algorithms", i, "name"),
                )
            base, layer = _lookup(entry.algorithm, ("algorithms", i, "algorithm"), folder, bare=False)
            name, layer, budget = entry.name, {**layer, **entry.overrides}, entry.env_steps
            try:
                ALGORITHMS[base].config_cls(**layer)
            except ValidationError as err:
                raise config_error(err, ("algorithms", i, "overrides"), ALGORITHMS[base].config_cls) from None
        if name in algos:
            raise SuiteError(f"algorithm {name!r} listed twice", ("algorithms", i))
        algos[name] = Algo(base, layer, name, env_steps=budget)
    return algos


def resolve_seeds(sf: SuiteFile) -> list[int]:
    count = sf.seeds if isinstance(sf.seeds, int) else len(sf.seeds)
    if not 1 <= count <= MAX_SEEDS:
        raise SuiteError(f"needs between 1 and {MAX_SEEDS:,} seeds", ("seeds",))
    seeds = list(range(sf.seeds)) if isinstance(sf.seeds, int) else list(sf.seeds)
    if len(set(seeds)) != len(seeds):
        raise SuiteError("needs a positive count or a list of distinct integers", ("seeds",))
    if not all(0 <= seed < 2**32 for seed in seeds):
        raise SuiteError("seeds must lie in 0 to 4,294,967,295 (numpy's and gymnasium's seed range)", ("seeds",))
    return seeds


def check_references(sf: SuiteFile, tasks: dict[str, TaskSpec], algos: dict[str, Algo]) -> None:
    """``exclude`` and ``overrides`` may only name this suite's tasks and algorithms (a swept entry's name
    covers its points)."""
    if isinstance(sf.env_steps, int) and sf.env_steps < 1:
        raise SuiteError("must be 'paper' or a positive integer", ("env_steps",))
    names = list(dict.fromkeys([*(a.source for a in algos.values()), *algos]))
    for i, ex in enumerate(sf.exclude):
        if ex.task is not None and ex.task not in tasks:
            raise SuiteError(f"not a task of this suite; allowed: {', '.join(tasks)}", ("exclude", i, "task"))
        if ex.algorithm is not None and ex.algorithm not in names:
            raise SuiteError(
                f"not an algorithm of this suite; allowed: {', '.join(names)}", ("exclude", i, "algorithm")
            )
    for algo_name, scopes in sf.overrides.items():
        if algo_name not in names:
            raise SuiteError(f"not an algorithm of this suite; allowed: {', '.join(names)}", ("overrides", algo_name))
        for scope in scopes:
            if scope != "all" and scope not in tasks:
                raise SuiteError(f"unknown scope; allowed: all, {', '.join(tasks)}", ("overrides", algo_name, scope))
