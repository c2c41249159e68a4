"""Slurm launcher through submitit: a job array whose tasks each run a local pool over a chunk of runs.

On preemption or time-out Slurm signals the job; the pool passes SIGTERM to its runs, which checkpoint,
then submitit requeues the task (``SuiteChunk.checkpoint``) and the requeued task resumes every run from
its checkpoint. The results folder must be on a filesystem the compute nodes share.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from mbrlbench.errors import UserInputError
from mbrlbench.runner.spec import RunSpec
from mbrlbench.support.console import plain_console

MISSING = "the slurm launcher needs submitit: pip install 'mbrlbench[slurm]'"


def parse_time(text: str) -> int:
    """'HH:MM:SS' (or 'D-HH:MM:SS') -> minutes, rounded up."""
    m = re.fullmatch(r"(?:(\d+)-)?(\d+):(\d{2}):(\d{2})", text)
    if not m:
        raise UserInputError(f"--time {text!r}: expected HH:MM:SS or D-HH:MM:SS")
    days, hours, minutes, seconds = (int(g or 0) for g in m.groups())
    return max(1, math.ceil(days * 1440 + hours * 60 + minutes + seconds / 60))


@dataclass
class SuiteChunk:
    """One array task: a local pool over some runs. Picklable; requeued as itself on preemption."""

    runs: list[RunSpec]
    out: str
    jobs: int
    runs_per_gpu: int
    device: str | None
    threads_per_run: int | None
    restart: bool
    keep_checkpoints: bool

    def __call__(self) -> dict[str, int]:
        from mbrlbench.runner.launchers.local import run_pool

        outcome = run_pool(
            self.runs,
            Path(self.out),
            device=self.device,
            jobs=self.jobs,
            runs_per_gpu=self.runs_per_gpu,
            threads_per_run=self.threads_per_run,
            restart=self.restart,
            keep_checkpoints=self.keep_checkpoints,
            console=plain_console(stderr=True),
            chain_signals=True,
        )
        return {state: len(dirs) for state, dirs in outcome.states.items()}

    def checkpoint(self, *args, **kwargs):  # called by submitit on preemption / time-out
        import submitit

        # A requeued task must not --restart (that would wipe the runs it is resuming).
        again = SuiteChunk(
            self.runs,
            self.out,
            self.jobs,
            self.runs_per_gpu,
            self.device,
            self.threads_per_run,
            False,
            self.keep_checkpoints,
        )
        return submitit.helpers.DelayedSubmission(again)


def submit_slurm(
    runs: Sequence[RunSpec],
    out: Path,
    *,
    partition: str | None,
    time: str,
    gpus_per_node: int = 0,
    runs_per_gpu: int = 1,
    jobs_per_task: int | None = None,
    array_parallelism: int = 16,
    cpus_per_task: int | None = None,
    threads_per_run: int | None = None,
    device: str | None = None,
    restart: bool = False,
    keep_checkpoints: bool = False,
    cluster: str | None = None,
    wait: bool = False,
    console: Console | None = None,
) -> list:
    """Submits the array and returns the submitit jobs (waiting for them when ``wait``)."""
    try:
        import submitit
    except ImportError:
        raise UserInputError(MISSING) from None
    console = console or plain_console(stderr=True)
    out = Path(out).resolve()
    per_task = jobs_per_task or (gpus_per_node * runs_per_gpu if gpus_per_node else 1)
    chunks = [list(runs[i : i + per_task]) for i in range(0, len(runs), per_task)]
    executor = submitit.AutoExecutor(folder=str(out / ".submitit" / "%j"), cluster=cluster)
    params = {
        "timeout_min": parse_time(time),
        "slurm_array_parallelism": array_parallelism,
        "slurm_signal_delay_s": 180,
        "name": f"mbrlbench-{runs[0].suite}",
    }
    if partition:
        params["slurm_partition"] = partition
    if gpus_per_node:
        params["gpus_per_node"] = gpus_per_node
    if cpus_per_task:
        params["cpus_per_task"] = cpus_per_task
    executor.update_parameters(**params)
    task_device = device or ("cuda" if gpus_per_node else "cpu")
    with executor.batch():
        jobs = [
            executor.submit(
                SuiteChunk(c, str(out), per_task, runs_per_gpu, task_device, threads_per_run, restart, keep_checkpoints)
            )
            for c in chunks
        ]
    console.print(
        f"submitted {len(jobs)} array task(s) of up to {per_task} runs: "
        f"{', '.join(str(j.job_id) for j in jobs[:5])}{' ...' if len(jobs) > 5 else ''}; "
        f"watch with: mbrlbench status {out / runs[0].suite}",
        highlight=False,
    )
    if wait:
        for job in jobs:
            job.result()
    return jobs
