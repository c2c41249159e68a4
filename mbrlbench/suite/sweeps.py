"""Sweeps: one run name per point of a grid or zip of hyperparameter values."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping
from typing import Any

from mbrlbench.algorithms.base import AlgorithmConfig
from mbrlbench.algorithms.registry import ALGORITHMS
from mbrlbench.suite.resolve import Algo
from mbrlbench.suite.schema import MAX_NAME, MAX_SWEEP_POINTS, SWEEP_MODES, SuiteError, SuiteFile
from mbrlbench.support.safe_yaml import KeyPath


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


def expand_sweeps(sf: SuiteFile, algos: dict[str, Algo]) -> dict[str, Algo]:
    """Each swept entry is replaced, in place, by one run name per sweep point."""
    for source in sf.sweeps:
        if source not in algos:
            raise SuiteError(f"not an algorithm of this suite; allowed: {', '.join(algos)}", ("sweeps", source))
    out: dict[str, Algo] = {}
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
            out[run_name] = Algo(algo.base, algo.layer, name, point, algo.env_steps)
    return out
