"""Reading YAML and turning pydantic's errors into one line a user can act on: the key, and the allowed keys or
values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from mbrlbench.algorithms.base import AlgorithmConfig
from mbrlbench.suite.schema import ALLOWED_HINTS, MODEL_AT, SuiteError, SuiteFile
from mbrlbench.support import safe_yaml
from mbrlbench.support.safe_yaml import KeyPath


def read_yaml(text: str | bytes) -> tuple[Any, dict[KeyPath, int]]:
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


def schema_message(errors: Sequence[Mapping[str, Any]], data: Any) -> SuiteError:
    """The most specific schema error as one line, with the allowed keys or values."""
    by_path: dict[KeyPath, list[Mapping[str, Any]]] = {}
    for err in errors:
        by_path.setdefault(_data_path(err["loc"], data), []).append(err)
    path = max(by_path, key=len)
    errs = by_path[path]
    if any(e["type"] == "extra_forbidden" for e in errs):
        owner = next((str(p) for p in reversed(path[:-1]) if isinstance(p, str)), "")
        model = MODEL_AT.get(owner, SuiteFile)
        return SuiteError(f"unknown key; allowed: {', '.join(model.model_fields)}", path)
    if any(e["type"] == "missing" for e in errs):
        missing = [str(e["loc"][-1]) for e in errs if e["type"] == "missing"]
        return SuiteError(f"missing required key {missing[0]!r}", path)
    hint = ALLOWED_HINTS.get(str(path[-1]) if path else "")
    if hint:
        return SuiteError(f"invalid value {errs[0].get('input')!r}; allowed: {hint}", path)
    return SuiteError(" or ".join(dict.fromkeys(e["msg"] for e in errs)), path)


def config_error(err: ValidationError, prefix: KeyPath, config_cls: type[AlgorithmConfig]) -> SuiteError:
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
