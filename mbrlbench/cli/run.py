"""``run``, ``status``, ``validate`` and ``list``: suites in, runs out. The suite loads the algorithms (torch), so
each command imports what it needs when it runs."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from mbrlbench.cli.app import app, err_console, fail_input, out_console
from mbrlbench.errors import UserInputError

if TYPE_CHECKING:
    from mbrlbench.runner.outcome import SuiteOutcome
    from mbrlbench.runner.spec import RunSpec
    from mbrlbench.suite import Suite

BUILTIN_SUITES = Path(__file__).resolve().parents[1] / "suites"
ONLY_KEYS = ("task", "algorithm", "seed")


def _suite_path(suite: str) -> Path:
    path = Path(suite)
    if path.exists() or path.suffix in (".yaml", ".yml"):
        return path
    builtin = BUILTIN_SUITES / f"{suite}.yaml"
    return builtin if builtin.exists() else path


def _load(suite: str, only: list[str] | None, sets: list[str] | None = None) -> tuple[Suite, list[RunSpec]]:
    from mbrlbench.components.config import RenamedSetting
    from mbrlbench.suite import SuiteError, load_suite

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RenamedSetting)
        try:
            loaded = load_suite(_suite_path(suite), sets or ())
        except SuiteError as err:
            raise fail_input(str(err)) from None
    for message in dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, RenamedSetting)):
        err_console.print(f"deprecated: {message}")
    runs = loaded.runs
    pairs: list[str] = []  # repeated and comma-separated; a piece without KEY= continues a sweep's run name
    for piece in (p for item in only or [] for p in item.split(",")):
        if pairs and piece.partition("=")[0] not in ONLY_KEYS:
            pairs[-1] += "," + piece
        else:
            pairs.append(piece)
    for item in pairs:
        key, sep, value = item.partition("=")
        if not sep or key not in ONLY_KEYS:
            raise fail_input(f"--only {item!r}: expected KEY=VALUE with KEY one of {', '.join(ONLY_KEYS)}")
        runs = [r for r in runs if r.matches(key, value)]
    if not runs:
        raise fail_input(f"{loaded.path}: no run matches --only {' '.join(only or [])}")
    return loaded, runs


def _grid_table(runs: list[RunSpec], out: Path) -> Table:
    from mbrlbench.rundir import read_state
    from mbrlbench.runner.disk import estimate_checkpoint_bytes, human_bytes

    table = Table(title=f"{len(runs)} runs")
    for col in ("task", "algorithm", "seed", "env steps", "checkpoint", "state", "folder"):
        table.add_column(col)
    for r in runs:
        table.add_row(
            r.task.name,
            r.variant,
            str(r.seed),
            f"{r.env_steps:,}",
            human_bytes(estimate_checkpoint_bytes(r)),
            str(read_state(r.run_dir(out))),
            str(r.run_dir(out)),
        )
    return table


LAUNCHERS = ("local", "inline", "ray", "slurm")


@app.command()
def run(
    suite: Annotated[
        str, typer.Argument(help="Suite file, or a built-in suite name (quick, smoke, mujoco, mbmpo, reference).")
    ] = "quick",
    out: Annotated[Path, typer.Option(help="Results root: OUT/<suite>/<task>/<algorithm>/seed<k>.")] = Path("results"),
    device: Annotated[str | None, typer.Option(help="auto | cpu | cuda | cuda:N (overrides the suite).")] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            help="Run a slice: KEY=VALUE (task, algorithm, seed), repeated or comma-separated; all must match."
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="KEY=VALUE into the suite's data, dotted (overrides.mbpo.all.ensemble_size=5)."),
    ] = None,
    restart: Annotated[bool, typer.Option(help="Wipe and rerun the selected runs.")] = False,
    keep_checkpoints: Annotated[bool, typer.Option(help="Keep checkpoint.pt after a run completes.")] = False,
    tensorboard: Annotated[
        bool, typer.Option(help="Mirror each progress.csv row into <run>/tensorboard/ ([tensorboard] extra).")
    ] = False,
    dry_run: Annotated[bool, typer.Option(help="Print the runs and exit.")] = False,
    launcher: Annotated[str, typer.Option(help="local (process pool) | inline (this process) | ray | slurm.")] = (
        "local"
    ),
    jobs: Annotated[int | None, typer.Option(help="Runs at once (local; per array task for slurm).")] = None,
    runs_per_gpu: Annotated[int, typer.Option(help="Runs packed on each GPU (local, slurm).")] = 1,
    threads_per_run: Annotated[int | None, typer.Option(help="torch CPU threads per run.")] = None,
    address: Annotated[str | None, typer.Option(help="ray: auto or ray://HOST:PORT (default: a local Ray).")] = None,
    cpus_per_run: Annotated[float, typer.Option(help="ray: CPUs reserved per run.")] = 1.0,
    gpus_per_run: Annotated[float, typer.Option(help="ray: GPUs per run, e.g. 0.25 packs 4 per GPU.")] = 0.0,
    partition: Annotated[str | None, typer.Option(help="slurm: partition.")] = None,
    time: Annotated[str, typer.Option(help="slurm: time limit per array task, HH:MM:SS.")] = "24:00:00",
    gpus_per_node: Annotated[int, typer.Option(help="slurm: GPUs per array task.")] = 0,
    array_parallelism: Annotated[int, typer.Option(help="slurm: array tasks running at once.")] = 16,
    wait: Annotated[bool, typer.Option(help="slurm: wait for the array to finish.")] = False,
) -> None:
    """Train every run of SUITE; completed runs are skipped, interrupted ones resume from their checkpoint."""
    _check_run_options(device, launcher, jobs, runs_per_gpu, threads_per_run, out)
    if tensorboard:
        from mbrlbench.runner.tensorboard import tensorboard_missing

        if (why := tensorboard_missing()) is not None:
            raise fail_input(why)
        set_ = [*(set_ or []), "tensorboard=true"]
    loaded, runs = _load(suite, only, set_)
    if dry_run:
        out_console.print(_grid_table(runs, out))
        return
    from mbrlbench.runner.lifecycle import resolve_device

    try:
        resolve_device(device or loaded.file.device)
    except ValueError as err:
        raise fail_input(str(err)) from None
    launch = Launch(
        device=device,
        restart=restart,
        keep_checkpoints=keep_checkpoints,
        threads_per_run=threads_per_run,
        jobs=jobs,
        runs_per_gpu=runs_per_gpu,
        console=err_console,
    )
    cluster = Cluster(address, cpus_per_run, gpus_per_run, partition, time, gpus_per_node, array_parallelism, wait)
    try:
        outcome = _launch(launcher, runs, out, f"{loaded.file.name} ({launcher})", launch, cluster)
    except UserInputError as err:
        raise fail_input(str(err)) from None
    if outcome is None:  # slurm: submitted
        return
    _report_outcome(outcome, loaded.file.name, out)


def _report_outcome(outcome: SuiteOutcome, name: str, out: Path) -> None:
    """The suite's summary line and each unfinished run's reason; exit 1 when a run failed or is still held
    by another process (the suite is not done), 130 when runs were stopped."""
    summary = ", ".join(f"{len(v)} {k}" for k, v in outcome.states.items())
    err_console.print(f"{name}: {summary}; results in {out / name}")
    for run_dir, reason in outcome.reasons.items():
        err_console.print(f"  {run_dir}: {reason}", soft_wrap=True)
    if outcome.failed:
        raise typer.Exit(1)
    if outcome.held:
        err_console.print(f"{len(outcome.held)} runs are held by another process and were not run: rerun when released")
        raise typer.Exit(1)
    if outcome.stopped:
        raise typer.Exit(130)


def _check_run_options(
    device: str | None, launcher: str, jobs: int | None, runs_per_gpu: int, threads_per_run: int | None, out: Path
) -> None:
    """Every flag of ``run`` checked before any process starts (one line, exit 2)."""
    import re

    if device is not None and not re.fullmatch(r"auto|cpu|cuda|cuda:\d+", device):
        raise fail_input(f"--device {device!r}: allowed: auto, cpu, cuda, cuda:N")
    if launcher not in LAUNCHERS:
        raise fail_input(f"--launcher {launcher!r}: allowed: {', '.join(LAUNCHERS)}")
    for name, value in (("--jobs", jobs), ("--runs-per-gpu", runs_per_gpu), ("--threads-per-run", threads_per_run)):
        if value is not None and value < 1:
            raise fail_input(f"{name} {value}: must be a positive integer")
    from mbrlbench.support.outputs import check_output_dir

    try:
        check_output_dir(out, "--out")
    except UserInputError as err:
        raise fail_input(str(err)) from None


@dataclass(frozen=True)
class Launch:
    """What every launcher takes: where runs go, how each runs, how many at once."""

    device: str | None
    restart: bool
    keep_checkpoints: bool
    threads_per_run: int | None
    jobs: int | None  # local: runs at once; slurm: runs per array task
    runs_per_gpu: int
    console: Console


@dataclass(frozen=True)
class Cluster:
    """The ray and slurm launchers' own options (the ``--address`` ... ``--wait`` flags)."""

    address: str | None
    cpus_per_run: float
    gpus_per_run: float
    partition: str | None
    time: str
    gpus_per_node: int
    array_parallelism: int
    wait: bool


def _launch(launcher: str, runs: list[RunSpec], out: Path, title: str, o: Launch, c: Cluster) -> SuiteOutcome | None:
    """Hands the runs to the chosen launcher; None for Slurm (submitted, not waited on unless --wait)."""
    if launcher == "inline":
        from mbrlbench.runner.launchers.inline import run_suite

        return run_suite(
            runs,
            out,
            device=o.device,
            threads_per_run=o.threads_per_run,
            restart=o.restart,
            keep_checkpoints=o.keep_checkpoints,
            console=o.console,
        )
    if launcher == "local":
        from mbrlbench.runner.launchers.local import run_pool

        return run_pool(
            runs,
            out,
            title=title,
            device=o.device,
            jobs=o.jobs,
            runs_per_gpu=o.runs_per_gpu,
            threads_per_run=o.threads_per_run,
            restart=o.restart,
            keep_checkpoints=o.keep_checkpoints,
            console=o.console,
        )
    if launcher == "ray":
        from mbrlbench.runner.launchers.ray import run_ray

        return run_ray(
            runs,
            out,
            title=title,
            address=c.address,
            cpus_per_run=c.cpus_per_run,
            gpus_per_run=c.gpus_per_run,
            restart=o.restart,
            keep_checkpoints=o.keep_checkpoints,
            console=o.console,
        )
    from mbrlbench.runner.launchers.slurm import parse_time, submit_slurm

    parse_time(c.time)
    submit_slurm(
        runs,
        out,
        partition=c.partition,
        time=c.time,
        gpus_per_node=c.gpus_per_node,
        runs_per_gpu=o.runs_per_gpu,
        jobs_per_task=o.jobs,
        array_parallelism=c.array_parallelism,
        wait=c.wait,
        threads_per_run=o.threads_per_run,
        device=o.device,
        restart=o.restart,
        keep_checkpoints=o.keep_checkpoints,
        console=o.console,
    )
    return None


@app.command()
def status(
    path: Annotated[Path, typer.Argument(help="A results folder (a suite's, or any folder of runs).")],
) -> None:
    """Print the suite's run table once (state, env step of budget, last return, steps/s, ETA)."""
    from mbrlbench.rundir import discover_runs
    from mbrlbench.runner.view import status_table

    if not path.is_dir():
        raise fail_input(f"{path}: not a folder")
    run_dirs = discover_runs(path)
    if not run_dirs:
        raise fail_input(f"{path}: no run folders under it")
    out_console.print(status_table(run_dirs, str(path)))


@app.command()
def validate(
    suite: Annotated[str, typer.Argument(help="Suite file or built-in suite name.")],
    out: Annotated[Path, typer.Option(help="Results root, to show each run's state.")] = Path("results"),
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="KEY=VALUE into the suite's data, dotted (overrides.mbpo.all.ensemble_size=5)."),
    ] = None,
) -> None:
    """Check SUITE and print its expanded grid, total env steps and checkpoint disk estimate."""
    from mbrlbench.runner.disk import estimate_checkpoint_bytes, human_bytes

    loaded, runs = _load(suite, None, set_)
    out_console.print(_grid_table(runs, out))
    total_steps = sum(r.env_steps for r in runs)
    peak = max(estimate_checkpoint_bytes(r) for r in runs)
    out_console.print(
        f"{loaded.path}: valid; {len(runs)} runs, {total_steps:,} env steps in all; "
        f"checkpoints up to {human_bytes(peak)} each (one per running run)"
    )


@app.command("list")
def list_() -> None:
    """Print the registered tasks, algorithms, variants and installed plugins (with where each came from)."""
    from mbrlbench.algorithms.registry import ALGORITHMS, VARIANTS, load_plugin
    from mbrlbench.support.plugins import PluginError, entry_point_origin, registered
    from mbrlbench.tasks import TASKS

    for name, task in TASKS.items():
        horizon = f", {task.max_episode_steps}-step episodes" if task.max_episode_steps else ""
        out_console.print(f"task       {name:20s} {task.env_id}{horizon}", highlight=False, markup=False)
    for name, entry in ALGORITHMS.items():
        out_console.print(f"algorithm  {name:20s} {entry.summary} [{entry.fidelity}]", highlight=False, markup=False)
    for name, variant in VARIANTS.items():
        out_console.print(
            f"variant    {name:20s} {variant.algorithm}: {variant.summary}", highlight=False, markup=False
        )
    for name, ep in registered().items():
        if name in ALGORITHMS or name in VARIANTS:
            line = f"shadowed by the built-in {name}; {entry_point_origin(ep)}"
        else:
            try:
                entry = load_plugin(name)
                line = f"{entry.summary} [{entry.fidelity}]; {entry.origin}"
            except PluginError as err:
                line = f"cannot be used: {err}"
        out_console.print(f"plugin     {name:20s} {line}", highlight=False, markup=False, soft_wrap=True)
