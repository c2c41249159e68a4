"""The inline launcher: a suite's runs one after another in this process (for debugging and profiling),
with rich progress bars and clean stops."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from mbrlbench.rundir import RunState
from mbrlbench.runner.lifecycle import RunProgress, run_one
from mbrlbench.runner.outcome import SuiteOutcome, attempt
from mbrlbench.runner.signals import StopFlag, stop_on_signals
from mbrlbench.runner.spec import RunSpec
from mbrlbench.support.console import plain_console


def _label(spec: RunSpec) -> str:
    return f"{spec.task.name}/{spec.variant}/seed{spec.seed}"


def run_suite(
    runs: Sequence[RunSpec],
    out: Path,
    *,
    device: str | None = None,
    restart: bool = False,
    keep_checkpoints: bool = False,
    threads_per_run: int | None = None,
    console: Console | None = None,
) -> SuiteOutcome:
    console = console or plain_console(stderr=True)
    outcome = SuiteOutcome()
    stop = StopFlag()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeRemainingColumn(),
    )
    with stop_on_signals(stop), Progress(*columns, console=console, transient=False) as bar:
        suite_task = bar.add_task("suite", total=len(runs), info="")
        for spec in runs:
            run_dir = spec.run_dir(out)
            if stop:
                outcome.add(RunState.NOT_STARTED, str(run_dir))
                continue
            run_task = bar.add_task(_label(spec), total=spec.env_steps, info="")

            def show(p: RunProgress, task_id: TaskID = run_task) -> None:
                last = "        –" if math.isnan(p.last_return) else f"{p.last_return:9.1f}"
                bar.update(task_id, completed=p.env_step, info=f"return {last}  {p.steps_per_second:6.1f} steps/s")

            def one(spec: RunSpec = spec) -> RunState:
                return run_one(
                    spec,
                    out,
                    device=device,
                    restart=restart,
                    keep_checkpoints=keep_checkpoints,
                    threads_per_run=threads_per_run,
                    stop=stop,
                    progress=show,
                )

            state, reason = attempt(one, run_dir)
            bar.update(run_task, completed=spec.env_steps if state == RunState.COMPLETED else None, info=str(state))
            if state != RunState.COMPLETED:
                console.print(
                    f"{_label(spec)}: {state}" + (f": {reason}" if reason else ""), highlight=False, markup=False
                )
            outcome.add(state, str(run_dir), reason)
            bar.advance(suite_task)
    return outcome
