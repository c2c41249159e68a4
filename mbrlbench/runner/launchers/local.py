"""The local pool (default launcher): N runs at once, each in its own process; k runs per GPU through
``CUDA_VISIBLE_DEVICES``; a live table read from the run folders; clean stops on Ctrl-C / SIGTERM."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import queue as queue_module
import signal
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.live import Live

from mbrlbench.rundir import FAILED_STATES, RunState
from mbrlbench.runner.lifecycle import run_one
from mbrlbench.runner.outcome import SuiteOutcome, attempt
from mbrlbench.runner.signals import StopFlag, stop_on_signals
from mbrlbench.runner.spec import RunSpec
from mbrlbench.runner.view import status_table
from mbrlbench.support.console import plain_console


@dataclass(frozen=True)
class Slot:
    """Where a child runs: a torch device string and, on GPUs, the physical GPU it may see."""

    device: str
    gpu: int | None


def plan_slots(device: str, jobs: int | None, runs_per_gpu: int) -> list[Slot]:
    """CPU: ``jobs`` slots (default 1). GPU: ``runs_per_gpu`` slots per visible GPU (or ``jobs``, spread
    round-robin over the GPUs)."""
    use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if not use_cuda:
        return [Slot("cpu", None)] * (jobs or 1)
    gpus = [int(device.split(":")[1])] if ":" in device else list(range(torch.cuda.device_count()))
    n = jobs or len(gpus) * runs_per_gpu
    return [Slot("cuda", gpus[i % len(gpus)]) for i in range(n)]


def _die_with_parent() -> None:
    """Linux: get SIGTERM (checkpoint and stop) if the launching process dies, never run orphaned."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _child(spec: RunSpec, out: str, slot: Slot, threads_per_run: int, restart: bool, keep: bool, queue: Any) -> None:
    if slot.gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(slot.gpu)
    _die_with_parent()
    stop = StopFlag()
    run_dir = spec.run_dir(Path(out))

    def one() -> RunState:
        return run_one(
            spec,
            Path(out),
            device=slot.device,
            restart=restart,
            keep_checkpoints=keep,
            threads_per_run=threads_per_run,
            stop=stop,
        )

    with stop_on_signals(stop):
        state, message = attempt(one, run_dir)
    queue.put((str(run_dir), state.value, message))


def _terminate(procs: list, wait_seconds: float) -> None:
    """SIGTERM each child (it checkpoints at its next env step); optionally wait for them to exit."""
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
    deadline = time.time() + wait_seconds
    for proc in procs if wait_seconds else []:
        proc.join(max(0.0, deadline - time.time()))


def _drain(queue: Any, reported: dict[str, tuple[RunState, str]], timeout: float | None) -> None:
    """Move the children's (run folder, state, message) results from the queue into ``reported``."""
    while True:
        try:
            run_dir, state, message = queue.get(timeout=timeout) if timeout else queue.get_nowait()
        except queue_module.Empty:
            return
        reported[run_dir] = (RunState(state), message)


def run_pool(
    runs: Sequence[RunSpec],
    out: Path,
    *,
    device: str | None = None,
    jobs: int | None = None,
    runs_per_gpu: int = 1,
    threads_per_run: int | None = None,
    restart: bool = False,
    keep_checkpoints: bool = False,
    console: Console | None = None,
    title: str = "suite",
    chain_signals: bool = False,
) -> SuiteOutcome:
    """``chain_signals`` (Slurm): on a stop signal, wait for the runs to checkpoint, then call the handler
    installed before ours (submitit's requeue)."""
    if not runs:
        return SuiteOutcome()
    slots = plan_slots(device or runs[0].device, jobs, runs_per_gpu)
    cpu_slots = sum(s.gpu is None for s in slots)
    threads_per_run = threads_per_run or max(1, (os.cpu_count() or 1) // max(cpu_slots, 1))
    pool = _Pool(
        runs, Path(out), slots, (threads_per_run, restart, keep_checkpoints), console or plain_console(stderr=True)
    )
    stop = pool.stop

    def forward() -> None:
        _terminate([proc for proc, _ in pool.active.values()], wait_seconds=150 if chain_signals else 0)

    run_dirs = [r.run_dir(out) for r in runs]
    with (
        stop_on_signals(stop, forward=forward, chain=chain_signals),
        Live(status_table(run_dirs, title), console=pool.console, refresh_per_second=2, transient=False) as live,
    ):
        last_draw = 0.0
        while pool.pending or pool.active:
            pool.start_free_slots()
            pool.collect_finished()
            if time.time() - last_draw > 1.0:
                live.update(status_table(run_dirs, title))
                last_draw = time.time()
            time.sleep(0.1)
        live.update(status_table(run_dirs, title))
    return pool.outcome


class _Pool:
    """The pool's bookkeeping: runs waiting, children running per slot, results reported."""

    def __init__(
        self, runs: Sequence[RunSpec], out: Path, slots: list[Slot], child_args: tuple, console: Console
    ) -> None:
        self.out, self.slots, self.child_args, self.console = out, slots, child_args, console
        self.ctx = mp.get_context("spawn")
        self.queue = self.ctx.Queue()
        self.pending = deque(runs)
        self.active: dict[int, tuple[BaseProcess, RunSpec]] = {}
        self.reported: dict[str, tuple[RunState, str]] = {}
        self.outcome = SuiteOutcome()
        self.stop = StopFlag()

    def start_free_slots(self) -> None:
        free = [i for i in range(len(self.slots)) if i not in self.active]
        while self.pending and free and not self.stop:
            i, spec = free.pop(0), self.pending.popleft()
            args = (spec, str(self.out), self.slots[i], *self.child_args, self.queue)
            proc = self.ctx.Process(target=_child, args=args, daemon=False)
            proc.start()
            self.active[i] = (proc, spec)

    def collect_finished(self) -> None:
        _drain(self.queue, self.reported, timeout=None)
        for i, (proc, spec) in list(self.active.items()):
            if proc.exitcode is None:
                continue
            key = str(spec.run_dir(self.out))
            if key not in self.reported:  # the child may have just put its result: give the queue a moment
                _drain(self.queue, self.reported, timeout=0.5)
            state, message = self.reported.get(key, (RunState.CRASHED, f"exit code {proc.exitcode}"))
            self.record(key, state, message)
            del self.active[i]
        if self.stop and not self.active:
            for spec in self.pending:
                self.outcome.add(RunState.NOT_STARTED, str(spec.run_dir(self.out)))
            self.pending.clear()

    def record(self, run_dir: str, state: RunState, message: str) -> None:
        self.outcome.add(state, run_dir, message)
        if state in (RunState.LOCKED, *FAILED_STATES):
            self.console.print(
                f"{run_dir}: {state}" + (f" ({message})" if message else ""), highlight=False, markup=False
            )
