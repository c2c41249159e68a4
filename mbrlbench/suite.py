"""Suite files: schema (pydantic, unknown keys forbidden), YAML loading with line numbers in errors,
semantic checks against the registries, and expansion into one ``RunSpec`` per run."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mbrlbench.algorithms.base import AlgorithmConfig
from mbrlbench.algorithms.registry import ALGORITHMS, VARIANTS, resolve, resolve_config
from mbrlbench.rundir import RunKey
from mbrlbench.support import safe_yaml
from mbrlbench.support.plugins import PluginError, add_search_path, import_module, is_import_path, registered
from mbrlbench.support.safe_yaml import KeyPath
from mbrlbench.tasks import TASK_BASE, TASKS, TERMINATION_FNS, TaskSpec, termination_disagreement


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
    termination: str = Field("never", description="A registered function's name, or an import path module:fn.")
    max_episode_steps: int | None = Field(None, ge=1)


class VariantEntry(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    algorithm: str
    overrides: dict[str, Any] = Field(default_factory=dict)
    env_steps: int | None = Field(
        None, ge=1, description="This entry's budget, over the suite's env_steps (cells with different budgets)."
    )


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
    tensorboard: bool = Field(
        False, description="Mirror progress.csv's rows into TensorBoard event files in <run>/tensorboard/."
    )
    sweeps: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="algorithm -> {field: [values], mode: grid|zip}: one variant per point."
    )


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
    "termination": ", ".join(TERMINATION_FNS) + " or an import path module:function",
}
NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
SWEEP_MODES = ("grid", "zip")
MAX_SWEEP_POINTS = 1_000
MAX_NAME = 200  # a run name is a folder name (255 bytes at most on common filesystems)


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
    tensorboard: bool = False  # mirror progress.csv into <run>/tensorboard/ (not hashed: changes no result)

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
MAX_SEEDS = 10_000
MAX_RUNS = 100_000  # runs in a suite's grid once expanded (tasks x algorithms and sweep points x seeds)


def _read_yaml(text: str | bytes) -> tuple[Any, dict[KeyPath, int]]:
    """The document's data and the line of each key (``safe_yaml``: bounded in size, depth and aliases)."""
    try:
        return safe_yaml.load(text)
    except safe_yaml.NotText as err:
        raise SuiteError(str(err)) from None
    except safe_yaml.UnboundedYAML as err:
        raise SuiteError(f"{err}; suite files are bounded") from None


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


def _resolve_tasks(sf: SuiteFile, folder: Path) -> dict[str, TaskSpec]:
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
        hint = _ALLOWED_HINTS["termination"]
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
class _Algo:
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


def _resolve_algorithms(sf: SuiteFile, folder: Path) -> dict[str, _Algo]:
    """Run name -> its algorithm, sweeps expanded."""
    algos: dict[str, _Algo] = {}
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
                raise _config_error(err, ("algorithms", i, "overrides"), ALGORITHMS[base].config_cls) from None
        if name in algos:
            raise SuiteError(f"algorithm {name!r} listed twice", ("algorithms", i))
        algos[name] = _Algo(base, layer, name, env_steps=budget)
    return _expand_sweeps(sf, algos)


# ----------------------------------------------------------------------------------------- sweeps
def sweep_name(source: str, point: Mapping[str, Any]) -> str:
    """A sweep point's run (and folder) name, ``mbpo@ensemble_size=3,num_elites=2``: ``@`` and ``,`` need no
    quoting in shells (brackets would glob) and are legal on every common filesystem; list values are joined
    by ``_``, and any character outside ``A-Za-z0-9_.+-`` in a value becomes ``_``."""
    return f"{source}@" + ",".join(f"{key}={_render(value)}" for key, value in point.items())


def _render(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return "_".join(_render(v) for v in value)
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", str(value))


def _sweep_points(spec: dict[str, Any], config_cls: type[AlgorithmConfig], at: KeyPath) -> list[dict[str, Any]]:
    """The points of one sweep: the product of its lists (grid) or their rows (zip). A string ``mode`` is
    the mode; a list under ``mode`` would sweep a field of that name."""
    values = dict(spec)
    mode = values.pop("mode") if isinstance(values.get("mode"), str) else "grid"
    if mode not in SWEEP_MODES:
        raise SuiteError(f"invalid value {mode!r}; allowed: {', '.join(SWEEP_MODES)}", (*at, "mode"))
    if not values:
        raise SuiteError("needs at least one hyperparameter with a list of values", at)
    for key, items in values.items():
        if key not in config_cls.model_fields and config_cls.renamed.get(key) not in config_cls.model_fields:
            raise SuiteError(f"unknown hyperparameter; allowed: {', '.join(config_cls.model_fields)}", (*at, key))
        if not isinstance(items, list) or not items:
            raise SuiteError(f"needs a non-empty list of values, got {items!r}", (*at, key))
    lengths = [len(items) for items in values.values()]
    if mode == "zip" and len(set(lengths)) > 1:
        raise SuiteError(f"mode zip needs lists of one length, got lengths {lengths}", at)
    count = lengths[0] if mode == "zip" else math.prod(lengths)
    if count > MAX_SWEEP_POINTS:
        raise SuiteError(f"{count:,} points (more than {MAX_SWEEP_POINTS:,}); sweeps are bounded", at)
    rows = zip(*values.values(), strict=True) if mode == "zip" else itertools.product(*values.values())
    return [dict(zip(values, row, strict=True)) for row in rows]


def _expand_sweeps(sf: SuiteFile, algos: dict[str, _Algo]) -> dict[str, _Algo]:
    """Each swept entry is replaced, in place, by one run name per sweep point."""
    for source in sf.sweeps:
        if source not in algos:
            raise SuiteError(f"not an algorithm of this suite; allowed: {', '.join(algos)}", ("sweeps", source))
    out: dict[str, _Algo] = {}
    for name, algo in algos.items():
        if name not in sf.sweeps:
            out[name] = algo
            continue
        at: KeyPath = ("sweeps", name)
        for point in _sweep_points(sf.sweeps[name], ALGORITHMS[algo.base].config_cls, at):
            run_name = sweep_name(name, point)
            if run_name in out or run_name in algos:
                raise SuiteError(f"two runs would share the name {run_name!r}", at)
            if len(run_name) > MAX_NAME:
                raise SuiteError(f"run name {run_name[:40]!r}... is longer than {MAX_NAME} characters", at)
            out[run_name] = _Algo(algo.base, algo.layer, name, point, algo.env_steps)
    return out


def _resolve_seeds(sf: SuiteFile) -> list[int]:
    count = sf.seeds if isinstance(sf.seeds, int) else len(sf.seeds)
    if not 1 <= count <= MAX_SEEDS:
        raise SuiteError(f"needs between 1 and {MAX_SEEDS:,} seeds", ("seeds",))
    seeds = list(range(sf.seeds)) if isinstance(sf.seeds, int) else list(sf.seeds)
    if len(set(seeds)) != len(seeds):
        raise SuiteError("needs a positive count or a list of distinct integers", ("seeds",))
    if not all(0 <= seed < 2**32 for seed in seeds):
        raise SuiteError("seeds must lie in 0 to 4,294,967,295 (numpy's and gymnasium's seed range)", ("seeds",))
    return seeds


def _check_references(sf: SuiteFile, tasks: dict[str, TaskSpec], algos: dict[str, _Algo]) -> None:
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


def _cell_config(sf: SuiteFile, task_name: str, algo_name: str, algo: _Algo) -> AlgorithmConfig:
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
            raise _config_error(err, where, entry.config_cls) from None
    assert config is not None
    return config


def _budget(sf: SuiteFile, task_name: str, algo_name: str, algo: _Algo) -> int:
    if algo.env_steps is not None:
        return algo.env_steps
    base = algo.base
    if sf.env_steps != "paper":
        return sf.env_steps
    budget = ALGORITHMS[base].paper_env_steps.get(TASK_BASE.get(task_name, task_name))
    if budget is None:
        raise SuiteError(f"'paper' has no budget for {algo_name} on {task_name}; give an integer", ("env_steps",))
    return budget


def _excluded(sf: SuiteFile, task: str, algo_name: str, algo: _Algo, seed: int) -> bool:
    return any(
        ex.task in (None, task) and ex.algorithm in (None, algo_name, algo.source) and ex.seed in (None, seed)
        for ex in sf.exclude
    )


def _check_and_expand(sf: SuiteFile, folder: Path) -> list[RunSpec]:
    tasks, algos, seeds = _resolve_tasks(sf, folder), _resolve_algorithms(sf, folder), _resolve_seeds(sf)
    total = len(tasks) * len(algos) * len(seeds)
    if total > MAX_RUNS:
        raise SuiteError(
            f"expands to {total:,} runs ({len(tasks)} tasks x {len(algos)} algorithms and sweep points x "
            f"{len(seeds)} seeds), more than {MAX_RUNS:,}; split it into several suites"
        )
    _check_references(sf, tasks, algos)
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


# ------------------------------------------------------------------------------------------ --set
class _SetError(SuiteError):
    """A bad ``--set``: it has no line in the file."""


def _parse_set(item: str) -> tuple[list[str], Any]:
    key, sep, raw = item.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts):
        raise _SetError(
            f"--set {item!r}: expected KEY=VALUE with a dotted KEY, e.g. overrides.mbpo.all.ensemble_size=5"
        )
    try:
        value, _ = _read_yaml(raw)  # bounded like a suite file
    except (yaml.YAMLError, SuiteError):
        raise _SetError(f"--set {key}: value {raw!r} is not a YAML scalar or list") from None
    if isinstance(value, dict):
        raise _SetError(f"--set {key}: expected a scalar or a list, not a mapping; set its keys one by one")
    return parts, value


def apply_set(data: dict[str, Any], item: str) -> KeyPath:
    """Apply one ``--set KEY=VALUE`` to the suite's data (mappings are created along the way, list items
    addressed by index); returns where the value went."""
    parts, value = _parse_set(item)
    node: Any = data
    path: list[str | int] = []
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, dict):
            if not last and node.get(part) is None:
                node[part] = {}
            path.append(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            path.append(int(part))
        else:
            where = ".".join(map(str, path))
            raise _SetError(f"--set {'.'.join(parts)}: {where} is {node!r}, which has no key {part!r}")
        if last:
            node[path[-1]] = value
        else:
            node = node[path[-1]]
    return tuple(path)


def _set_origin(err_path: KeyPath, applied: dict[KeyPath, str]) -> str | None:
    """The ``--set`` an error comes from: its key path and the error's overlap (one is a prefix of the other)."""
    for path, item in applied.items():
        n = min(len(path), len(err_path))
        if n and path[:n] == err_path[:n]:
            return item
    return None


# ------------------------------------------------------------------------------------------ entry
def load_suite(path: str | Path, sets: Sequence[str] = ()) -> Suite:
    """Read a suite file, apply ``--set KEY=VALUE`` items to its data, validate and expand it; raises
    ``SuiteError`` naming the file and line, or the ``--set`` item, on bad input."""
    path = Path(path)
    data, lines = _read_suite_data(path)
    applied: dict[KeyPath, str] = {}
    try:
        for item in sets:
            applied[apply_set(data, item)] = item
        try:
            sf = SuiteFile.model_validate(data)
        except ValidationError as err:
            raise _schema_message(err.errors(), data) from None
        runs = _check_and_expand(sf, path.parent)
    except SuiteError as err:
        err.file = str(path)
        origin = _set_origin(err.path, applied)
        if isinstance(err, _SetError) or origin is not None:
            err.file, err.line = (f"{path}: --set {origin}" if origin else str(path)), None
            raise
        probe = err.path
        while probe and probe not in lines:
            probe = probe[:-1]
        err.line = lines.get(probe, 1)
        raise
    return Suite(file=sf, path=path, runs=runs)


def _read_suite_data(path: Path) -> tuple[dict[str, Any], dict[KeyPath, int]]:
    """The suite file's mapping and the line of each key."""
    try:
        with open(path, "rb") as f:
            text = f.read(safe_yaml.MAX_BYTES + 1)
    except OSError as err:
        raise SuiteError(f"cannot read suite file ({err.strerror})", file=str(path)) from None
    try:
        data, lines = _read_yaml(text)
    except SuiteError as err:
        err.file = str(path)
        raise
    except (yaml.YAMLError, RecursionError) as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise SuiteError(f"invalid YAML: {problem}", file=str(path), line=mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise SuiteError(
            "a suite file must be a YAML mapping with keys: " + ", ".join(SuiteFile.model_fields),
            file=str(path),
            line=1,
        )
    return data, lines
