"""Adam with the fastest kernel the parameters' device offers, and ``frozen`` (no gradient to a module).

The fused kernel does one pass over all parameters per step instead of a Python loop of small ops: on the
2-core CPU it took the SAC update (2x256, batch 256) from 15.7 to 14.1 ms (benchmarks/run.py, docs/performance.md).
It computes the same update up to float rounding, so curves match within noise, not bitwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

FUSED_DEVICES = ("cpu", "cuda")  # devices with a fused Adam kernel in torch >= 2.4


def adam(params: Iterable[torch.Tensor], lr: float, **kwargs: Any) -> torch.optim.Adam:
    """``torch.optim.Adam`` with ``fused=True`` when every parameter lives on a device that has the kernel."""
    params = list(params)
    fused = bool(params) and all(p.device.type in FUSED_DEVICES for p in params)
    return torch.optim.Adam(params, lr=lr, fused=fused or None, **kwargs)


@contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """No gradient reaches these modules' parameters inside the block (inputs still get theirs); the
    parameters that required a gradient before require it again after."""
    params = [p for m in modules for p in m.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)
