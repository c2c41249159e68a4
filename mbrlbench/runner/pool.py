"""The local pool (default launcher): N runs at once, each in its own process; k runs per GPU through
``CUDA_VISIBLE_DEVICES``; a live table read from the run folders; clean stops on Ctrl-C / SIGTERM."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import signal
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.console import Console
from rich.live import Live

from mbrlbench.runner.local import SuiteOutcome
from mbrlbench.runner.lock import RunLocked
from mbrlbench.runner.run_one import RunConflict, StopFlag, run_one
from mbrlbench.runner.signals import stop_on_signals
from mbrlbench.runner.view import status_table
from mbrlbench.suite import RunSpec


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


def _child(spec: RunSpec, out: str, slot: Slot, threads: int, restart: bool, keep: bool, queue) -> None:
    if slot.gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(slot.gpu)
    _die_with_parent()
    stop = StopFlag()
    message = ""
    with stop_on_signals(stop):
        try:
            state = run_one(
                spec, Path(out), device=slot.device, restart=restart, keep_checkpoints=keep, threads=threads, stop=stop
            )
        except RunLocked as err:
            state, message = "locked", str(err)
        except RunConflict as err:
            state, message = "conflict", str(err)
    queue.put((str(spec.run_dir(Path(out))), state, message))


def _terminate(procs: list, wait_seconds: float) -> None:
    """SIGTERM each child (it checkpoints at its next env step); optionally wait for them to exit."""
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
    deadline = time.time() + wait_seconds
    for proc in procs if wait_seconds else []:
        proc.join(max(0.0, deadline - time.time()))


def _drain(queue, reported: dict[str, tuple[str, str]], timeout: float | None) -> None:
    """Move the children's (run folder, state, message) results from the queue into ``reported``."""
    with contextlib.suppress(Exception):  # queue.Empty ends the loop
        while True:
            run_dir, state, message = queue.get(timeout=timeout) if timeout else queue.get_nowait()
            reported[run_dir] = (state, message)


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
    console = console or Console(stderr=True)
    outcome = SuiteOutcome()
    if not runs:
        return outcome
    slots = plan_slots(device or runs[0].device, jobs, runs_per_gpu)
    cpu_slots = sum(s.gpu is None for s in slots)
    threads = threads_per_run or max(1, (os.cpu_count() or 1) // max(cpu_slots, 1))
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    pending = deque(runs)
    active: dict[int, tuple[mp.Process, RunSpec]] = {}
    reported: dict[str, tuple[str, str]] = {}
    run_dirs = [r.run_dir(out) for r in runs]
    stop = StopFlag()

    def forward() -> None:
        _terminate([proc for proc, _ in active.values()], wait_seconds=150 if chain_signals else 0)

    def record(run_dir: str, state: str, message: str) -> None:
        outcome.add(state, run_dir)
        if state in ("locked", "conflict", "failed", "crashed"):
            console.print(f"{run_dir}: {state}" + (f" ({message})" if message else ""), highlight=False)

    with (
        stop_on_signals(stop, forward=forward, chain=chain_signals),
        Live(status_table(run_dirs, title), console=console, refresh_per_second=2, transient=False) as live,
    ):
        last_draw = 0.0
        while pending or active:
            free = [i for i in range(len(slots)) if i not in active]
            while pending and free and not stop:
                i, spec = free.pop(0), pending.popleft()
                proc = ctx.Process(
                    target=_child,
                    args=(spec, str(out), slots[i], threads, restart, keep_checkpoints, queue),
                    daemon=False,
                )
                proc.start()
                active[i] = (proc, spec)
            _drain(queue, reported, timeout=None)
            for i, (proc, spec) in list(active.items()):
                if proc.exitcode is None:
                    continue
                key = str(spec.run_dir(out))
                if key not in reported:  # the child may have just put its result: give the queue a moment
                    _drain(queue, reported, timeout=0.5)
                state, message = reported.get(key, ("crashed", f"exit code {proc.exitcode}"))
                record(key, state, message)
                del active[i]
            if stop and not active:
                for spec in pending:
                    outcome.add("not started", str(spec.run_dir(out)))
                pending.clear()
            if time.time() - last_draw > 1.0:
                live.update(status_table(run_dirs, title))
                last_draw = time.time()
            time.sleep(0.1)
        live.update(status_table(run_dirs, title))
    return outcome
