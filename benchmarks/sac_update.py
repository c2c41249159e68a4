"""One SAC update, variant by variant, interleaved in one process: the micro-benchmark behind the predictions
in docs/performance.md (fused Adam, frozen critic weights in the actor step).

    python benchmarks/sac_update.py [--hidden 256 512] [--reps 9] [--updates 50] [--threads 2]
    python benchmarks/sac_update.py --gflops [--threads 2] [--ghz 2.45] [--fma-units 2]

In one process the machine's drift hits every variant alike, so effects of a few percent show, which the
harness's fresh-process repetitions (spreads of 1.5x on a shared machine) cannot resolve.

``--gflops``: the achieved GFLOP/s of one SAC update matched to mbrl-lib 0.2.0's mbpo_halfcheetah (pranz24's
SAC: 2 x 512 hidden, batch 256, HalfCheetah's 17 observation and 6 action dims, critic, actor, temperature and
target in every update), against the peak of the cores it runs on. FLOPs are those of the matrix products,
2 m n k each (``sac_flops``); the convention counts a backward pass as twice its forward (input and weight
gradients), which is the work pranz24's update does to within its first layers' input gradients (0.7%); ours
does less (frozen critic weights in the actor step, no input gradient of a first layer), counted as
``executed``. Adam, the Polyak update, activations and losses are elementwise, under 1% of the count, left
out. The peak per core is FMA units x fp32 lanes x 2 FLOPs x clock: lanes from /proc/cpuinfo's flags
(avx512f: 16, avx2 + fma: 8), 2 FMA units (every AVX2 core since Haswell and Zen 2; ``--fma-units`` to
change), the clock from its ``cpu MHz`` (on a VM usually the nominal rate: boost is not counted; ``--ghz`` to
change), times the torch threads (one per physical core).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import platform
import statistics
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from mbrlbench.components.data.buffers import Batch
from mbrlbench.components.policies.sac import SAC, SACSettings

OBS_DIM, ACT_DIM, BATCH, HIDDEN = 17, 6, 256, 512  # HalfCheetah; mbrl-lib 0.2.0 mbpo_halfcheetah.yaml:27, 29


def matmul_flops(batch: int, dims: list[int]) -> int:
    """2 m n k per layer of an MLP with the given widths, input to output."""
    return sum(2 * batch * n_in * n_out for n_in, n_out in itertools.pairwise(dims))


def sac_flops(obs: int = OBS_DIM, act: int = ACT_DIM, batch: int = BATCH, hidden: int = HIDDEN) -> dict[str, int]:
    """Matmul FLOPs of one SAC update with actor and target (pranz24's order, two Q-nets of 2 hidden layers):

    1. target: actor on s' (A), both target Q-nets on (s', a') (Q)        A + Q
    2. critic loss: both Q-nets on (s, a) and back                          Q + 2Q
    3. actor loss: actor on s, both Q-nets on (s, pi(s)), back through both A + Q + 2Q + 2A
    convention = 4A + 7Q. executed (ours): the critic's backward in step 2 skips the input gradient of its first
    layer (data), the actor step's backward through the frozen critic computes input gradients only (Q, not 2Q)
    and the actor's skips its first layer's input gradient: 4A + 6Q - those two first-layer input gradients."""
    actor = matmul_flops(batch, [obs, hidden, hidden, 2 * act])  # mean and log-std heads together
    critics = 2 * matmul_flops(batch, [obs + act, hidden, hidden, 1])
    first_q, first_a = 2 * 2 * batch * (obs + act) * hidden, 2 * batch * obs * hidden
    return {
        "actor_forward": actor,
        "critics_forward": critics,
        "convention": 4 * actor + 7 * critics,
        "executed": 4 * actor + 6 * critics - first_q - first_a,
    }


def cpu_peak(fma_units: int, ghz: float | None) -> dict[str, float | str]:
    """Peak fp32 GFLOP/s of one core from /proc/cpuinfo (see the module docstring for the assumptions)."""
    flags: set[str] = set()
    mhz, model = float("nan"), platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "flags" and not flags:
                flags = set(value.split())
            elif key == "cpu MHz" and mhz != mhz:
                mhz = float(value)
            elif key == "model name":
                model = value.strip()
    lanes, isa = (16, "AVX-512") if "avx512f" in flags else (8, "AVX2+FMA") if {"avx2", "fma"} <= flags else (4, "SSE")
    clock = ghz if ghz else mhz / 1000
    return {
        "model": model,
        "isa": isa,
        "lanes": lanes,
        "fma_units": fma_units,
        "ghz": clock,
        "gflops_per_core": fma_units * lanes * 2 * clock,
    }


def gflops(args: argparse.Namespace) -> None:
    """Time the matched update and print its achieved GFLOP/s beside the cores' peak."""
    torch.manual_seed(0)
    settings = SACSettings(hidden=HIDDEN, layers=2, target_entropy=-1.0, flavor="pranz24")
    sac = SAC(OBS_DIM, ACT_DIM, -1.0, 1.0, settings, torch.device("cpu"))
    batch = random_batch(BATCH, OBS_DIM, ACT_DIM)
    for _ in range(10):
        sac.update(batch)
    times = []
    for _ in range(args.reps):
        start = time.perf_counter()
        for _ in range(args.updates):
            sac.update(batch)
        times.append((time.perf_counter() - start) / args.updates)
    seconds = statistics.median(times)
    flops = sac_flops()
    peak = cpu_peak(args.fma_units, args.ghz)
    threads = torch.get_num_threads()
    cores_peak = float(peak["gflops_per_core"]) * threads
    print(f"matched SAC update (pranz24, 2 x {HIDDEN}, batch {BATCH}, dims {OBS_DIM}/{ACT_DIM}, actor + target):")
    print(f"  {1000 * seconds:.2f} ms per update (median of {args.reps} x {args.updates}; torch threads: {threads})")
    for name in ("convention", "executed"):
        print(f"  {name:>10}: {flops[name] / 1e9:.3f} GFLOP per update -> {flops[name] / seconds / 1e9:.1f} GFLOP/s")
    print(
        f"  peak: {peak['model']}, {peak['isa']}: {peak['fma_units']} FMA units x {peak['lanes']} fp32 lanes x 2 x "
        f"{float(peak['ghz']):.3f} GHz = {float(peak['gflops_per_core']):.1f} GFLOP/s per core, x {threads} thread(s) "
        f"= {cores_peak:.1f}; achieved (convention) {100 * flops['convention'] / seconds / 1e9 / cores_peak:.0f}% "
        "of it"
    )


def random_batch(n: int, obs: int, act: int) -> Batch:
    g = torch.Generator().manual_seed(1)
    return Batch(
        torch.randn(n, obs, generator=g),
        torch.rand(n, act, generator=g) * 2 - 1,
        torch.randn(n, generator=g),
        torch.randn(n, obs, generator=g),
        torch.zeros(n),
    )


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
    parser.add_argument("--gflops", action="store_true", help="GFLOP/s of the matched update against the peak")
    parser.add_argument("--fma-units", type=int, default=2, help="FMA units per core, for the peak")
    parser.add_argument("--ghz", type=float, default=None, help="clock for the peak (default: /proc/cpuinfo)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.gflops:
        gflops(args)
        return
    batch = random_batch(256, 17, 6)
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
