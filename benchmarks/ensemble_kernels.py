"""Measures the ensemble kernels the design asks to choose between, and prints a table.

    python benchmarks/ensemble_kernels.py [--rows 100000] [--device cpu]

Rows: one batched ``baddbmm`` over all members vs a per-member ``addmm`` loop, for a full forward of
every member on ``--rows`` states and for one training step (batch 256 per member); and the grouped
forward used by rollouts (each row through one elite only).
"""

from __future__ import annotations

import argparse
import time

import torch
from rich.console import Console
from rich.table import Table

from mbrlbench.components.models.ensemble import ProbabilisticEnsemble


def timed(fn, repeats: int, device: torch.device) -> float:
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats * 1000


def loop_forward(model: ProbabilisticEnsemble, x: torch.Tensor) -> torch.Tensor:
    """The alternative kernel: each member's slice through its own ``addmm``."""
    h = model.normalizer(x).unsqueeze(0).expand(model.num_members, -1, -1)
    for i, layer in enumerate(model.net.layers):
        h = torch.stack([torch.addmm(layer.bias[e], h[e], layer.weight[e]) for e in range(h.shape[0])])
        if i < len(model.net.layers) - 1:
            h = model.net.activation(h)
    return h


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = ProbabilisticEnsemble(11, 3).to(device)  # hopper-sized, 7 members, 4x200
    x = torch.randn(args.rows, 14, device=device)
    xb, yb = torch.randn(7, 256, 14, device=device), torch.randn(7, 256, 12, device=device)

    def train_step_bmm() -> None:
        loss = model.nll_loss(xb, yb)
        model.optimizer.zero_grad()
        loss.backward()
        model.optimizer.step()

    table = Table(title=f"Ensemble kernels on {device} ({torch.get_num_threads()} threads), ms")
    for col in ("operation", "batched baddbmm", "per-member addmm loop"):
        table.add_column(col, justify="right")
    with torch.no_grad():
        full_bmm = timed(lambda: model(x), 3, device)
        full_loop = timed(lambda: loop_forward(model, x), 3, device)
        grouped = timed(lambda: model.sample(x[:, :11], x[:, 11:]), 5, device)
    table.add_row(f"all 7 members x {args.rows:,} rows", f"{full_bmm:.0f}", f"{full_loop:.0f}")
    table.add_row("training step, 7 x 256", f"{timed(train_step_bmm, 30, device):.1f}", "-")
    table.add_row(f"rollout step: {args.rows:,} rows, one elite each (grouped)", f"{grouped:.0f}", "-")
    Console().print(table)


if __name__ == "__main__":
    main()
