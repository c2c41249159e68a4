"""The inline launcher: a suite's runs one after another in this process (for debugging and profiling),
with rich progress bars and clean stops."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from mbrlbench.runner.files import read_json
from mbrlbench.runner.lock import RunLocked
from mbrlbench.runner.run_one import RunConflict, RunProgress, StopFlag, run_one
from mbrlbench.runner.signals import stop_on_signals
from mbrlbench.suite import RunSpec


@dataclass
class SuiteOutcome:
    states: dict[str, list[str]] = field(default_factory=dict)  # state -> run folders

    def add(self, state: str, run: str) -> None:
        self.states.setdefault(state, []).append(run)

    @property
    def failed(self) -> bool:
        return any(self.states.get(state) for state in ("failed", "conflict", "crashed"))


def _label(spec: RunSpec) -> str:
    return f"{spec.task.name}/{spec.variant}/seed{spec.seed}"


def run_suite(
    runs: Sequence[RunSpec],
    out: Path,
    *,
    device: str | None = None,
    restart: bool = False,
    keep_checkpoints: bool = False,
    threads: int | None = None,
    console: Console | None = None,
) -> SuiteOutcome:
    console = console or Console(stderr=True)
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
            if stop:
                outcome.add("not started", _label(spec))
                continue
            run_task = bar.add_task(_label(spec), total=spec.env_steps, info="")

            def show(p: RunProgress, task_id: int = run_task) -> None:
                last = f"{p.last_return:9.1f}" if p.last_return == p.last_return else "        –"  # NaN: none yet
                bar.update(task_id, completed=p.env_step, info=f"return {last}  {p.steps_per_second:6.1f} steps/s")

            try:
                state = run_one(
                    spec,
                    out,
                    device=device,
                    restart=restart,
                    keep_checkpoints=keep_checkpoints,
                    threads=threads,
                    stop=stop,
                    progress=show,
                )
            except RunLocked as err:
                console.print(f"skipped: {err}", highlight=False)
                state = "locked"
            except RunConflict as err:
                console.print(f"[red]conflict[/red] {err}")
                state = "conflict"
            bar.update(run_task, completed=spec.env_steps if state == "completed" else None, info=state)
            if state != "completed":
                msg = state
                if state == "failed":
                    msg += ": " + str((read_json(spec.run_dir(out) / "status.json") or {}).get("error"))
                console.print(f"{_label(spec)}: {msg}")
            outcome.add(state, str(spec.run_dir(out)))
            bar.advance(suite_task)
    return outcome
