"""Cost of one evaluation's model diagnostics (issue 17 item 3): ``evaluation_diagnostics`` of an algorithm at
its paper preset for the task, on full-length evaluation episodes, with the rollout horizon at the schedule's
longest (the most expensive point of a run).

The model is fitted once on random-action data (its weights do not change the cost); the 10 "episodes" are
1,000-step stretches of real random-action transitions laid end to end (the same shapes as 10 full evaluation
episodes, the worst case: 10,000 starts before subsampling). Prints the median of ``--reps`` calls.

    python benchmarks/model_diagnostics.py --task hopper
    python benchmarks/model_diagnostics.py --task inverted_pendulum
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from mbrlbench.algorithms.base import Episode
from mbrlbench.algorithms.registry import build, resolve_config
from mbrlbench.tasks import TASKS


def random_data(task: str, n: int, seed: int) -> tuple[np.ndarray, ...]:
    env = TASKS[task].make_env()
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    rows = []
    for _ in range(n):
        a = env.action_space.sample()
        nxt, r, term, trunc, _ = env.step(a)
        rows.append((obs, a, float(r), nxt, float(term)))
        obs = env.reset()[0] if term or trunc else nxt
    return tuple(np.array(c) for c in zip(*rows, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="hopper")
    parser.add_argument("--algorithm", default="mbpo")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--fit-rows", type=int, default=5000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = resolve_config(args.algorithm, args.task, {"model_max_epochs": 2})
    algo = build(args.algorithm, config, TASKS[args.task], torch.device("cpu"), 0)
    obs, act, rew, nxt, done = random_data(args.task, max(args.fit_rows, args.episodes * args.length), 0)
    n_fit = args.fit_rows
    algo.env_buffer.add(obs[:n_fit], act[:n_fit], rew[:n_fit], nxt[:n_fit], done[:n_fit])
    algo.fit_model(algo.env_buffer.all())
    horizon = max(config.rollout_schedule[2:])
    algo.diagnostics.update({"model/fits": 1.0, "rollout/horizon": float(horizon)})
    L = args.length
    episodes = [
        Episode(
            obs[i * L : (i + 1) * L],
            act[i * L : (i + 1) * L],
            rew[i * L : (i + 1) * L],
            nxt[i * L : (i + 1) * L],
            False,
            0.0,
        )
        for i in range(args.episodes)
    ]
    times = []
    for _ in range(args.reps):
        start = time.perf_counter()
        out = algo.evaluation_diagnostics(episodes)
        times.append(time.perf_counter() - start)
    print(
        f"{args.algorithm}/{args.task}: rollout horizon {horizon}, {args.episodes} x {L} steps, "
        f"{args.threads} threads: evaluation_diagnostics median {statistics.median(times):.3f} s "
        f"(min {min(times):.3f}, max {max(times):.3f}); {out}"
    )


if __name__ == "__main__":
    main()
