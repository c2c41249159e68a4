"""The run folder's files, each written so that a crash never leaves a torn or half-written one."""

from __future__ import annotations

import json
import math
import os
import signal
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import yaml

# Fault injection for the crash-safety tests only: "csv:N" or "checkpoint:N" SIGKILLs this process in the
# middle of its N-th CSV append or checkpoint write (half the bytes written, nothing renamed).
_FAULT = os.environ.get("MBRLBENCH_FAULT", "")
_fault_counts: dict[str, int] = {}


def _fault_now(point: str) -> bool:
    name, _, nth = _FAULT.partition(":")
    if name != point:
        return False
    _fault_counts[point] = _fault_counts.get(point, 0) + 1
    return _fault_counts[point] == int(nth)


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


REQUIRED_COLUMNS = ("env_step", "eval_return_mean", "eval_return_std", "eval_episodes", "train_return", "wall_time_s")
TIMING_COLUMNS = ("wall_time_s",)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then rename over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def write_yaml(path: Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=110))


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` to a temp file and rename: a kill mid-save keeps the previous checkpoint."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(state, tmp)
        if _FAULT and _fault_now("checkpoint"):
            os.truncate(tmp, os.path.getsize(tmp) // 2)
            _die()
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fmt(value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    value = float(value)
    return "nan" if math.isnan(value) else repr(value)


class ProgressCSV:
    """``progress.csv`` with a header fixed at start; rows are appended whole, flushed and fsynced."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self.path, self.columns = path, tuple(columns)
        self.header = ",".join(self.columns) + "\n"

    def create(self) -> None:
        atomic_write_text(self.path, self.header)

    def truncate(self, rows: int) -> None:
        """Keep the header and the first ``rows`` rows (the checkpoint's count); drop anything after,
        including a torn last line."""
        lines = self.path.read_text().splitlines(keepends=True) if self.path.exists() else []
        if not lines or lines[0] != self.header:
            raise RuntimeError(f"{self.path}: header differs from this run's columns; use --restart")
        kept = [line for line in lines[1 : 1 + rows] if line.endswith("\n")]
        if len(kept) != rows:
            raise RuntimeError(f"{self.path}: has {len(kept)} whole rows, checkpoint expects {rows}")
        atomic_write_text(self.path, self.header + "".join(kept))

    def append(self, row: dict[str, float | int]) -> None:
        line = ",".join(_fmt(row.get(c, float("nan"))) for c in self.columns) + "\n"
        with open(self.path, "a") as f:
            if _FAULT and _fault_now("csv"):
                f.write(line[: len(line) // 2])
                f.flush()
                _die()
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
