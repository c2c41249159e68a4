"""Helpers shared by test modules (``from helpers import ...``; conftest.py holds fixtures only): the table of
tiny configs (the smoke suite's), one-run suite files, the unbroken-vs-resumed check, synthetic run folders."""

import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

import mbrlbench
from mbrlbench.rundir import CONFIG, PROGRESS, STATUS, RunKey, write_json, write_yaml

SMOKE_SUITE = Path(mbrlbench.__file__).parent / "suites" / "smoke.yaml"
_SMOKE = yaml.safe_load(SMOKE_SUITE.read_text())
# Every registered algorithm and variant, and its tiny settings on inverted_pendulum: one table, the smoke
# suite's (CI runs it as a suite too), so a new algorithm gets its tiny config in one place.
ALL_ALGORITHMS: tuple[str, ...] = tuple(_SMOKE["algorithms"])
TINY: dict[str, dict] = {name: dict(_SMOKE["overrides"].get(name, {}).get("all", {})) for name in ALL_ALGORITHMS}

MICRO_SUITE = """\
name: micro
tasks: [inverted_pendulum]
algorithms: [mbpo, sac]
seeds: [7]
env_steps: 800
eval: {every: 100, episodes: 2}
device: cpu
checkpoint_every: 2
overrides:
  mbpo:
    all: {n_initial_exploration_steps: 100, min_pool_size: 100, epoch_length: 100, model_train_freq: 100,
          rollout_batch_size: 100, rollout_schedule: [1, 4, 1, 3], n_train_repeat: 2, ensemble_size: 3,
          num_elites: 2, model_hidden: 16, model_layers: 2, model_max_epochs: 3, sac_hidden: 16, batch_size: 32}
  sac:
    all: {n_initial_exploration_steps: 100, min_pool_size: 100, sac_hidden: 16, batch_size: 32}
"""


def micro_suite(
    tmp_path: Path, name: str, task: str, algorithm: str, overrides: dict, device: str = "cpu", **fields
) -> Path:
    """A one-run suite file (seed, env_steps, eval every/episodes from ``fields``) with ``overrides``."""
    suite = {
        "name": name,
        "tasks": [task],
        "algorithms": [algorithm],
        "seeds": [fields["seed"]],
        "env_steps": fields["env_steps"],
        "eval": {"every": fields["every"], "episodes": fields["episodes"]},
        "device": device,
        "checkpoint_every": 1,
        "overrides": {algorithm: {"all": dict(overrides)}} if overrides else {},
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


def unbroken_and_resumed(tmp_path: Path, suite_file: Path, stop_at: int):
    """Run the suite's single run unbroken, and again stopped once past env step ``stop_at`` then resumed;
    return both progress CSVs without their timing columns (resume is exact on CPU: they must be equal)."""
    import pandas as pd

    from mbrlbench.rundir import TIMING_COLUMNS
    from mbrlbench.runner.lifecycle import run_one
    from mbrlbench.runner.signals import StopFlag
    from mbrlbench.suite import load_suite

    (spec,) = load_suite(suite_file).runs
    assert run_one(spec, tmp_path / "unbroken", threads_per_run=1) == "completed"
    stop = StopFlag()

    def stop_once_past(progress) -> None:
        if progress.env_step >= stop_at:
            stop.set("test")

    assert run_one(spec, tmp_path / "broken", threads_per_run=1, stop=stop, progress=stop_once_past) == "interrupted"
    assert run_one(spec, tmp_path / "broken", threads_per_run=1) == "completed"
    return tuple(
        pd.read_csv(spec.run_dir(tmp_path / root) / "progress.csv").drop(columns=list(TIMING_COLUMNS))
        for root in ("unbroken", "broken")
    )


def make_run(
    root: Path,
    task: str,
    algo: str,
    seed: int,
    steps,
    returns,
    state="completed",
    suite="syn",
    fidelity="official-code",
    extra=None,
    config_extra=None,
) -> Path:
    run_dir = RunKey(suite, task, algo, seed).path(root)
    run_dir.mkdir(parents=True)
    df = pd.DataFrame(
        {
            "env_step": steps,
            "eval_return_mean": returns,
            "eval_return_std": 0.0,
            "eval_episodes": 10,
            "train_return": np.nan,
            "wall_time_s": np.arange(1, len(steps) + 1) * 60.0,
            **(extra or {}),
        }
    )
    df.to_csv(run_dir / PROGRESS, index=False)
    config = {
        "suite": suite,
        "task": {"name": task},
        "algorithm": algo,
        "variant": algo,
        "seed": seed,
        "env_steps": int(max(steps)),
        "fidelity": fidelity,
        **(config_extra or {}),
    }
    write_yaml(run_dir / CONFIG, config)
    write_json(run_dir / STATUS, {"state": state})
    return run_dir


@dataclass
class CliResult:
    """What a command line gives back, named as ``subprocess.CompletedProcess`` names it."""

    returncode: int
    stdout: str
    stderr: str


def cli(*args: object, env: dict[str, str] | None = None, columns: int = 250) -> CliResult:
    """``mbrlbench ARGS`` in this process (typer's CliRunner; no interpreter start, no import of torch again):
    the exit code and both streams. An exception that escapes the command comes back as exit 1 with its
    traceback on stderr, as a real process would show it. Tables are ``columns`` wide, one row per line."""
    from typer.testing import CliRunner

    from mbrlbench.cli import app
    from mbrlbench.cli.app import err_console, out_console

    widths = out_console.width, err_console.width
    out_console.width = err_console.width = columns
    try:
        result = CliRunner().invoke(app, [str(a) for a in args], env=env, catch_exceptions=True)
    finally:
        out_console.width, err_console.width = widths
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "Traceback (most recent call last):\n" + "".join(traceback.format_exception(result.exception))
        return CliResult(1, result.stdout, stderr)
    return CliResult(result.exit_code, result.stdout, stderr)
