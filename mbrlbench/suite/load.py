"""The entry point: read a suite file, apply ``--set`` items, validate and expand it, and locate any error by
file and line (or by the ``--set`` item that caused it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mbrlbench.runner.spec import RunSpec
from mbrlbench.suite.expand import expand_runs
from mbrlbench.suite.messages import read_yaml, schema_message
from mbrlbench.suite.overrides import SetError, apply_set, set_origin
from mbrlbench.suite.schema import SuiteError, SuiteFile
from mbrlbench.support import safe_yaml
from mbrlbench.support.safe_yaml import KeyPath


@dataclass
class Suite:
    """A loaded suite: its validated file, where it was read from, and its runs."""

    file: SuiteFile
    path: Path
    runs: list[RunSpec]


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
            raise schema_message(err.errors(), data) from None
        runs = expand_runs(sf, path.parent)
    except SuiteError as err:
        err.file = str(path)
        origin = set_origin(err.path, applied)
        if isinstance(err, SetError) or origin is not None:
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
        data, lines = read_yaml(text)
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
