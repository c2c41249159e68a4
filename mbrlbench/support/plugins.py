"""Code from outside the package: objects named by import path (``module:attr``) and the entry-point group
through which installed packages register algorithms. Kept free of torch and of the registry, so that both
the registry (``mbrlbench.algorithms``) and the tasks (``mbrlbench.tasks``) can use it without cycles."""

from __future__ import annotations

import importlib
import os
import re
import sys
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

ENTRY_POINT_GROUP = "mbrlbench.algorithms"
"""``[project.entry-points."mbrlbench.algorithms"]`` in a package's pyproject.toml: ``name = "module:Class"``."""

_IMPORT_PATH = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


class PluginError(Exception):
    """A plugin that cannot be loaded or does not follow the protocol; ``str()`` is one line."""


def is_import_path(text: str) -> bool:
    """``package.module:Attribute`` (the form ``importlib`` and entry points use)."""
    return bool(_IMPORT_PATH.fullmatch(text))


def add_search_path(*folders: str | Path) -> None:
    """Put ``folders`` (and the current directory) at the front of ``sys.path`` so that a suite's plugins
    import from beside the suite file as from the folder it is run in; spawned runs inherit ``sys.path``."""
    for folder in (*folders, os.getcwd()):
        entry = str(Path(folder).resolve())
        if entry not in sys.path:
            sys.path.insert(0, entry)


def import_object(path: str) -> Any:
    """The object an import path names; a ``PluginError`` saying why when it cannot be had."""
    if not is_import_path(path):
        raise PluginError(f"{path!r} is not an import path of the form package.module:Name")
    module_name, _, attr = path.partition(":")
    obj: Any = import_module(module_name)
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise PluginError(f"module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def import_module(module_name: str) -> Any:
    """A user's module, imported; whatever its import raises, ``sys.exit`` included (a module that exits at
    import must not end the command with status 0), becomes a ``PluginError``."""
    try:
        return importlib.import_module(module_name)
    except (Exception, SystemExit) as err:  # any error of the user's module is reported, not raised
        what = f"exits at import (SystemExit {err.code!r})" if isinstance(err, SystemExit) else _one_line(err)
        raise PluginError(f"cannot import {module_name!r} ({type(err).__name__}: {what})") from None


def registered() -> dict[str, EntryPoint]:
    """Entry points of the ``mbrlbench.algorithms`` group, by name (read afresh: packages may be installed
    while the process runs, and tests add them)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def entry_point_origin(ep: EntryPoint) -> str:
    """Where an entry point came from, for ``mbrlbench list`` and error messages."""
    dist = getattr(ep, "dist", None)
    package = f"{dist.name} {dist.version}" if dist is not None else "unknown package"
    return f"entry point {ep.value} ({package})"


def load_entry_point(ep: EntryPoint) -> Any:
    try:
        return ep.load()
    except (Exception, SystemExit) as err:  # a broken plugin package is reported, not raised
        raise PluginError(
            f"entry point {ep.name} = {ep.value!r} fails to load ({type(err).__name__}: {_one_line(err)})"
        ) from None


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__
