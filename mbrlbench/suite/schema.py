"""The suite file's schema: pydantic models (unknown keys forbidden), the error type every check raises, and
the bounds a suite must stay within."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mbrlbench.support.safe_yaml import KeyPath
from mbrlbench.tasks import TERMINATION_FNS


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


MODEL_AT: dict[str, type[BaseModel]] = {
    "": SuiteFile,
    "eval": EvalSettings,
    "tasks": CustomTask,
    "algorithms": VariantEntry,
    "exclude": Exclusion,
}
ALLOWED_HINTS: dict[str, str] = {
    "device": "auto, cpu, cuda, cuda:N",
    "env_steps": "'paper' or a positive integer",
    "termination": ", ".join(TERMINATION_FNS) + " or an import path module:function",
}
NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
SWEEP_MODES = ("grid", "zip")
MAX_SWEEP_POINTS = 1_000
MAX_NAME = 200  # a run name is a folder name (255 bytes at most on common filesystems)
MAX_SEEDS = 10_000
MAX_RUNS = 100_000  # runs in a suite's grid once expanded (tasks x algorithms and sweep points x seeds)
