"""``--set KEY=VALUE``: command-line overrides applied to a suite's data before it is validated."""

from __future__ import annotations

from typing import Any

import yaml

from mbrlbench.suite.messages import read_yaml
from mbrlbench.suite.schema import SuiteError
from mbrlbench.support.safe_yaml import KeyPath


class SetError(SuiteError):
    """A bad ``--set``: it has no line in the file."""


def _parse_set(item: str) -> tuple[list[str], Any]:
    key, sep, raw = item.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts):
        raise SetError(f"--set {item!r}: expected KEY=VALUE with a dotted KEY, e.g. overrides.mbpo.all.ensemble_size=5")
    try:
        value, _ = read_yaml(raw)  # bounded like a suite file
    except (yaml.YAMLError, SuiteError):
        raise SetError(f"--set {key}: value {raw!r} is not a YAML scalar or list") from None
    if isinstance(value, dict):
        raise SetError(f"--set {key}: expected a scalar or a list, not a mapping; set its keys one by one")
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
            raise SetError(f"--set {'.'.join(parts)}: {where} is {node!r}, which has no key {part!r}")
        if last:
            node[path[-1]] = value
        else:
            node = node[path[-1]]
    return tuple(path)


def set_origin(err_path: KeyPath, applied: dict[KeyPath, str]) -> str | None:
    """The ``--set`` an error comes from: its key path and the error's overlap (one is a prefix of the other)."""
    for path, item in applied.items():
        n = min(len(path), len(err_path))
        if n and path[:n] == err_path[:n]:
            return item
    return None
