"""SAC: the model-free baseline of the MBPO paper (Haarnoja et al. 2018), on real data only.

The same agent as MBPO's (``components/sac.py``); one update per env step, target entropy -|A|.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import Field

from mbrlbench.algorithms.base import Deviation
from mbrlbench.algorithms.sac_agent import SACConfigFields, SACDriven
from mbrlbench.tasks import TaskSpec

SUMMARY = "Soft actor-critic, model-free baseline of the MBPO paper"
SOURCE = "Haarnoja et al. 2018 (arXiv 1812.05905) via softlearning defaults, as the MBPO paper compares"


class SACConfig(SACConfigFields):
    """Model-free SAC; every setting shared with MBPO's agent."""

    updates_per_step: int = Field(1, ge=1, description="SAC updates per env step [SAC paper: 1].")


PRESETS: dict[str, dict[str, Any]] = {
    # Same exploration as MBPO's inverted_pendulum preset, so the two differ only in the model.
    "inverted_pendulum": {"n_initial_exploration_steps": 500},
}
# PAPER_ENV_STEPS: the MBPO paper's SAC curves run past MBPO's budgets; the registry gives SAC MBPO's, so both
# sides meet in one suite.


DEVIATIONS = (Deviation("gymnasium v5 env on MuJoCo 3.3 instead of gym v2 (the SAC paper's curves)"),)


class SAC(SACDriven):
    fidelity: ClassVar = "paper-text"

    def __init__(self, config: SACConfig, task: TaskSpec, device: torch.device, seed: int) -> None:
        super().__init__(config, task, device, seed)
        self.config: SACConfig = config

    @classmethod
    def diagnostic_keys_for(cls, config: SACConfig) -> tuple[str, ...]:
        return cls.sac_diagnostic_keys

    def _train(self, until: int) -> None:
        while self.running(until):
            self.env_step()
            if self.learning:
                for _ in range(self.config.updates_per_step):
                    self.sac.update(self.env_buffer.sample(self.config.batch_size))


ALGORITHM, CONFIG = SAC, SACConfig
