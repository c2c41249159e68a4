"""``mbrlbench run --tensorboard``: TensorBoard event files in each run folder that hold exactly the rows of its
progress.csv, so a live run can be watched in TensorBoard. The CSV stays the record: the mirror is rebuilt
from it whenever the CSV is created or truncated on resume, so a killed and resumed run never shows a step
twice or a step the CSV dropped."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any


def tensorboard_missing() -> str | None:
    """Why ``--tensorboard`` cannot run here, or None."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        return "--tensorboard needs the tensorboard package: pip install -e '.[tensorboard]'"
    return None


class TensorBoardMirror:
    """Every finite value of a row as a scalar at ``global_step = env_step``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.writer: Any = None

    def reset(self, rows: list[dict[str, float]]) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.close()
        shutil.rmtree(self.folder, ignore_errors=True)
        self.writer = SummaryWriter(log_dir=str(self.folder))
        for row in rows:
            self._write(row)
        self.writer.flush()

    def append(self, row: dict[str, float | int]) -> None:
        self._write(row)
        self.writer.flush()

    def _write(self, row: dict[str, Any]) -> None:
        step = int(row["env_step"])
        for key, value in row.items():
            if key != "env_step" and isinstance(value, int | float) and math.isfinite(value):
                self.writer.add_scalar(key, float(value), global_step=step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
