"""The registry: each catalog entry (``catalog.py``, the facts) joined with its module's ``SPEC`` (the code:
algorithm class, config model, deviations), plus plugins by import path or entry point."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, get_args

import torch

from mbrlbench.algorithms import mbmpo, mbpo, mg, mnm, sac, tom, trpo
from mbrlbench.algorithms.base import Algorithm, AlgorithmConfig, AlgorithmSpec, Fidelity
from mbrlbench.algorithms.catalog import CATALOG, DEFAULT_METRIC, Deviation, render_deviations
from mbrlbench.support.plugins import (
    PluginError,
    entry_point_origin,
    import_object,
    is_import_path,
    load_entry_point,
    registered,
)
from mbrlbench.tasks import TASK_BASE, TaskSpec

SPECS: dict[str, AlgorithmSpec] = {
    "mbpo": mbpo.SPEC,
    "sac": sac.SPEC,
    "mnm": mnm.SPEC,
    "tom": tom.SPEC,
    "mbmpo": mbmpo.SPEC,
    "trpo": trpo.SPEC,
    "mg": mg.SPEC,
}


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
    paper_metric: str = DEFAULT_METRIC
    origin: str = "built-in"  # where it came from: built-in, an import path, or an entry point
    declared_fidelity: str | None = None  # plugins: their own declaration (default "external"), not inherited

    @property
    def fidelity(self) -> str:
        return self.declared_fidelity or self.cls.fidelity

    @classmethod
    def built_in(cls, name: str) -> AlgorithmEntry:
        """A built-in algorithm: its catalog entry's facts and its module's spec."""
        facts, spec = CATALOG[name], SPECS[name]
        return cls(
            name=name,
            cls=spec.algorithm,
            config_cls=spec.config,
            presets=facts.presets,
            paper_env_steps=facts.paper_env_steps,
            deviation_list=spec.deviations,
            source=facts.source,
            summary=facts.summary,
            paper_metric=facts.paper_metric,
        )

    @classmethod
    def from_class(cls, name: str, algo_cls: Any, origin: str) -> AlgorithmEntry:
        """The entry of a plugin class: an ``Algorithm`` subclass naming its config model in ``config_cls``;
        ``presets``, ``paper_env_steps``, ``deviation_list``, ``summary``, ``source``, ``paper_metric`` are
        optional class attributes, and ``fidelity`` counts only when the class itself declares it (a subclass
        of MBPO is not MBPO's official code): else ``"external"``."""
        if not (isinstance(algo_cls, type) and issubclass(algo_cls, Algorithm)):
            raise PluginError(f"{origin}: {algo_cls!r} is not a subclass of mbrlbench.algorithms.base.Algorithm")
        config_cls = getattr(algo_cls, "config_cls", None)
        if not (isinstance(config_cls, type) and issubclass(config_cls, AlgorithmConfig)):
            raise PluginError(
                f"{origin}: {algo_cls.__name__} lacks config_cls, a pydantic model deriving from AlgorithmConfig"
            )
        fidelity = vars(algo_cls).get("fidelity", "external")
        if fidelity not in get_args(Fidelity):
            raise PluginError(f"{origin}: fidelity {fidelity!r}; allowed: {', '.join(get_args(Fidelity))}")
        doc = (algo_cls.__doc__ or "").strip().splitlines()
        return cls(
            name=name,
            cls=algo_cls,
            config_cls=config_cls,
            presets=dict(getattr(algo_cls, "presets", {})),
            paper_env_steps=dict(getattr(algo_cls, "paper_env_steps", {})),
            deviation_list=tuple(getattr(algo_cls, "deviation_list", ())),
            source=str(getattr(algo_cls, "source", origin)),
            summary=str(getattr(algo_cls, "summary", doc[0] if doc else algo_cls.__name__)),
            paper_metric=str(getattr(algo_cls, "paper_metric", DEFAULT_METRIC)),
            origin=origin,
            declared_fidelity=fidelity,
        )

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


class Registry(dict[str, AlgorithmEntry]):
    """The built-in algorithms; a lookup of any other key loads a plugin: an import path (``module:Class``)
    or the name of an ``mbrlbench.algorithms`` entry point. Keys are what a ``RunSpec`` records, so a
    spawned run finds its plugin again by the same lookup. Plugins are cached beside the dict, never in it:
    iterating the registry lists the built-in algorithms only."""

    def __missing__(self, key: str) -> AlgorithmEntry:
        if key not in _PLUGINS:
            _PLUGINS[key] = load_plugin(key)
        return _PLUGINS[key]


_PLUGINS: dict[str, AlgorithmEntry] = {}


def load_plugin(key: str) -> AlgorithmEntry:
    """The entry of a plugin by import path or entry-point name; ``KeyError`` if it is neither, else a
    ``PluginError`` saying why it cannot be used."""
    if is_import_path(key):
        return AlgorithmEntry.from_class(key, import_object(key), f"import path {key}")
    ep = registered().get(key)
    if ep is None:
        raise KeyError(key)
    return AlgorithmEntry.from_class(key, load_entry_point(ep), entry_point_origin(ep))


ALGORITHMS: Registry = Registry({name: AlgorithmEntry.built_in(name) for name in SPECS})
VARIANTS: dict[str, Variant] = {
    e.name: Variant(e.name, e.base or e.name, dict(e.overrides), e.summary)
    for e in CATALOG.values()
    if e.base is not None
}


def resolve(name: str) -> tuple[str, dict[str, Any]]:
    """Algorithm, plugin or registered variant name -> (base algorithm, the variant's overrides)."""
    if name in VARIANTS:
        variant = VARIANTS[name]
        return variant.algorithm, dict(variant.overrides)
    ALGORITHMS[name]  # loads a plugin, or raises KeyError / PluginError
    return name, {}


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
