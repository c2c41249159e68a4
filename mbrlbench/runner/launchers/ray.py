"""Ray launcher: each run is a Ray task with the given resources, retried on worker failure and resuming
from its checkpoint. The results folder must be on a filesystem every node shares (NFS, Lustre, ...): a
task on a node that cannot write it fails with a message that says so."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.live import Live

from mbrlbench.errors import UserInputError
from mbrlbench.rundir import RunState
from mbrlbench.runner.outcome import SuiteOutcome, attempt
from mbrlbench.runner.spec import RunSpec
from mbrlbench.runner.view import status_table
from mbrlbench.support.console import plain_console

MISSING = "the ray launcher needs Ray: pip install 'mbrlbench[ray]'"


class SharedFolderError(UserInputError):
    """A node cannot write the results folder."""


def check_writable(out: Path) -> None:
    probe = out / f".write-probe-{socket.gethostname()}-{os.getpid()}"
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        raise SharedFolderError(
            f"node {socket.gethostname()} cannot write {out} ({err.strerror}): put the results folder on a "
            "filesystem all nodes share (--out /shared/path)"
        ) from None


def _ray_task(spec: RunSpec, out: str, device: str, threads_per_run: int, restart: bool, keep: bool) -> tuple[str, str]:
    from mbrlbench.runner.lifecycle import run_one

    check_writable(Path(out))

    def one() -> RunState:
        return run_one(
            spec, Path(out), device=device, restart=restart, keep_checkpoints=keep, threads_per_run=threads_per_run
        )

    state, message = attempt(one, spec.run_dir(Path(out)))
    return state.value, message


def run_ray(
    runs: Sequence[RunSpec],
    out: Path,
    *,
    address: str | None = None,
    cpus_per_run: float = 1.0,
    gpus_per_run: float = 0.0,
    restart: bool = False,
    keep_checkpoints: bool = False,
    max_retries: int = 3,
    console: Console | None = None,
    title: str = "suite",
) -> SuiteOutcome:
    try:
        import ray
    except ImportError:
        raise UserInputError(MISSING) from None
    console = console or plain_console(stderr=True)
    out = Path(out).resolve()
    check_writable(out)
    if not ray.is_initialized():
        ray.init(address=address, ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
    device = "cuda" if gpus_per_run > 0 else "cpu"
    task = ray.remote(num_cpus=cpus_per_run, num_gpus=gpus_per_run, max_retries=max_retries)(_ray_task)
    threads_per_run = max(1, int(cpus_per_run))
    refs = {task.remote(spec, str(out), device, threads_per_run, restart, keep_checkpoints): spec for spec in runs}
    outcome = SuiteOutcome()
    run_dirs = [r.run_dir(out) for r in runs]
    with Live(status_table(run_dirs, title), console=console, refresh_per_second=1) as live:
        waiting = list(refs)
        while waiting:
            done, waiting = ray.wait(waiting, num_returns=len(waiting), timeout=1.0)
            for ref in done:
                run_dir = str(refs[ref].run_dir(out))
                try:
                    state, message = ray.get(ref)
                except Exception as err:  # a task that raised (e.g. SharedFolderError) or exhausted retries
                    state, message = RunState.FAILED.value, str(err).strip().splitlines()[-1]
                outcome.add(state, run_dir, message)
                if state != RunState.COMPLETED:
                    console.print(
                        f"{run_dir}: {state}" + (f" ({message})" if message else ""), highlight=False, markup=False
                    )
            live.update(status_table(run_dirs, title))
            time.sleep(0.2)
    return outcome
