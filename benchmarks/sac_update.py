"""One SAC update, variant by variant, interleaved in one process: the micro-benchmark behind the predictions
in docs/performance.md (fused Adam, frozen critic weights in the actor step).

    python benchmarks/sac_update.py [--hidden 256 512] [--reps 9] [--updates 50] [--threads 2]

In one process the machine's drift hits every variant alike, so effects of a few percent show, which the
harness's fresh-process repetitions (spreads of 1.5x on a shared machine) cannot resolve.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from rich.console import Console
from rich.table import Table

from mbrlbench.components.buffers import Batch
from mbrlbench.components.sac import SAC, SACSettings


def build(hidden: int, fused: bool, frozen: bool) -> SAC:
    torch.manual_seed(0)
    sac = SAC(17, 6, -1.0, 1.0, SACSettings(hidden=hidden, target_entropy=-6.0), torch.device("cpu"))
    if not fused:  # torch's for-loop Adam, what every optimizer was before components/optim.adam
        sac.actor_opt = torch.optim.Adam(sac.actor.parameters(), lr=3e-4, foreach=False)
        sac.critic_opt = torch.optim.Adam(sac.critic.parameters(), lr=3e-4, foreach=False)
        sac.alpha_opt = torch.optim.Adam([sac.log_alpha], lr=3e-4, foreach=False)
    if not frozen:  # the actor step then also computes the critics' (unused) weight gradients
        sac.critic.requires_grad_ = lambda requires_grad=True: sac.critic  # type: ignore[method-assign]
    return sac


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hidden", nargs="+", type=int, default=[256, 512])
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--updates", type=int, default=50, help="updates per timed repetition")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(1)
    batch = Batch(
        torch.randn(256, 17, generator=g),
        torch.rand(256, 6, generator=g) * 2 - 1,
        torch.randn(256, generator=g),
        torch.randn(256, 17, generator=g),
        torch.zeros(256),
    )
    table = Table(
        title=f"SAC update, batch 256, ms (median of {args.reps} interleaved reps, {torch.get_num_threads()} threads)"
    )
    for column in ("hidden", "for-loop Adam", "fused Adam", "fused + frozen critic"):
        table.add_column(column, justify="right")
    for hidden in args.hidden:
        variants = {
            "for-loop Adam": build(hidden, fused=False, frozen=False),
            "fused Adam": build(hidden, fused=True, frozen=False),
            "fused + frozen critic": build(hidden, fused=True, frozen=True),
        }
        times: dict[str, list[float]] = {name: [] for name in variants}
        for sac in variants.values():
            for _ in range(10):
                sac.update(batch)
        for _ in range(args.reps):
            for name, sac in variants.items():
                start = time.perf_counter()
                for _ in range(args.updates):
                    sac.update(batch)
                times[name].append(1000 * (time.perf_counter() - start) / args.updates)
        table.add_row(str(hidden), *(f"{statistics.median(times[name]):.2f}" for name in variants))
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
