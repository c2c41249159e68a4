"""One run: resolve the folder, resume or start, train between evaluations, log, checkpoint, finish.

The runner owns evaluation, logging, checkpoints and resume; the algorithm owns its training loop.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import platform
import shutil
import socket
import subprocess
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from mbrlbench import algorithms
from mbrlbench.algorithms.base import Algorithm, seed_everything
from mbrlbench.runner.files import (
    REQUIRED_COLUMNS,
    ProgressCSV,
    read_json,
    save_checkpoint,
    write_json,
    write_yaml,
)
from mbrlbench.runner.lock import HEARTBEAT_SECONDS, RunLock
from mbrlbench.suite import RunSpec


class RunConflict(Exception):
    """The folder holds a run of another configuration (needs ``--restart``)."""


class StopFlag:
    """Set by signal handlers; checked by algorithms at every env step (a safe point)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reason = ""

    def set(self, reason: str) -> None:
        self.reason = reason
        self.event.set()

    def __bool__(self) -> bool:
        return self.event.is_set()


@dataclass
class RunProgress:
    spec: RunSpec
    env_step: int
    last_return: float
    steps_per_second: float


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for but CUDA is not available")
    return torch.device(device)


# ------------------------------------------------------------------------------------------ config
def algorithmic_config(spec: RunSpec) -> dict[str, Any]:
    """The fields that decide what a run computes; their hash guards resume."""
    return {
        "suite": spec.suite,
        "task": spec.task.to_dict(),
        "algorithm": spec.algorithm,
        "variant": spec.variant,
        "seed": spec.seed,
        "env_steps": spec.env_steps,
        "eval": {"every": spec.eval_every, "episodes": spec.eval_episodes},
        "hyperparameters": spec.config.model_dump(mode="json"),
    }


def config_hash(spec: RunSpec) -> str:
    blob = json.dumps(algorithmic_config(spec), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("mbrlbench", "torch", "gymnasium", "mujoco", "numpy"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[pkg] = metadata.version(pkg)
    return out


def _git_commit() -> str | None:
    try:
        root = Path(__file__).resolve().parents[2]
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def full_config(spec: RunSpec, device: torch.device) -> dict[str, Any]:
    return {
        **algorithmic_config(spec),
        "fidelity": spec.fidelity,
        "paper_metric": algorithms.ALGORITHMS[spec.algorithm].paper_metric,  # the column the report compares
        "deviations": list(spec.deviations),
        "config_hash": config_hash(spec),
        "recorded": {  # not hashed: another machine or commit never blocks a resume
            "device": str(device),
            "hardware": {
                "cpu": platform.processor() or platform.machine(),
                "cpus": os.cpu_count(),
                "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
            },
            "versions": _versions(),
            "git_commit": _git_commit(),
            "created": now(),
        },
    }


# -------------------------------------------------------------------------------------- evaluation
class Evaluator:
    """``episodes`` deterministic episodes in lockstep through one batched ``act`` per step. Reset seeds
    depend on (run seed, evaluation index) only, so a resumed run evaluates exactly as an unbroken one."""

    def __init__(self, spec: RunSpec) -> None:
        self.envs = [spec.task.make_env() for _ in range(spec.eval_episodes)]
        self.base_seed = 1_000_003 * (spec.seed + 1)

    def __call__(self, act: Callable[[np.ndarray], np.ndarray], index: int) -> np.ndarray:
        n = len(self.envs)
        first = self.base_seed + index * n
        obs = np.stack([env.reset(seed=first + i)[0] for i, env in enumerate(self.envs)])
        returns = np.zeros(n)
        active = np.ones(n, dtype=bool)
        while active.any():
            idx = np.flatnonzero(active)
            actions = act(obs[idx])
            for j, i in enumerate(idx):
                o, r, terminated, truncated, _ = self.envs[i].step(actions[j])
                returns[i] += r
                obs[i] = o
                if terminated or truncated:
                    active[i] = False
        return returns

    def close(self) -> None:
        for env in self.envs:
            env.close()


# ------------------------------------------------------------------------------------------ the run
class _Heartbeat:
    """Refreshes ``status.json``'s heartbeat from a thread, so locks on shared filesystems see life."""

    def __init__(self, write: Callable[[], None]) -> None:
        self._write, self._stop = write, threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            with contextlib.suppress(OSError):
                self._write()

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def prepare_folder(spec: RunSpec, run_dir: Path, restart: bool) -> str:
    """Under the run's lock: 'skip' (completed), 'resume' (has a checkpoint) or 'start'; raises RunConflict."""
    config_path = run_dir / "config.yaml"
    if restart:
        for child in run_dir.iterdir():
            if child.name != "lock.json":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        return "start"
    for stale in run_dir.glob(".*.tmp"):  # temp files of writes a kill interrupted
        stale.unlink(missing_ok=True)
    if not config_path.exists():
        return "start"
    existing = yaml.safe_load(config_path.read_text()) or {}
    if existing.get("config_hash") != config_hash(spec):
        raise RunConflict(
            f"{run_dir}: holds a run of another configuration "
            f"(hash {existing.get('config_hash')} != {config_hash(spec)}); use --restart to replace it"
        )
    if (read_json(run_dir / "status.json") or {}).get("state") == "completed":
        return "skip"
    return "resume" if (run_dir / "checkpoint.pt").exists() else "start"


def run_one(  # noqa: C901 - the run's life in one readable function
    spec: RunSpec,
    out: Path,
    *,
    device: str | None = None,
    restart: bool = False,
    keep_checkpoints: bool = False,
    threads: int | None = None,
    stop: StopFlag | None = None,
    progress: Callable[[RunProgress], None] | None = None,
) -> str:
    """Runs (or resumes, or skips) one run; returns its final state."""
    stop = stop if stop is not None else StopFlag()
    run_dir = spec.run_dir(out)
    if (read_json(run_dir / "status.json") or {}).get("state") == "completed" and not restart:
        prepare_folder(spec, run_dir, restart)  # still refuses a completed run of another config
        return "completed"
    run_dir.mkdir(parents=True, exist_ok=True)
    with RunLock(run_dir) as lock:
        action = prepare_folder(spec, run_dir, restart)
        if action == "skip":
            return "completed"
        torch_device = resolve_device(device or spec.device)
        if torch_device.type == "cpu":
            torch.set_num_threads(threads or os.cpu_count() or 1)
        status: dict[str, Any] = read_json(run_dir / "status.json") or {}
        status.update(
            {
                "state": "running",
                "env_step": status.get("env_step", 0),
                "env_steps": spec.env_steps,
                "started": status.get("started") or now(),
                "finished": None,
                "error": None,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "device": str(torch_device),
            }
        )

        def write_status(**changes: Any) -> None:
            status.update(changes, heartbeat=now(), heartbeat_unix=time.time())
            write_json(run_dir / "status.json", status)

        log_file = open(run_dir / "run.log", "a")

        def log(message: str) -> None:
            log_file.write(f"{now()} {message}\n")
            log_file.flush()

        evaluator: Evaluator | None = None
        try:
            if action == "start":
                write_yaml(run_dir / "config.yaml", full_config(spec, torch_device))
            write_status()
            with _Heartbeat(lambda: (lock.heartbeat(), write_status())):
                seed_everything(spec.seed)
                algo: Algorithm = algorithms.build(spec.algorithm, spec.config, spec.task, torch_device, spec.seed)
                csv = ProgressCSV(run_dir / "progress.csv", (*REQUIRED_COLUMNS, *algo.diagnostic_keys))
                checkpoint_path = run_dir / "checkpoint.pt"
                rows, wall_before = 0, 0.0
                seen_finite: set[str] = set()
                if action == "resume":
                    state = torch.load(checkpoint_path, map_location=torch_device, weights_only=False)
                    algo.load_state_dict(state["algorithm"])
                    rows, wall_before, seen_finite = state["rows"], state["wall_time_s"], set(state["seen_finite"])
                    csv.truncate(rows)
                    log(f"resumed at env step {algo.env_steps} with {rows} rows")
                else:
                    csv.create()
                    log(f"started {spec.variant} on {spec.task.name} seed {spec.seed} ({torch_device})")
                evaluator = Evaluator(spec)
                t0 = time.time()
                last_checkpoint = time.time()
                last_return = float("nan")

                def wall() -> float:
                    return wall_before + time.time() - t0

                def checkpoint() -> None:
                    nonlocal last_checkpoint
                    save_checkpoint(
                        checkpoint_path,
                        {
                            "algorithm": algo.state_dict(),
                            "rows": rows,
                            "wall_time_s": wall(),
                            "seen_finite": sorted(seen_finite),
                        },
                    )
                    last_checkpoint = time.time()

                steps_at_start, t_rate = algo.env_steps, time.time()
                last_report = last_status = 0.0

                def time_for_checkpoint() -> bool:
                    return time.time() - last_checkpoint > 60 * spec.checkpoint_minutes

                def report_progress(force: bool = False) -> bool:
                    """At most once a second (also between evaluations): the live display, and every 5 s
                    status.json (env step, last return, speed), which is what other launchers' views read.
                    Never asks to stop."""
                    nonlocal last_report, last_status
                    t = time.time()
                    if force or t - last_report > 1.0:
                        last_report = t
                        rate = (algo.env_steps - steps_at_start) / max(t - t_rate, 1e-9)
                        status.update(env_step=algo.env_steps, last_return=last_return, steps_per_second=rate)
                        if force or t - last_status > 5.0:
                            last_status = t
                            write_status()
                        if progress:
                            progress(RunProgress(spec, algo.env_steps, last_return, rate))
                    return False

                algo.should_stop = lambda: report_progress() or bool(stop) or time_for_checkpoint()
                while algo.env_steps < spec.env_steps:
                    # the next eval point after the current step (iteration-based algorithms may overshoot)
                    until = min((algo.env_steps // spec.eval_every + 1) * spec.eval_every, spec.env_steps)
                    diagnostics = algo.train(until)
                    if algo.env_steps < until:  # stopped early at a safe point
                        checkpoint()
                        if stop:
                            write_status(state="interrupted", env_step=algo.env_steps)
                            log(f"interrupted ({stop.reason}) at env step {algo.env_steps}; checkpoint saved")
                            return "interrupted"
                        continue
                    returns = evaluator(lambda o: algo.act(o, deterministic=True), rows)
                    row = {
                        "env_step": algo.env_steps,
                        "eval_return_mean": float(returns.mean()),
                        "eval_return_std": float(returns.std()),
                        "eval_episodes": len(returns),
                        "train_return": algo.pop_train_return(),
                        "wall_time_s": round(wall(), 3),
                        **diagnostics,
                    }
                    for key in algo.diagnostic_keys:
                        value = float(diagnostics.get(key, float("nan")))
                        if math.isfinite(value):
                            seen_finite.add(key)
                        elif key in seen_finite or math.isinf(value):
                            raise FloatingPointError(f"{key} became {value} at env step {algo.env_steps}")
                    if not math.isfinite(row["eval_return_mean"]):
                        raise FloatingPointError(f"evaluation return is {row['eval_return_mean']}")
                    csv.append(row)
                    rows += 1
                    last_return = row["eval_return_mean"]
                    log(f"env step {algo.env_steps}: eval return {last_return:.1f}")
                    if rows % spec.checkpoint_every == 0 or time_for_checkpoint():
                        checkpoint()
                    report_progress(force=True)
            write_status(state="completed", env_step=algo.env_steps, finished=now())
            log("completed")
            if not keep_checkpoints:
                checkpoint_path.unlink(missing_ok=True)
            return "completed"
        except Exception as err:
            log("failed:\n" + traceback.format_exc())
            message = f"{type(err).__name__}: {err}".splitlines()[0]
            write_status(state="failed", error=message, finished=now())
            return "failed"
        finally:
            if evaluator is not None:
                evaluator.close()
            log_file.close()
