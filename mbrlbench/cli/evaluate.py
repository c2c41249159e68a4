"""``eval``: load saved policies, evaluate them on fresh seeds, optionally film them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from mbrlbench.cli.app import app, err_console, fail_input, interruptible, out_console
from mbrlbench.errors import UserInputError


@app.command("eval")
def eval_(
    path: Annotated[Path, typer.Argument(help="A run folder, or any folder of runs (each evaluated).")],
    episodes: Annotated[int, typer.Option(help="Episodes per policy.")] = 10,
    seed: Annotated[int, typer.Option(help="Env reset seeds seed, seed+1, ...; also seeds stochastic actions.")] = 0,
    stochastic: Annotated[bool, typer.Option(help="Sample actions instead of the deterministic mean.")] = False,
    video: Annotated[Path | None, typer.Option(help="Film the first episode to FILE.mp4|.gif (one run).")] = None,
    video_dir: Annotated[Path | None, typer.Option(help="Film each run's first episode into this folder.")] = None,
    max_frames: Annotated[int, typer.Option(help="Frames per video at most (one per env step).")] = 1000,
    device: Annotated[str, typer.Option(help="cpu | cuda | cuda:N.")] = "cpu",
) -> None:
    """Evaluate the saved policies (policy.pt) under PATH: a table of returns, eval.csv beside each policy."""
    from mbrlbench.runner.policy_eval import policy_runs

    if not path.exists():
        raise fail_input(f"{path}: no such folder")
    if episodes < 1 or max_frames < 1:
        raise fail_input("--episodes and --max-frames must be positive integers")
    if not 0 <= seed <= 2**32 - 1 - episodes:
        raise fail_input(
            f"--seed {seed}: allowed: 0 to {2**32 - 1 - episodes:,} (env reset seeds are seed, seed+1, ...)"
        )
    _check_eval_device(device)
    runs = policy_runs(path)
    if not runs:
        raise fail_input(f"{path}: no run folders under it")
    if video is not None and len(runs) > 1:
        raise fail_input(f"--video {video}: {len(runs)} runs under {path}; use --video-dir for several")
    _check_video_targets(video, video_dir)
    with interruptible("stopped; each eval.csv and video written so far is whole, the others untouched"):
        rows, bad = _evaluate_runs(runs, episodes, seed, stochastic, device)
        if rows and (video or video_dir):
            bad += _film_runs(rows, video, video_dir, seed, stochastic, max_frames)
    if rows:
        out_console.print(_eval_table(rows, episodes, stochastic))
    if bad:
        raise typer.Exit(2)


def _check_eval_device(device: str) -> None:
    import re

    if not re.fullmatch(r"cpu|cuda|cuda:\d+", device):
        raise fail_input(f"--device {device!r}: allowed: cpu, cuda, cuda:N")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise fail_input(f"--device {device}: CUDA is not available on this machine; use --device cpu")
        if ":" in device and int(device.partition(":")[2]) >= torch.cuda.device_count():
            raise fail_input(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s)")


def _check_video_targets(video: Path | None, video_dir: Path | None) -> None:
    """Every output of filming is checked before any policy is evaluated (eval.csv is written first)."""
    from mbrlbench.runner.policy_eval import ensure_gl_backend, video_missing
    from mbrlbench.support.outputs import check_output_dir, check_output_file

    if video is None and video_dir is None:
        return
    try:
        if video is not None:
            if video.suffix not in (".mp4", ".gif"):
                raise UserInputError(f"--video {video}: allowed: a .mp4 or .gif file")
            check_output_file(video, "--video")
        if video_dir is not None:
            check_output_dir(video_dir, "--video-dir")
        if (missing := video_missing()) is not None:
            raise UserInputError(missing)
        ensure_gl_backend()
    except UserInputError as err:
        raise fail_input(str(err)) from None


def _evaluate_runs(runs: list[Path], episodes: int, seed: int, stochastic: bool, device: str) -> tuple[list, int]:
    """Each run's policy evaluated; one that cannot be (missing, refused, corrupt, another task's, NaN) is one
    line on stderr and the others are still evaluated."""
    from mbrlbench.runner.policy_eval import evaluate_policy

    rows, bad = [], 0
    for run_dir in runs:
        try:
            rows.append(evaluate_policy(run_dir, episodes, seed, not stochastic, device))
        except ValueError as err:  # PolicyError: the message names the file
            err_console.print(f"error: {err}", soft_wrap=True)
            bad += 1
        except Exception as err:  # anything else a foreign file provokes: still one line, still the others
            err_console.print(f"error: {run_dir}: evaluation failed ({type(err).__name__}: {err})", soft_wrap=True)
            bad += 1
    return rows, bad


def _film_runs(
    rows: list, video: Path | None, video_dir: Path | None, seed: int, stochastic: bool, max_frames: int
) -> int:
    """Film each evaluated run; the count of runs that could not be filmed (each one line)."""
    from mbrlbench.runner.policy_eval import film

    bad = 0
    for r in rows:
        target = video or Path(video_dir or ".") / f"{r.task}-{r.algorithm}-seed{r.seed}.mp4"
        try:
            r.video = film(r.run_dir, target, seed, not stochastic, max_frames)
        except (UserInputError, ValueError, OSError) as err:
            err_console.print(f"error: {target}: not filmed ({err})", soft_wrap=True)
            bad += 1
            continue
        err_console.print(f"video: {r.video}")
    return bad


def _eval_table(rows: list, episodes: int, stochastic: bool) -> Table:
    import numpy as np

    mode = "stochastic" if stochastic else "deterministic"
    table = Table(title=f"saved policies, {episodes} {mode} episodes each")
    for col in ("task", "algorithm", "seed", "trained steps", "return (mean ± std)", "folder"):
        table.add_column(col, justify="right" if col in ("seed", "trained steps") else "left")
    groups: dict[tuple[str, str], list[float]] = {}
    for r in sorted(rows, key=lambda r: (r.task, r.algorithm, r.seed)):
        mean, std = float(np.mean(r.returns)), float(np.std(r.returns))
        groups.setdefault((r.task, r.algorithm), []).append(mean)
        table.add_row(r.task, r.algorithm, str(r.seed), f"{r.env_step:,}", f"{mean:,.1f} ± {std:,.1f}", str(r.run_dir))
    for (task, algorithm), means in groups.items():
        if len(means) > 1:
            summary = f"{np.mean(means):,.1f} ± {np.std(means):,.1f} over seeds"
            table.add_row(
                Text(task, style="bold"), Text(algorithm, style="bold"), f"{len(means)} seeds", "", summary, ""
            )
    return table
