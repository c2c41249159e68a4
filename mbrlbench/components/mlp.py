"""The plain MLP every single-network component builds on (actor body, MDN, classifier, dual value)."""

from __future__ import annotations

import itertools

from torch import nn


def mlp(in_dim: int, hidden: int, layers: int, out_dim: int | None, activation: type[nn.Module]) -> nn.Sequential:
    """``layers`` hidden layers of ``hidden`` units with ``activation``, then a linear ``out_dim`` head
    (``None``: no head, the last hidden layer's activations are the output)."""
    dims = [in_dim] + [hidden] * layers
    body: list[nn.Module] = []
    for a, b in itertools.pairwise(dims):
        body += [nn.Linear(a, b), activation()]
    if out_dim is not None:
        body.append(nn.Linear(dims[-1], out_dim))
    return nn.Sequential(*body)
