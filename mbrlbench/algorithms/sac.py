"""SAC: the model-free baseline of the MBPO paper (Haarnoja et al. 2018), on real data only.

The same agent as MBPO's (``components/policies/sac.py``); one update per env step, target entropy -|A|.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from pydantic import Field

from mbrlbench.algorithms.base import AlgorithmSpec, Deviation
from mbrlbench.algorithms.sac_agent import SACConfigFields, SACDriven
from mbrlbench.tasks import TaskSpec


class SACConfig(SACConfigFields):
    """Model-free SAC; every setting shared with MBPO's agent."""

    updates_per_step: int = Field(1, ge=1, description="SAC updates per env step [SAC paper: 1].")


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


SPEC = AlgorithmSpec(SAC, SACConfig, DEVIATIONS)
