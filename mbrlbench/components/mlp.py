"""The plain MLP every single-network component builds on (actor body, MDN, classifier, dual value)."""

from __future__ import annotations

import itertools

import torch
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


def glorot_(module: nn.Module) -> nn.Module:
    """Keras/xavier-uniform weights and zero biases on every ``nn.Linear`` in ``module`` (softlearning's and
    TOM's SAC networks, TOM's dual value network); returns ``module``."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight, gain=1.0)
            with torch.no_grad():
                layer.bias.zero_()
    return module
