"""One run's life: lock its folder, start or resume, train between evaluations, log, checkpoint, finish.

The runner owns evaluation, logging, checkpoints and resume; the algorithm owns its training loop and calls
the run's :class:`RunControl` at every env step, its safe point (progress is reported there, and the answer says
whether to return: a signal, or a checkpoint due). ``RunLifecycle`` holds the folder, its lock and status;
``Training`` the opened run: the algorithm, progress.csv and the clocks.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from mbrlbench.algorithms import registry
from mbrlbench.algorithms.base import Algorithm, seed_everything
from mbrlbench.rundir import (
    CHECKPOINT,
    CONFIG,
    LOG,
    POLICY,
    PROGRESS,
    REQUIRED_COLUMNS,
    STATUS,
    TENSORBOARD,
    ProgressCSV,
    RunState,
    read_state,
    write_yaml,
)
from mbrlbench.runner.checkpoint import load_checkpoint, save_checkpoint
from mbrlbench.runner.evaluate import Evaluator
from mbrlbench.runner.folder import FolderAction, prepare_folder
from mbrlbench.runner.lock import RunLock
from mbrlbench.runner.run_config import full_config, now
from mbrlbench.runner.signals import StopFlag
from mbrlbench.runner.spec import RunSpec
from mbrlbench.runner.status_file import Heartbeat, StatusFile
from mbrlbench.runner.tensorboard import TensorBoardMirror


@dataclass
class RunProgress:
    spec: RunSpec
    env_step: int
    last_return: float
    steps_per_second: float


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for but CUDA is not available")
    return torch.device(device)


class RunControl:
    """What the algorithm calls at every env step, its safe point: the runner reports progress there (at most
    once a second) and answers whether ``train`` must return now, for a stop signal or a checkpoint due."""

    def __init__(self, training: Training) -> None:
        self.training = training

    def at_safe_point(self) -> bool:
        self.training.report_progress()
        return bool(self.training.run.stop) or self.training.checkpoint_due()


class RunLifecycle:
    """One run from its folder's lock to its final state; ``run()`` returns that state."""

    def __init__(
        self,
        spec: RunSpec,
        out: Path,
        *,
        device: str | None = None,
        restart: bool = False,
        keep_checkpoints: bool = False,
        threads_per_run: int | None = None,
        stop: StopFlag | None = None,
        progress: Callable[[RunProgress], None] | None = None,
    ) -> None:
        self.spec, self.restart, self.keep_checkpoints = spec, restart, keep_checkpoints
        self.device_name, self.threads_per_run = device or spec.device, threads_per_run
        self.stop = stop if stop is not None else StopFlag()
        self.progress = progress
        self.run_dir = spec.run_dir(out)
        self.status = StatusFile(self.run_dir / STATUS)
        self._log_file: IO[str] | None = None
        self.mirror: TensorBoardMirror | None = None

    def run(self) -> RunState:
        if read_state(self.run_dir) == RunState.COMPLETED and not self.restart:
            prepare_folder(self.spec, self.run_dir, self.restart)  # still refuses a completed run of another config
            return RunState.COMPLETED
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with RunLock(self.run_dir) as lock:
            self.stop.listeners.append(lock.mark_stopping)
            try:
                return self._run_locked(lock)
            finally:
                self.stop.listeners.remove(lock.mark_stopping)

    def _run_locked(self, lock: RunLock) -> RunState:
        """Start, resume or skip the run whose lock this process holds; its final state."""
        if self.stop:
            lock.mark_stopping()
        action = prepare_folder(self.spec, self.run_dir, self.restart)
        if action is FolderAction.SKIP:
            return RunState.COMPLETED
        self.status = StatusFile(self.run_dir / STATUS)  # re-read under the lock (--restart wiped it)
        evaluator: Evaluator | None = None
        try:
            device = self._open(action)

            def beat() -> None:
                lock.heartbeat()
                self.status.write()

            with Heartbeat(beat):
                training = self._start_or_resume(action, device)
                evaluator = Evaluator.for_run(self.spec)
                state = training.train(evaluator)
            return self._finish(state, training)
        except Exception as err:
            return self._fail(err)
        finally:
            if evaluator is not None:
                evaluator.close()
            if self.mirror is not None:
                self.mirror.close()
            if self._log_file is not None:
                self._log_file.close()

    def _open(self, action: FolderAction) -> torch.device:
        """The run's device and threads, its log, and status.json marked running (config.yaml when new)."""
        device = resolve_device(self.device_name)
        if device.type == "cpu":
            torch.set_num_threads(self.threads_per_run or os.cpu_count() or 1)
        self._log_file = open(self.run_dir / LOG, "a")
        data = self.status.data
        self.status.update(
            state=RunState.RUNNING.value,
            env_step=data.get("env_step", 0),
            env_steps=self.spec.env_steps,
            started=data.get("started") or now(),
            finished=None,
            error=None,
            host=socket.gethostname(),
            pid=os.getpid(),
            device=str(device),
        )
        if action is FolderAction.START:
            write_yaml(self.run_dir / CONFIG, full_config(self.spec, device))
        self.status.write()
        return device

    def _start_or_resume(self, action: FolderAction, device: torch.device) -> Training:
        spec = self.spec
        seed_everything(spec.seed)
        algo = registry.build(spec.algorithm, spec.config, spec.task, device, spec.seed)
        columns = (*REQUIRED_COLUMNS, *algo.diagnostic_keys, *algo.evaluation_keys)
        self.mirror = TensorBoardMirror(self.run_dir / TENSORBOARD) if spec.tensorboard else None
        csv = ProgressCSV(self.run_dir / PROGRESS, columns, self.mirror)
        rows, wall_before, seen_finite = 0, 0.0, set[str]()
        if action is FolderAction.RESUME:
            state = load_checkpoint(self.run_dir / CHECKPOINT, device)
            algo.load_state_dict(state["algorithm"])
            rows, wall_before, seen_finite = state["rows"], state["wall_time_s"], set(state["seen_finite"])
            csv.truncate(rows)
            self.log(f"resumed at env step {algo.env_steps} with {rows} rows")
        else:
            csv.create()
            self.log(f"started {spec.variant} on {spec.task.name} seed {spec.seed} ({device})")
        return Training(self, algo, csv, rows, wall_before, seen_finite)

    def _finish(self, state: RunState, training: Training) -> RunState:
        env_step = training.algo.env_steps
        if state == RunState.COMPLETED:
            training.save_policy()
            self.status.write(state=state.value, env_step=env_step, finished=now())
            self.log("completed")
            if not self.keep_checkpoints:
                (self.run_dir / CHECKPOINT).unlink(missing_ok=True)
        else:
            self.status.write(state=state.value, env_step=env_step)
        return state

    def _fail(self, err: Exception) -> RunState:
        self.log("failed:\n" + traceback.format_exc())
        message = f"{type(err).__name__}: {err}".splitlines()[0]
        self.status.write(state=RunState.FAILED.value, error=message, finished=now())
        return RunState.FAILED

    def log(self, message: str) -> None:
        if self._log_file is None:
            return
        with contextlib.suppress(OSError):  # a full disk must not hide the run's real error
            self._log_file.write(f"{now()} {message}\n")
            self._log_file.flush()


class Training:
    """An opened run: its algorithm, its progress.csv and the clocks; trains to each evaluation point, logs a
    row there, checkpoints, and reports progress."""

    def __init__(
        self,
        run: RunLifecycle,
        algo: Algorithm,
        csv: ProgressCSV,
        rows: int,
        wall_before: float,
        seen_finite: set[str],
    ) -> None:
        self.run, self.spec, self.algo, self.csv = run, run.spec, algo, csv
        self.rows, self.wall_before, self.seen_finite = rows, wall_before, seen_finite
        self.last_return = float("nan")
        self.t0 = self.last_checkpoint = self.t_rate = time.time()
        self.last_report = self.last_status = 0.0
        self.steps_at_start = algo.env_steps

    def train(self, evaluator: Evaluator) -> RunState:
        """Train to each evaluation point in turn; a stop request checkpoints and returns INTERRUPTED."""
        spec, algo, control = self.spec, self.algo, RunControl(self)
        while algo.env_steps < spec.env_steps:
            # the next eval point after the current step (iteration-based algorithms may overshoot)
            until = min((algo.env_steps // spec.eval_every + 1) * spec.eval_every, spec.env_steps)
            diagnostics = algo.train(until, control)
            if algo.env_steps < until:  # stopped early at a safe point
                self.checkpoint()
                if self.run.stop:
                    self.run.log(f"interrupted ({self.run.stop.reason}) at env step {algo.env_steps}; checkpoint saved")
                    return RunState.INTERRUPTED
                continue
            self.evaluate_and_log(evaluator, diagnostics)
            if self.rows % spec.checkpoint_every == 0 or self.checkpoint_due():
                self.checkpoint()
            self.report_progress(force=True)
        return RunState.COMPLETED

    def evaluate_and_log(self, evaluator: Evaluator, diagnostics: dict[str, float]) -> None:
        """One evaluation row of progress.csv; a diagnostic that turns non-finite after being finite (or is
        infinite) fails the run rather than logging garbage."""
        algo = self.algo
        episodes = evaluator.episodes(lambda o: algo.act(o, deterministic=True), self.rows)
        returns = np.array([e.ret for e in episodes])
        diagnostics = {**diagnostics, **algo.evaluation_diagnostics(episodes)}
        row = {
            "env_step": algo.env_steps,
            "eval_return_mean": float(returns.mean()),
            "eval_return_std": float(returns.std()),
            "eval_episodes": len(returns),
            "train_return": algo.pop_train_return(),
            "wall_time_s": round(self.wall(), 3),
            **diagnostics,
        }
        for key in algo.diagnostic_keys:
            value = float(diagnostics.get(key, float("nan")))
            if math.isfinite(value):
                self.seen_finite.add(key)
            elif key in self.seen_finite or math.isinf(value):
                raise FloatingPointError(f"{key} became {value} at env step {algo.env_steps}")
        for key in algo.evaluation_keys:  # NaN is legitimate (no episode long enough for k steps); inf is not
            if math.isinf(float(diagnostics.get(key, float("nan")))):
                raise FloatingPointError(f"{key} became {diagnostics[key]} at env step {algo.env_steps}")
        if not math.isfinite(row["eval_return_mean"]):
            raise FloatingPointError(f"evaluation return is {row['eval_return_mean']}")
        self.csv.append(row)
        self.rows += 1
        self.last_return = row["eval_return_mean"]
        self.run.log(f"env step {algo.env_steps}: eval return {self.last_return:.1f}")

    def checkpoint(self) -> None:
        state = {
            "algorithm": self.algo.state_dict(),
            "rows": self.rows,
            "wall_time_s": self.wall(),
            "seen_finite": sorted(self.seen_finite),
        }
        save_checkpoint(self.run.run_dir / CHECKPOINT, state)
        self.save_policy()
        self.last_checkpoint = time.time()

    def save_policy(self) -> None:
        """policy.pt: the acting policy alone, small, kept after the checkpoint is deleted."""
        spec = self.spec
        meta: dict[str, Any] = {"suite": spec.suite, "task": spec.task.to_dict(), "algorithm": spec.algorithm}
        meta |= {"variant": spec.variant, "seed": spec.seed, "env_step": self.algo.env_steps}
        save_checkpoint(self.run.run_dir / POLICY, self.algo.policy_spec().payload(meta), faults=False)

    def checkpoint_due(self) -> bool:
        return time.time() - self.last_checkpoint > 60 * self.spec.checkpoint_minutes

    def report_progress(self, force: bool = False) -> None:
        """At most once a second: the live display; every 5 s, status.json (env step, last return, speed),
        which is what the other launchers' views read."""
        t = time.time()
        if not force and t - self.last_report <= 1.0:
            return
        self.last_report = t
        env_step = self.algo.env_steps
        rate = (env_step - self.steps_at_start) / max(t - self.t_rate, 1e-9)
        self.run.status.update(env_step=env_step, last_return=self.last_return, steps_per_second=rate)
        if force or t - self.last_status > 5.0:
            self.last_status = t
            self.run.status.write()
        if self.run.progress:
            self.run.progress(RunProgress(self.spec, env_step, self.last_return, rate))

    def wall(self) -> float:
        return self.wall_before + time.time() - self.t0


def run_one(
    spec: RunSpec,
    out: Path,
    *,
    device: str | None = None,
    restart: bool = False,
    keep_checkpoints: bool = False,
    threads_per_run: int | None = None,
    stop: StopFlag | None = None,
    progress: Callable[[RunProgress], None] | None = None,
) -> RunState:
    """Runs (or resumes, or skips) one run; returns its final state."""
    lifecycle = RunLifecycle(
        spec,
        out,
        device=device,
        restart=restart,
        keep_checkpoints=keep_checkpoints,
        threads_per_run=threads_per_run,
        stop=stop,
        progress=progress,
    )
    return lifecycle.run()
