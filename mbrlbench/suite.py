"""Suite files: schema (pydantic, unknown keys forbidden), YAML loading with line numbers in errors,
semantic checks against the registries, and expansion into one ``RunSpec`` per run."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mbrlbench.algorithms import ALGORITHMS, VARIANTS, resolve, resolve_config
from mbrlbench.algorithms.base import AlgorithmConfig
from mbrlbench.rundir import RunKey
from mbrlbench.tasks import TASK_BASE, TASKS, TERMINATION_FNS, TaskSpec

KeyPath = tuple[str | int, ...]
"""Where a value sits in the suite's YAML data, e.g. ``("overrides", "mbpo", "all")``."""


class SuiteError(Exception):
    """A bad suite: ``path`` locates the key; ``str()`` is the one-line message for the user."""

    def __init__(self, message: str, path: KeyPath = (), file: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.message, self.path, self.file, self.line = message, path, file, line

    def __str__(self) -> str:
        where = self.file or "<suite>"
        if self.line is not None:
            where += f":{self.line}"
        key = ".".join(str(p) for p in self.path)
        return f"{where}: {key + ': ' if key else ''}{self.message}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EvalSettings(_Strict):
    every: int = Field(1000, ge=1, description="Env steps between evaluations.")
    episodes: int = Field(10, ge=1, description="Deterministic episodes per evaluation, run in lockstep.")


class CustomTask(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    env_id: str
    env_kwargs: dict[str, Any] = Field(default_factory=dict)
    termination: Literal[tuple(TERMINATION_FNS)] = "never"  # type: ignore[valid-type]
    max_episode_steps: int | None = Field(None, ge=1)


class VariantEntry(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    algorithm: str
    overrides: dict[str, Any] = Field(default_factory=dict)


class Exclusion(_Strict):
    task: str | None = None
    algorithm: str | None = None
    seed: int | None = None


class SuiteFile(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="Results go to <out>/<name>/.")
    tasks: list[str | CustomTask] = Field(min_length=1)
    algorithms: list[str | VariantEntry] = Field(min_length=1)
    seeds: int | list[int] = Field(1, description="n -> seeds 0..n-1, or an explicit list.")
    env_steps: Literal["paper"] | int = "paper"
    eval: EvalSettings = Field(default_factory=EvalSettings)
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda|cuda:\d+)$")
    exclude: list[Exclusion] = Field(default_factory=list)
    overrides: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)
    checkpoint_every: int = Field(5, ge=1, description="Evaluations between checkpoints.")
    checkpoint_minutes: float = Field(10.0, gt=0, description="Wall-clock minutes between checkpoints.")


_MODEL_AT: dict[str, type[BaseModel]] = {
    "": SuiteFile,
    "eval": EvalSettings,
    "tasks": CustomTask,
    "algorithms": VariantEntry,
    "exclude": Exclusion,
}
_ALLOWED_HINTS: dict[str, str] = {
    "device": "auto, cpu, cuda, cuda:N",
    "env_steps": "'paper' or a positive integer",
    "termination": ", ".join(TERMINATION_FNS),
}


@dataclass(frozen=True)
class RunSpec:
    """One run of the grid, fully resolved."""

    suite: str
    task: TaskSpec
    algorithm: str  # base algorithm in the registry
    variant: str  # name of the run's algorithm column and folder (== algorithm unless a variant)
    seed: int
    env_steps: int
    eval_every: int
    eval_episodes: int
    device: str
    config: AlgorithmConfig
    fidelity: str
    deviations: tuple[str, ...] = field(default_factory=tuple)
    checkpoint_every: int = 5
    checkpoint_minutes: float = 10.0

    @property
    def key(self) -> RunKey:
        return RunKey(self.suite, self.task.name, self.variant, self.seed)

    def run_dir(self, out: Path) -> Path:
        return self.key.path(out)

    def matches(self, key: str, value: str) -> bool:
        """``--only KEY=VALUE``: a task name, an algorithm (the run's name or its base) or a seed."""
        values = {"task": [self.task.name], "algorithm": [self.variant, self.algorithm], "seed": [str(self.seed)]}
        return value in values[key]


@dataclass
class Suite:
    file: SuiteFile
    path: Path
    runs: list[RunSpec]


# ------------------------------------------------------------------------------------------- YAML
# Suite files are data and may come from others: a document of nested aliases ("billion laughs") expands
# exponentially in anything that walks it, so its size is bounded before anything does.
MAX_ALIASES = 1_000
MAX_VALUES = 100_000  # scalars, keys and list items once every alias is expanded
MAX_SEEDS = 10_000


class _CountingLoader(yaml.SafeLoader):
    """SafeLoader that counts the aliases it composes."""

    aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise SuiteError(f"more than {MAX_ALIASES:,} YAML aliases; suite files are bounded")
        return super().compose_node(parent, index)


def _expanded_size(root: yaml.Node) -> int:
    """Values in the document with every alias expanded, counted once per distinct node (memoized, so a
    nested-alias bomb is measured in linear time rather than expanded)."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if done or not children:
            sizes[id(node)] = 1 + sum(sizes[id(c)] for c in children)
            continue
        stack.append((node, True))  # post-order without recursion: deep documents must not overflow
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _read_yaml(text: str) -> tuple[Any, dict[KeyPath, int]]:
    """The document's data and the line of each key; raises SuiteError if it is not bounded."""
    loader = _CountingLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, {}
        size = _expanded_size(root)
        if size > MAX_VALUES:
            raise SuiteError(f"expands to {size:,} values (more than {MAX_VALUES:,}); suite files are bounded")
        data = loader.construct_document(root)
    finally:
        loader.dispose()
    return data, _yaml_lines(root)


def _yaml_lines(root: yaml.Node) -> dict[KeyPath, int]:
    """Line (1-based) of every key and list item, keyed by its path in the data (bounded by _read_yaml)."""
    lines: dict[KeyPath, int] = {}

    def walk(node: yaml.Node, path: KeyPath) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, key.value)
                lines[sub] = key.start_mark.line + 1
                walk(value, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    walk(root, ())
    return lines


def _data_path(loc: tuple[Any, ...], data: Any) -> KeyPath:
    """Drop pydantic's union tags (``'str'``, ``'CustomTask'``, ...) from an error location."""
    path: list[str | int] = []
    for part in loc:
        if isinstance(data, dict) and part in data:
            data = data[part]
            path.append(part)
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
            path.append(part)
    return tuple(path)


def _schema_message(errors: Sequence[Mapping[str, Any]], data: Any) -> SuiteError:
    """The most specific schema error as one line, with the allowed keys or values."""
    by_path: dict[KeyPath, list[Mapping[str, Any]]] = {}
    for err in errors:
        by_path.setdefault(_data_path(err["loc"], data), []).append(err)
    path = max(by_path, key=len)
    errs = by_path[path]
    if any(e["type"] == "extra_forbidden" for e in errs):
        owner = next((str(p) for p in reversed(path[:-1]) if isinstance(p, str)), "")
        model = _MODEL_AT.get(owner, SuiteFile)
        return SuiteError(f"unknown key; allowed: {', '.join(model.model_fields)}", path)
    if any(e["type"] == "missing" for e in errs):
        missing = [str(e["loc"][-1]) for e in errs if e["type"] == "missing"]
        return SuiteError(f"missing required key {missing[0]!r}", path)
    hint = _ALLOWED_HINTS.get(str(path[-1]) if path else "")
    if hint:
        return SuiteError(f"invalid value {errs[0].get('input')!r}; allowed: {hint}", path)
    return SuiteError(" or ".join(dict.fromkeys(e["msg"] for e in errs)), path)


# -------------------------------------------------------------------------------- semantic checks
def _config_error(err: ValidationError, prefix: KeyPath, config_cls: type[AlgorithmConfig]) -> SuiteError:
    first = err.errors()[0]
    key = first["loc"][0] if first["loc"] else None
    if key is None:
        return SuiteError(first["msg"].removeprefix("Value error, "), prefix)
    if first["type"] == "extra_forbidden":
        return SuiteError(f"unknown hyperparameter; allowed: {', '.join(config_cls.model_fields)}", (*prefix, key))
    inner = "".join(f"[{p}]" for p in first["loc"][1:])
    doc = config_cls.model_fields[str(key)].description if str(key) in config_cls.model_fields else None
    return SuiteError(
        f"{inner + ': ' if inner else ''}{first['msg']}{f' (expected: {doc})' if doc else ''}", (*prefix, key)
    )


def _resolve_tasks(sf: SuiteFile) -> dict[str, TaskSpec]:
    tasks: dict[str, TaskSpec] = {}
    for i, entry in enumerate(sf.tasks):
        if isinstance(entry, str):
            if entry not in TASKS:
                raise SuiteError(f"unknown task {entry!r}; allowed: {', '.join(TASKS)} or an inline task", ("tasks", i))
            spec = TASKS[entry]
        else:
            if entry.env_id not in gym.registry:
                raise SuiteError(f"{entry.env_id!r} is not a registered gymnasium env id", ("tasks", i, "env_id"))
            spec = TaskSpec(entry.name, entry.env_id, entry.env_kwargs, entry.termination, entry.max_episode_steps)
        if spec.name in tasks:
            raise SuiteError(f"task {spec.name!r} listed twice", ("tasks", i))
        tasks[spec.name] = spec
    return tasks


def _resolve_algorithms(sf: SuiteFile) -> dict[str, tuple[str, dict[str, Any]]]:
    """Run name -> (base algorithm, the variant's overrides)."""
    algos: dict[str, tuple[str, dict[str, Any]]] = {}
    known = [*ALGORITHMS, *VARIANTS]
    for i, entry in enumerate(sf.algorithms):
        if isinstance(entry, str):
            if entry not in known:
                raise SuiteError(f"unknown algorithm {entry!r}; allowed: {', '.join(known)}", ("algorithms", i))
            name, (base, layer) = entry, resolve(entry)
        else:
            if entry.algorithm not in known:
                raise SuiteError(
                    f"unknown algorithm {entry.algorithm!r}; allowed: {', '.join(known)}",
                    ("algorithms", i, "algorithm"),
                )
            base, layer = resolve(entry.algorithm)
            name, layer = entry.name, {**layer, **entry.overrides}
            try:
                ALGORITHMS[base].config_cls(**layer)
            except ValidationError as err:
                raise _config_error(err, ("algorithms", i, "overrides"), ALGORITHMS[base].config_cls) from None
        if name in algos:
            raise SuiteError(f"algorithm {name!r} listed twice", ("algorithms", i))
        algos[name] = (base, layer)
    return algos


def _resolve_seeds(sf: SuiteFile) -> list[int]:
    count = sf.seeds if isinstance(sf.seeds, int) else len(sf.seeds)
    if not 1 <= count <= MAX_SEEDS:
        raise SuiteError(f"needs between 1 and {MAX_SEEDS:,} seeds", ("seeds",))
    seeds = list(range(sf.seeds)) if isinstance(sf.seeds, int) else list(sf.seeds)
    if len(set(seeds)) != len(seeds):
        raise SuiteError("needs a positive count or a list of distinct integers", ("seeds",))
    return seeds


def _check_references(sf: SuiteFile, tasks: dict[str, TaskSpec], algos: dict[str, Any]) -> None:
    """``exclude`` and ``overrides`` may only name this suite's tasks and algorithms."""
    if isinstance(sf.env_steps, int) and sf.env_steps < 1:
        raise SuiteError("must be 'paper' or a positive integer", ("env_steps",))
    for i, ex in enumerate(sf.exclude):
        if ex.task is not None and ex.task not in tasks:
            raise SuiteError(f"not a task of this suite; allowed: {', '.join(tasks)}", ("exclude", i, "task"))
        if ex.algorithm is not None and ex.algorithm not in algos:
            raise SuiteError(
                f"not an algorithm of this suite; allowed: {', '.join(algos)}", ("exclude", i, "algorithm")
            )
    for algo_name, scopes in sf.overrides.items():
        if algo_name not in algos:
            raise SuiteError(f"not an algorithm of this suite; allowed: {', '.join(algos)}", ("overrides", algo_name))
        for scope in scopes:
            if scope != "all" and scope not in tasks:
                raise SuiteError(f"unknown scope; allowed: all, {', '.join(tasks)}", ("overrides", algo_name, scope))


def _cell_config(sf: SuiteFile, task_name: str, algo_name: str, base: str, layer: dict[str, Any]) -> AlgorithmConfig:
    """Defaults <- paper preset <- variant <- ``all`` overrides <- this task's overrides; an error names the
    scope that caused it."""
    entry = ALGORITHMS[base]
    scopes = sf.overrides.get(algo_name, {})
    all_scope, task_scope = scopes.get("all", {}), scopes.get(task_name, {})
    try:
        resolve_config(base, task_name, layer, all_scope)
    except ValidationError as err:
        raise _config_error(err, ("overrides", algo_name, "all"), entry.config_cls) from None
    try:
        return resolve_config(base, task_name, layer, all_scope, task_scope)
    except ValidationError as err:
        raise _config_error(err, ("overrides", algo_name, task_name), entry.config_cls) from None


def _budget(sf: SuiteFile, task_name: str, algo_name: str, base: str) -> int:
    if sf.env_steps != "paper":
        return sf.env_steps
    budget = ALGORITHMS[base].paper_env_steps.get(TASK_BASE.get(task_name, task_name))
    if budget is None:
        raise SuiteError(f"'paper' has no budget for {algo_name} on {task_name}; give an integer", ("env_steps",))
    return budget


def _excluded(sf: SuiteFile, task: str, algorithm: str, seed: int) -> bool:
    return any(
        ex.task in (None, task) and ex.algorithm in (None, algorithm) and ex.seed in (None, seed) for ex in sf.exclude
    )


def _check_and_expand(sf: SuiteFile) -> list[RunSpec]:
    tasks, algos, seeds = _resolve_tasks(sf), _resolve_algorithms(sf), _resolve_seeds(sf)
    _check_references(sf, tasks, algos)
    runs: list[RunSpec] = []
    for (task_name, task), (algo_name, (base, layer)) in itertools.product(tasks.items(), algos.items()):
        config = _cell_config(sf, task_name, algo_name, base, layer)
        kept = [seed for seed in seeds if not _excluded(sf, task_name, algo_name, seed)]
        if not kept:
            continue  # an excluded cell needs no budget
        budget = _budget(sf, task_name, algo_name, base)
        entry = ALGORITHMS[base]
        deviations = tuple(entry.deviations(task_name, config))
        for seed in kept:
            runs.append(
                RunSpec(
                    suite=sf.name,
                    task=task,
                    algorithm=base,
                    variant=algo_name,
                    seed=seed,
                    env_steps=budget,
                    eval_every=sf.eval.every,
                    eval_episodes=sf.eval.episodes,
                    device=sf.device,
                    config=config,
                    fidelity=entry.cls.fidelity,
                    deviations=deviations,
                    checkpoint_every=sf.checkpoint_every,
                    checkpoint_minutes=sf.checkpoint_minutes,
                )
            )
    return runs


# ------------------------------------------------------------------------------------------ entry
def load_suite(path: str | Path) -> Suite:
    """Read, validate and expand a suite file; raises ``SuiteError`` with file and line on bad input."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise SuiteError(f"cannot read suite file ({err.strerror})", file=str(path)) from None
    try:
        data, lines = _read_yaml(text)
    except SuiteError as err:
        err.file = str(path)
        raise
    except (yaml.YAMLError, RecursionError) as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or "invalid YAML"
        raise SuiteError(f"invalid YAML: {problem}", file=str(path), line=mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise SuiteError(
            "a suite file must be a YAML mapping with keys: " + ", ".join(SuiteFile.model_fields),
            file=str(path),
            line=1,
        )
    try:
        try:
            sf = SuiteFile.model_validate(data)
        except ValidationError as err:
            raise _schema_message(err.errors(), data) from None
        runs = _check_and_expand(sf)
    except SuiteError as err:
        err.file = str(path)
        probe = err.path
        while probe and probe not in lines:
            probe = probe[:-1]
        err.line = lines.get(probe, 1)
        raise
    return Suite(file=sf, path=path, runs=runs)
