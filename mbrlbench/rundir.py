"""The run folder, the interface between the runner (which writes it) and everything that reads it (the
report, ``mbrlbench status``, the launchers' views, the tests' synthetic runs).

One place for its path layout, file names, ``progress.csv`` columns, run states and the readers and atomic
writers of its files. Deliberately free of torch and gymnasium: ``mbrlbench report`` needs only this,
pandas and matplotlib. The layout (``docs/design.md``)::

    <out>/<suite>/<task>/<variant>/seed<k>/
        config.yaml     resolved config: what ran, its hash, versions, hardware (written once at start)
        status.json     state, env step, last return, speed, heartbeat, error (rewritten atomically)
        progress.csv    one row per evaluation: REQUIRED_COLUMNS, then the algorithm's diagnostics
        checkpoint.pt   the latest checkpoint (runner/checkpoint.py writes it; deleted at completion by default)
        policy.pt       the acting policy alone, written with each checkpoint and at completion, always kept
        eval.csv        what ``mbrlbench eval`` measured of policy.pt (episodes, seed, return per episode)
        lock.json       who is running it (runner/lock.py)
        run.log         human-readable log, with tracebacks of failures
"""

from __future__ import annotations

import json
import math
import os
import signal
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

import yaml

from mbrlbench.support import safe_yaml

CONFIG = "config.yaml"
STATUS = "status.json"
PROGRESS = "progress.csv"
CHECKPOINT = "checkpoint.pt"
POLICY = "policy.pt"
EVAL_CSV = "eval.csv"
LOCK = "lock.json"
LOG = "run.log"
TENSORBOARD = "tensorboard"  # run --tensorboard: event files mirroring progress.csv
SEED_PREFIX = "seed"
REFERENCE_FOLDER = "reference"
"""Runs under a folder of this name are reference runs (``results/reference``: committed earlier results the
report draws beside new ones), not the runs being reported."""

REQUIRED_COLUMNS = ("env_step", "eval_return_mean", "eval_return_std", "eval_episodes", "train_return", "wall_time_s")
"""The first columns of every progress.csv, in this order; the algorithm's diagnostics follow."""
KEY_COLUMNS = ("env_step", "eval_return_mean")
"""The columns without which a progress.csv is no learning curve (readers skip such a file)."""
TIMING_COLUMNS = ("wall_time_s",)
"""Columns that measure time rather than computation: the only ones two exact runs may differ in."""
DEFAULT_METRIC = "eval_return_mean"
"""The column compared with a paper unless config.yaml's ``paper_metric`` names another."""


class RunState(str, Enum):
    """Every state a run can be reported in. ``status.json`` holds the first five; the rest are outcomes a
    launcher reports for runs it could not (or did not) run, and ``stale`` is a running state whose heartbeat
    stopped (a dead process)."""

    PENDING = "pending"  # no status.json yet
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    STALE = "stale"
    LOCKED = "locked"  # another live process holds the run
    CONFLICT = "conflict"  # the folder holds a run of another configuration
    CRASHED = "crashed"  # the run's process died without reporting
    NOT_STARTED = "not started"  # the suite was stopped before this run began

    def __str__(self) -> str:
        return self.value


FAILED_STATES = (RunState.FAILED, RunState.CONFLICT, RunState.CRASHED)
"""Outcomes that make ``mbrlbench run`` exit 1."""


# ------------------------------------------------------------------------------------------ layout
@dataclass(frozen=True)
class RunKey:
    """Where a run lives: ``<out>/<suite>/<task>/<variant>/seed<seed>``."""

    suite: str
    task: str
    variant: str
    seed: int

    def path(self, out: Path) -> Path:
        return Path(out) / self.suite / self.task / self.variant / f"{SEED_PREFIX}{self.seed}"

    @property
    def label(self) -> str:
        return f"{self.task}/{self.variant}/{SEED_PREFIX}{self.seed}"


def parse_run_path(run_dir: Path) -> RunKey | None:
    """The inverse of :meth:`RunKey.path` from the folder names alone (None if not that shape)."""
    parts = Path(run_dir).parts
    if len(parts) < 4 or not parts[-1].startswith(SEED_PREFIX):
        return None
    try:
        seed = int(parts[-1].removeprefix(SEED_PREFIX))
    except ValueError:
        return None
    return RunKey(parts[-4], parts[-3], parts[-2], seed)


def discover_runs(root: Path) -> list[Path]:
    """Every run folder (a ``seed<k>`` folder holding a status.json, config.yaml, progress.csv or policy.pt)
    under ``root``, or ``root`` itself when it is one."""
    root = Path(root)
    found = {p.parent for name in (STATUS, CONFIG, PROGRESS, POLICY) for p in root.rglob(name)}
    return sorted(d for d in found if d.name.startswith(SEED_PREFIX))


def task_base(task: str) -> str:
    """The task whose paper settings and numbers a task shares (``hopper_h200`` -> ``hopper``)."""
    return task.removesuffix("_h200")


# ------------------------------------------------------------------------------------------ writers
_UMASK = os.umask(0)
os.umask(_UMASK)


def temp_beside(path: Path) -> tuple[int, str]:
    """A temp file in ``path``'s folder with the permissions a plain ``open`` would give (``mkstemp`` makes
    it private, and results folders are shared)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, 0o666 & ~_UMASK)
    return fd, tmp


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then rename over ``path``: readers see the old file
    or the new one, never a torn one."""
    fd, tmp = temp_beside(path)
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


def json_safe(value: Any) -> Any:
    """NaN and infinities become null (strict JSON has no such numbers), recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(json_safe(data), indent=2, allow_nan=False) + "\n")


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# ------------------------------------------------------------------------------------------ readers
STATUS_NUMBERS = ("env_step", "env_steps", "heartbeat_unix", "steps_per_second", "last_return", "pid")
BAD_FIELDS = "_bad_fields"  # status.json's fields that held no number where a number belongs


def read_status(run_dir: Path) -> dict[str, Any]:
    """status.json as a dict whose ``state`` is a :class:`RunState` (PENDING when there is none; an
    unknown state string stays a string). A numeric field holding anything but a number (a file from
    elsewhere, hand-edited) is dropped and named under ``BAD_FIELDS``."""
    status = read_json(Path(run_dir) / STATUS) or {}
    try:
        status["state"] = RunState(status.get("state", RunState.PENDING))
    except (ValueError, TypeError):
        status["state"] = str(status.get("state"))
    bad = [
        key
        for key in STATUS_NUMBERS
        if key in status
        and status[key] is not None
        and (
            isinstance(status[key], bool) or not isinstance(status[key], int | float) or not math.isfinite(status[key])
        )
    ]
    for key in bad:
        del status[key]
    if bad:
        status[BAD_FIELDS] = bad
    return status


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def read_state(run_dir: Path) -> RunState:
    state = read_status(run_dir)["state"]
    return state if isinstance(state, RunState) else RunState.PENDING


class RunFileError(ValueError):
    """A file of a run folder is not what the runner writes; the message names it."""


def read_config(run_dir: Path, strict: bool = False) -> dict[str, Any]:
    """config.yaml as a dict, read as bounded data (``safe_yaml``). Absent: {}. Unreadable, unbounded or not
    a mapping: {} or, with ``strict``, ``RunFileError`` naming the file."""
    path = Path(run_dir) / CONFIG
    if not path.exists():
        return {}
    try:
        data = safe_yaml.load_file(path)
    except (OSError, yaml.YAMLError, safe_yaml.UnboundedYAML) as err:
        if strict:
            reason = getattr(err, "problem", None) or getattr(err, "strerror", None) or str(err).splitlines()[0]
            raise RunFileError(f"{path}: unreadable ({reason})") from None
        return {}
    if not isinstance(data, dict):
        if strict:
            raise RunFileError(f"{path}: not a mapping of the run's settings")
        return {}
    return data


# ------------------------------------------------------------------------------------------ progress.csv
# Fault injection for the crash-safety tests only: "csv:N" SIGKILLs this process in the middle of its N-th
# CSV append (half the line written); runner/files.py reads the same variable for checkpoints.
FAULT = os.environ.get("MBRLBENCH_FAULT", "")
_fault_counts: dict[str, int] = {}


def fault_now(point: str) -> bool:
    name, _, nth = FAULT.partition(":")
    if name != point:
        return False
    _fault_counts[point] = _fault_counts.get(point, 0) + 1
    return _fault_counts[point] == int(nth)


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def format_value(value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    value = float(value)
    return "nan" if math.isnan(value) else repr(value)


class RowMirror(Protocol):
    """Another sink that holds exactly progress.csv's rows (``run --tensorboard``): rebuilt from the CSV's rows
    whenever the CSV is created or truncated (resume), then fed each row after it is in the CSV."""

    def reset(self, rows: list[dict[str, float]]) -> None: ...

    def append(self, row: dict[str, float | int]) -> None: ...


STRICT_COLUMNS_ENV = "MBRLBENCH_STRICT_COLUMNS"  # "1": a row must hold exactly the header's columns (tests set it)


class ProgressCSV:
    """``progress.csv`` with a header fixed at start; rows are appended whole, flushed and fsynced. A column
    the row lacks is written as NaN and a key outside the header is dropped, unless ``MBRLBENCH_STRICT_COLUMNS=1``
    (the test suite's setting), where either is an error: an algorithm that declares a diagnostic must log it."""

    def __init__(self, path: Path, columns: Sequence[str], mirror: RowMirror | None = None) -> None:
        self.path, self.columns, self.mirror = path, tuple(columns), mirror
        self.header = ",".join(self.columns) + "\n"
        self.strict = os.environ.get(STRICT_COLUMNS_ENV) == "1"

    def create(self) -> None:
        atomic_write_text(self.path, self.header)
        if self.mirror is not None:
            self.mirror.reset([])

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
        if self.mirror is not None:
            self.mirror.reset([dict(zip(self.columns, map(float, line.split(",")), strict=True)) for line in kept])

    def append(self, row: dict[str, float | int]) -> None:
        if self.strict and set(row) != set(self.columns):
            missing, extra = sorted(set(self.columns) - set(row)), sorted(set(row) - set(self.columns))
            raise ValueError(f"{self.path}: row lacks declared columns {missing}, has undeclared keys {extra}")
        line = ",".join(format_value(row.get(c, float("nan"))) for c in self.columns) + "\n"
        with open(self.path, "a") as f:
            if FAULT and fault_now("csv"):
                f.write(line[: len(line) // 2])
                f.flush()
                die()
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        if self.mirror is not None:  # after the CSV holds the row: the CSV is the record, the mirror follows it
            self.mirror.append(row)
