"""What a run's ``config.yaml`` records: the fields that decide what it computes (hashed, guarding resume)
and, unhashed, where and with what it ran."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from mbrlbench.algorithms import registry
from mbrlbench.runner.spec import RunSpec


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def algorithmic_config(spec: RunSpec) -> dict[str, Any]:
    """The fields that decide what a run computes; their hash guards resume."""
    return {
        "suite": spec.suite,
        "task": spec.task.to_dict(),
        "algorithm": spec.algorithm,
        "variant": spec.variant,
        "seed": spec.seed,
        "env_steps": spec.env_steps,
        "eval": {"every": spec.eval_every, "episodes": spec.eval_episodes},
        "hyperparameters": spec.config.model_dump(mode="json"),
    }


def config_hash(spec: RunSpec) -> str:
    blob = json.dumps(algorithmic_config(spec), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("mbrlbench", "torch", "gymnasium", "mujoco", "numpy"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[pkg] = metadata.version(pkg)
    return out


def _git_commit() -> str | None:
    try:
        root = Path(__file__).resolve().parents[2]
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def full_config(spec: RunSpec, device: torch.device) -> dict[str, Any]:
    return {
        **algorithmic_config(spec),
        "fidelity": spec.fidelity,
        "paper_metric": registry.ALGORITHMS[spec.algorithm].paper_metric,  # the column the report compares
        "deviations": list(spec.deviations),
        "config_hash": config_hash(spec),
        "recorded": {  # not hashed: another machine or commit never blocks a resume
            "device": str(device),
            "hardware": {
                "cpu": platform.processor() or platform.machine(),
                "cpus": os.cpu_count(),
                "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
            },
            "versions": _versions(),
            "git_commit": _git_commit(),
            "created": now(),
        },
    }
