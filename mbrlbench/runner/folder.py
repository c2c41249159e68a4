"""What a run's folder asks of the runner before training: skip it (completed), resume it (it has a
checkpoint) or start it, and refusing a folder that holds a run of another configuration."""

from __future__ import annotations

import shutil
from enum import Enum
from pathlib import Path

from mbrlbench.rundir import CHECKPOINT, CONFIG, LOCK, RunState, read_config, read_state
from mbrlbench.runner.outcome import RunConflict
from mbrlbench.runner.run_config import config_hash
from mbrlbench.runner.spec import RunSpec


class FolderAction(Enum):
    SKIP = "skip"  # completed with this configuration
    RESUME = "resume"  # interrupted after a checkpoint
    START = "start"  # new, wiped by --restart, or interrupted before its first checkpoint


def prepare_folder(spec: RunSpec, run_dir: Path, restart: bool) -> FolderAction:
    """Under the run's lock: what to do with its folder (``--restart`` wipes it first); raises RunConflict when
    it holds a run of another configuration."""
    if restart:
        for child in run_dir.iterdir():
            if child.name != LOCK:
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        return FolderAction.START
    for stale in run_dir.glob(".*.tmp"):  # temp files of writes a kill interrupted
        stale.unlink(missing_ok=True)
    if not (run_dir / CONFIG).exists():
        return FolderAction.START
    existing = read_config(run_dir).get("config_hash")
    if existing != config_hash(spec):
        raise RunConflict(
            f"{run_dir}: holds a run of another configuration "
            f"(hash {existing} != {config_hash(spec)}); use --restart to replace it"
        )
    if read_state(run_dir) == RunState.COMPLETED:
        return FolderAction.SKIP
    return FolderAction.RESUME if (run_dir / CHECKPOINT).exists() else FolderAction.START
