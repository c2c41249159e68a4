"""``mbrlbench``: run, validate and list suites of model-based RL runs.

Exit codes: 0 success, 1 a run failed, 2 bad input (one line on stderr, nothing written).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from mbrlbench.errors import UserInputError
from mbrlbench.support.console import plain_console

if TYPE_CHECKING:  # the suite loads the algorithms (torch): only commands that need it import it
    from mbrlbench.runner.outcome import SuiteOutcome
    from mbrlbench.runner.spec import RunSpec
    from mbrlbench.suite import Suite

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Benchmark model-based RL algorithms on gymnasium MuJoCo v5 against their papers.",
)
out_console = plain_console()
err_console = plain_console(stderr=True)
BUILTIN_SUITES = Path(__file__).parent / "suites"
ONLY_KEYS = ("task", "algorithm", "seed")


def fail_input(message: str) -> typer.Exit:
    err_console.print(f"error: {message}", highlight=False, markup=False, soft_wrap=True)
    return typer.Exit(2)


def _step_list(steps: str | None) -> list[int]:
    """``--steps 50000,100_000`` -> [50000, 100000]; positive integers only."""
    try:
        values = [int(s.replace("_", "")) for s in steps.split(",")] if steps else []
    except ValueError:
        raise fail_input(f"--steps {steps!r}: expected comma-separated positive integers, e.g. 50000,100000") from None
    if any(v < 1 for v in values):
        raise fail_input(f"--steps {steps!r}: env steps must be positive integers")
    return values


@contextmanager
def _interruptible(what: str) -> Iterator[None]:
    """Ctrl-C during a command that writes: one line saying what was kept, exit 130 (its outputs are staged,
    so nothing half-written remains)."""
    try:
        yield
    except KeyboardInterrupt:
        err_console.print(f"interrupted: {what}")
        raise typer.Exit(130) from None


def _print_warnings(warnings: list[str]) -> None:
    for warning in warnings:
        err_console.print(Text.assemble(("warning: ", "yellow"), warning), soft_wrap=True)


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
    options = {
        "device": device,
        "restart": restart,
        "keep_checkpoints": keep_checkpoints,
        "console": err_console,
    }
    cluster = {"address": address, "cpus_per_run": cpus_per_run, "gpus_per_run": gpus_per_run, "partition": partition}
    cluster |= {"time": time, "gpus_per_node": gpus_per_node, "array_parallelism": array_parallelism, "wait": wait}
    pool = {"jobs": jobs, "runs_per_gpu": runs_per_gpu, "threads_per_run": threads_per_run}
    try:
        outcome = _launch(launcher, runs, out, f"{loaded.file.name} ({launcher})", options | pool | cluster)
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
    device: str | None, launcher: str, jobs: int | None, runs_per_gpu: int, threads: int | None, out: Path
) -> None:
    """Every flag of ``run`` checked before any process starts (one line, exit 2)."""
    import re

    if device is not None and not re.fullmatch(r"auto|cpu|cuda|cuda:\d+", device):
        raise fail_input(f"--device {device!r}: allowed: auto, cpu, cuda, cuda:N")
    if launcher not in LAUNCHERS:
        raise fail_input(f"--launcher {launcher!r}: allowed: {', '.join(LAUNCHERS)}")
    for name, value in (("--jobs", jobs), ("--runs-per-gpu", runs_per_gpu), ("--threads-per-run", threads)):
        if value is not None and value < 1:
            raise fail_input(f"{name} {value}: must be a positive integer")
    from mbrlbench.support.outputs import check_output_dir

    try:
        check_output_dir(out, "--out")
    except UserInputError as err:
        raise fail_input(str(err)) from None


def _launch(launcher: str, runs: list[RunSpec], out: Path, title: str, o: dict[str, Any]) -> SuiteOutcome | None:
    """Hands the runs to the chosen launcher; None for Slurm (submitted, not waited on unless --wait)."""
    common = {"restart": o["restart"], "keep_checkpoints": o["keep_checkpoints"], "console": o["console"]}
    if launcher == "inline":
        from mbrlbench.runner.launchers.inline import run_suite

        return run_suite(runs, out, device=o["device"], threads=o["threads_per_run"], **common)
    if launcher == "local":
        from mbrlbench.runner.launchers.local import run_pool

        pool = {k: o[k] for k in ("device", "jobs", "runs_per_gpu", "threads_per_run")}
        return run_pool(runs, out, title=title, **pool, **common)
    if launcher == "ray":
        from mbrlbench.runner.launchers.ray import run_ray

        ray = {k: o[k] for k in ("address", "cpus_per_run", "gpus_per_run")}
        return run_ray(runs, out, title=title, **ray, **common)
    from mbrlbench.runner.launchers.slurm import parse_time, submit_slurm

    parse_time(o["time"])
    slurm = {k: o[k] for k in ("partition", "time", "gpus_per_node", "runs_per_gpu", "array_parallelism", "wait")}
    submit_slurm(
        runs, out, jobs_per_task=o["jobs"], threads_per_run=o["threads_per_run"], device=o["device"], **slurm, **common
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


@app.command()
def report(
    path: Annotated[Path, typer.Argument(help="A folder of run folders (any depth), e.g. results/quick.")],
    out: Annotated[Path | None, typer.Option(help="Where to write (default: PATH/report).")] = None,
    format: Annotated[str, typer.Option(help="Comma-separated outputs among png,pdf,md,tex,csv.")] = (
        "png,pdf,md,tex,csv"
    ),
    steps: Annotated[str | None, typer.Option(help="Extra env steps for the returns table, e.g. 50000,100000.")] = None,
    reference: Annotated[Path | None, typer.Option(help="Another paper_results.csv to compare against.")] = None,
    delta: Annotated[float, typer.Option(help="Equivalence margin as a fraction of the paper's value.")] = 0.10,
    videos: Annotated[bool, typer.Option(help="Film each (task, algorithm)'s best seed into PATH/report/videos.")] = (
        False
    ),
    metrics: Annotated[
        str | None,
        typer.Option(help="progress.csv columns to draw, one figure each, e.g. model/kstep_error_5,sac/alpha."),
    ] = None,
    reference_runs: Annotated[
        Path | None,
        typer.Option(help="Runs to test ours against, cell by cell (default: this checkout's results/reference)."),
    ] = None,
) -> None:
    """Learning curves, returns against the papers and the reference runs with verdicts, claims, aggregates,
    sample efficiency, wall-clock, diagnostics."""
    from mbrlbench.report.build import FORMATS, NoRuns, build_report

    formats = tuple(f.strip() for f in format.split(",") if f.strip())
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise fail_input(f"--format {format!r}: allowed: {', '.join(FORMATS)}")
    step_list = _step_list(steps)
    if not path.is_dir():
        raise fail_input(f"{path}: not a folder")
    if reference is not None and not reference.is_file():
        raise fail_input(f"--reference {reference}: no such file")
    if not 0 < delta < 1:
        raise fail_input(f"--delta {delta}: allowed: a fraction between 0 and 1")
    if reference_runs is not None and not reference_runs.is_dir():
        raise fail_input(f"--reference-runs {reference_runs}: not a folder")
    metric_list = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else []
    film = None
    if videos:
        from mbrlbench.runner.policy_eval import ensure_gl_backend, film_clip

        try:
            ensure_gl_backend()
        except UserInputError as err:
            raise fail_input(str(err)) from None
        film = film_clip
    try:
        with _interruptible(f"no report written; {out or path / 'report'} is as it was"):
            result = build_report(
                path, out, formats, step_list, reference, delta, err_console, metric_list, film, reference_runs
            )
    except (NoRuns, UserInputError) as err:
        raise fail_input(str(err)) from None
    except OSError as err:
        raise fail_input(f"cannot write the report: {err}") from None
    err_console.print(f"report: {len(result.files)} files in {result.out} ({result.seconds:.1f} s)")


@app.command()
def compare(
    a: Annotated[Path, typer.Argument(help="Result set A (the one judged), e.g. results/quick.")],
    b: Annotated[Path | None, typer.Argument(help="Result set B (the baseline), e.g. results/reference.")] = None,
    variants: Annotated[str | None, typer.Option(help="X:Y: algorithm X against Y within A (no B).")] = None,
    steps: Annotated[str | None, typer.Option(help="Extra env steps to compare at, e.g. 50000,100000.")] = None,
    delta: Annotated[float, typer.Option(help="Equivalence margin as a fraction of B's mean.")] = 0.10,
    out: Annotated[Path | None, typer.Option(help="Where to write (default: A/compare).")] = None,
    fail_if_worse: Annotated[bool, typer.Option(help="Exit 1 when any cell is worse (a CI gate).")] = False,
) -> None:
    """Compare two result sets cell by cell: means, difference CI, P(A > B), better/worse/equivalent."""
    from mbrlbench.report.compare import compare as run_compare
    from mbrlbench.report.compare import compare_markdown
    from mbrlbench.report.plots import compare_curves
    from mbrlbench.support.outputs import check_output_dir, staged

    pair = _variant_pair(variants)
    if (b is None) == (pair is None):
        raise fail_input("give a result set B, or --variants X:Y (one of the two)")
    for path in (a, b):
        if path is not None and not path.is_dir():
            raise fail_input(f"{path}: not a folder")
    if b is not None and a.resolve() == b.resolve():
        raise fail_input(f"{a} and {b} are the same folder: a set compared with itself tests nothing")
    if not 0 < delta < 1:
        raise fail_input(f"--delta {delta}: allowed: a fraction between 0 and 1")
    step_list = _step_list(steps)
    target = out or a / "compare"
    try:
        check_output_dir(target, "--out")
        result = run_compare(a, b or a, step_list, delta, pair)
    except UserInputError as err:
        raise fail_input(str(err)) from None
    _print_warnings(result.warnings)
    common = result.table[~result.table["verdict"].astype(str).str.startswith("only in")]
    if common.empty:
        message = f"{a}, {b or a}: no (task, algorithm) cell in both sets; nothing compared"
        if fail_if_worse:
            raise fail_input(message + " (--fail-if-worse needs at least one)")
        err_console.print(message)
    names = (f"{pair[0]}", f"{pair[1]}") if pair else (a.name, b.name if b else "")
    with _interruptible(f"nothing written; {target} is as it was"), staged(target) as stage:
        result.table.to_csv(stage / "compare.csv", index=False)
        (stage / "compare.md").write_text(compare_markdown(result.table, names[0], names[1], delta))
        compare_curves(result.curves_a, result.curves_b, names, stage / "compare", ["png"])
    out_console.print(_compare_table(result.table, names))
    err_console.print(f"compare: {target / 'compare.md'}, compare.csv, compare.png")
    if fail_if_worse and len(result.worse):
        raise typer.Exit(1)


def _variant_pair(variants: str | None) -> tuple[str, str] | None:
    """``--variants X:Y`` -> (X, Y); both names must be given."""
    if variants is None:
        return None
    x, sep, y = variants.partition(":")
    if not sep or not x or not y or ":" in y:
        raise fail_input(f"--variants {variants!r}: expected X:Y, two algorithm names of A, e.g. mbpo:sac")
    return x, y


def _compare_table(table: Any, names: tuple[str, str]) -> Table:
    from mbrlbench.report.compare import difference_text, power_text

    style = {"worse": "red", "better": "green", "equivalent": "cyan", "consistent": "yellow"}
    out = Table(title=f"{names[0]} (A) against {names[1]} (B)")
    columns = (
        "task",
        "algorithm",
        "env step",
        "A",
        "B",
        "A - B [95% CI]",
        "P(A>B)",
        "verdict",
        "detectable",
        "seeds ±10/25%",
    )
    for col in columns:
        out.add_column(col, justify="left" if col in ("task", "algorithm", "verdict") else "right")
    for r in table.itertuples():
        if str(r.verdict).startswith("only in"):
            out.add_row(r.task, r.algorithm, f"{r.env_step:,.0f}", "", "", "", "", Text(r.verdict, style="dim"), "", "")
            continue
        text = r.verdict_text if isinstance(r.verdict_text, str) else r.verdict
        verdict = Text(text, style=style.get(r.verdict, "dim"))
        diff = difference_text(r.diff, r.diff_low, r.diff_high)
        a_cell, b_cell = f"{r.mean_a:,.1f} ({r.seeds_a})", f"{r.mean_b:,.1f} ({r.seeds_b})"
        detect, seeds = power_text(r)
        out.add_row(
            r.task, r.algorithm, f"{r.env_step:,}", a_cell, b_cell, Text(diff), f"{r.poi:.2f}", verdict, detect, seeds
        )
    return out


@app.command()
def export(
    path: Annotated[Path, typer.Argument(help="A folder of run folders (any depth).")],
    to: Annotated[str, typer.Option(help="csv | parquet | npz | tensorboard | wandb.")] = "csv",
    out: Annotated[Path | None, typer.Option(help="Where to write (default: PATH/export/<format>).")] = None,
) -> None:
    """Export runs: one tidy table (csv, parquet), rliable-shaped arrays (npz), TensorBoard, offline W&B."""
    from mbrlbench.report.export import FORMATS, extra_missing
    from mbrlbench.report.export import export as run_export
    from mbrlbench.support.outputs import check_output_dir

    if to not in FORMATS:
        raise fail_input(f"--to {to!r}: allowed: {', '.join(FORMATS)}")
    if not path.is_dir():
        raise fail_input(f"{path}: not a folder")
    if (missing := extra_missing(to)) is not None:
        raise fail_input(missing)
    target = out or path / "export" / to
    try:
        check_output_dir(target, "--out")
        with _interruptible(f"nothing written; {target} is as it was"):
            written, warnings = run_export(path, to, target)
    except UserInputError as err:
        raise fail_input(str(err)) from None
    _print_warnings(warnings)
    err_console.print(f"export: {len(written)} written under {target}")


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
    with _interruptible("stopped; each eval.csv and video written so far is whole, the others untouched"):
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


if __name__ == "__main__":
    app()
