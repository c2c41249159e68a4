"""The base of every algorithm's hyperparameters, and the field groups several algorithms share."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class AlgorithmConfig(BaseModel):
    """Base of every algorithm's hyperparameters: unknown keys are errors, every field has a doc."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
