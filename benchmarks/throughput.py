"""Env steps per second and peak memory of the MBPO family at the paper's hyperparameters, after warm-up.

    python benchmarks/throughput.py [--algorithms mbpo tom tom_uniform] [--tasks hopper halfcheetah]
                                    [--steps 250] [--device auto]

For each algorithm and task: build it with its official preset, run the 5,000 warm-up steps (not timed),
then time ``--steps`` learning steps (these include one model fit on the warm-up data and one round of
100k model rollouts per 250 steps, plus the SAC updates), split by phase. For TOM, ``tom weights`` is the
discriminator, the dual value network and the weights of every buffer row, once per model fit.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from mbrlbench import algorithms
from mbrlbench.algorithms.base import seed_everything
from mbrlbench.runner.run_one import resolve_device
from mbrlbench.tasks import get_task


class PhaseTimer:
    """Wraps bound methods to add their wall time to a phase (synchronizing CUDA so time is honest)."""

    def __init__(self, device: torch.device) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.device = device

    def wrap(self, obj: object, name: str, phase: str) -> None:
        inner = getattr(obj, name)

        def timed(*args, **kwargs):
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            start = time.perf_counter()
            out = inner(*args, **kwargs)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            self.seconds[phase] += time.perf_counter() - start
            return out

        setattr(obj, name, timed)


def bench(algorithm: str, task_name: str, steps: int, device: torch.device) -> dict[str, float | str]:
    seed_everything(0)
    base, layer = algorithms.resolve(algorithm)
    config = algorithms.resolve_config(base, task_name, layer)
    algo = algorithms.build(base, config, get_task(task_name), device, seed=0)
    algo.train(max(config.n_initial_exploration_steps, config.min_pool_size))  # warm-up, not timed
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    timer = PhaseTimer(device)
    timer.wrap(algo.model, "fit", "model_training")
    if hasattr(algo, "occupancy_weights"):
        timer.wrap(algo, "occupancy_weights", "tom_weights")
    timer.wrap(algo, "train_model_and_rollout", "_fit_and_rollout")
    timer.wrap(algo, "env_step", "env_stepping")
    timer.wrap(algo.sac, "update", "policy_updates")
    start = time.perf_counter()
    algo.train(algo.env_steps + steps)
    total = time.perf_counter() - start
    split = dict(timer.seconds)
    split["model_rollouts"] = split.pop("_fit_and_rollout") - split["model_training"] - split.get("tom_weights", 0.0)
    split["other"] = total - sum(split.values())
    per_step = sum(algo.sac_updates_due(i) for i in range(1000)) / 1000  # averaged over TOM's cadence
    return {
        "algorithm": algorithm,
        "task": task_name,
        "device": str(device),
        "steps": steps,
        "env_steps_per_s": steps / total,
        "s_per_env_step": total / steps,
        **{f"time_{k}_s": v for k, v in split.items()},
        "updates_per_step": per_step,
        "ms_per_sac_update": 1000 * split["policy_updates"] / (steps * per_step),
        "peak_host_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_gpu_mb": torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algorithms", nargs="+", default=["mbpo"], help="mbpo, tom, tom_uniform")
    parser.add_argument("--tasks", nargs="+", default=["hopper", "halfcheetah"])
    parser.add_argument("--steps", type=int, default=250, help="timed env steps per task (after warm-up)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = [bench(a, t, args.steps, device) for t in args.tasks for a in args.algorithms]

    title = f"Throughput, paper hyperparameters ({device}, {torch.get_num_threads()} threads)"
    table = Table(title=title)
    cols = [
        ("algorithm", "algorithm", "{}"),
        ("task", "task", "{}"),
        ("env steps/s", "env_steps_per_s", "{:.2f}"),
        ("s/step", "s_per_env_step", "{:.3f}"),
        ("SAC ms/update", "ms_per_sac_update", "{:.1f}"),
        ("policy s", "time_policy_updates_s", "{:.1f}"),
        ("model fit s", "time_model_training_s", "{:.1f}"),
        ("tom weights s", "time_tom_weights_s", "{:.1f}"),
        ("rollouts s", "time_model_rollouts_s", "{:.1f}"),
        ("env s", "time_env_stepping_s", "{:.2f}"),
        ("other s", "time_other_s", "{:.2f}"),
        ("peak RSS MB", "peak_host_rss_mb", "{:.0f}"),
        ("peak GPU MB", "peak_gpu_mb", "{:.0f}"),
    ]
    for title, _, _ in cols:
        table.add_column(title, justify="right")
    for row in rows:
        table.add_row(*(fmt.format(row.get(key, float("nan"))) for _, key, fmt in cols))
    Console(width=160).print(table)

    out_dir = Path(__file__).parent / "results"
    out_dir.mkdir(exist_ok=True)
    meta = {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "platform": platform.platform(),
        "threads": torch.get_num_threads(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    path = out_dir / f"throughput_{'_'.join(args.algorithms)}_{device.type}.json"
    path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"written {path}")


if __name__ == "__main__":
    main()
