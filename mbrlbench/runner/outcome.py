"""What a launcher reports about a suite: each run's final state, the same for the inline, pool, Ray and
Slurm launchers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mbrlbench.rundir import FAILED_STATES, RunState, read_status
from mbrlbench.runner.lock import RunLocked


class RunConflict(Exception):
    """The folder holds a run of another configuration (needs ``--restart``)."""


@dataclass
class SuiteOutcome:
    states: dict[str, list[str]] = field(default_factory=dict)  # state -> run folders
    reasons: dict[str, str] = field(default_factory=dict)  # run folder -> why it did not complete

    def add(self, state: RunState | str, run: str, reason: str = "") -> None:
        self.states.setdefault(str(state), []).append(run)
        if reason:
            self.reasons[run] = reason

    @property
    def failed(self) -> bool:
        return any(self.states.get(str(state)) for state in FAILED_STATES)

    @property
    def held(self) -> list[str]:
        """Runs another live process still holds: not run here, so the suite is not done."""
        return self.states.get(str(RunState.LOCKED), [])

    @property
    def stopped(self) -> bool:
        return any(self.states.get(str(state)) for state in (RunState.INTERRUPTED, RunState.NOT_STARTED))


def attempt(run: Callable[[], RunState], run_dir: Path) -> tuple[RunState, str]:
    """Runs one run; returns its state and why it did not complete: a held lock or a conflicting folder
    become their states, and a failure's reason is the error its status.json records."""
    try:
        state = run()
    except RunLocked as err:
        return RunState.LOCKED, str(err)
    except RunConflict as err:
        return RunState.CONFLICT, str(err)
    reason = str(read_status(run_dir).get("error") or "") if state == RunState.FAILED else ""
    return state, reason
