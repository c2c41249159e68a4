"""Measures each task's uniform-random-policy return, the 0 of normalized scores.

    python -m mbrlbench.tasks.random_returns [--episodes 100]

Writes ``mbrlbench/references/random_returns.csv`` (task, episodes, mean, std, seed, command). Run once per
task registry change; the result is package data.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from mbrlbench.tasks import TASKS

OUT = Path(__file__).resolve().parents[1] / "references" / "random_returns.csv"


def random_return(task_name: str, episodes: int, seed: int = 0) -> tuple[float, float]:
    env = TASKS[task_name].make_env()
    env.action_space.seed(seed)
    returns = []
    for i in range(episodes):
        env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return float(np.mean(returns)), float(np.std(returns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=100)
    args = parser.parse_args()
    command = f"python -m mbrlbench.tasks.random_returns --episodes {args.episodes}"
    with open(OUT, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["task", "episodes", "return_mean", "return_std", "seed", "command"])
        for name in TASKS:
            mean, std = random_return(name, args.episodes)
            writer.writerow([name, args.episodes, f"{mean:.2f}", f"{std:.2f}", 0, command])
            print(f"{name:20s} {mean:10.2f} +- {std:.2f}")
    print(f"written {OUT}")


if __name__ == "__main__":
    main()
