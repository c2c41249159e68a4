"""``report``, ``compare`` and ``export``: result folders in, tables, figures and other tools' formats out
(torch-free: the report side reads run folders through ``rundir`` only)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from mbrlbench.cli.app import app, err_console, fail_input, interruptible, out_console, parse_steps, print_warnings
from mbrlbench.errors import UserInputError


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
    step_list = parse_steps(steps)
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
        with interruptible(f"no report written; {out or path / 'report'} is as it was"):
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
    step_list = parse_steps(steps)
    target = out or a / "compare"
    try:
        check_output_dir(target, "--out")
        result = run_compare(a, b or a, step_list, delta, pair)
    except UserInputError as err:
        raise fail_input(str(err)) from None
    print_warnings(result.warnings)
    common = result.table[~result.table["verdict"].astype(str).str.startswith("only in")]
    if common.empty:
        message = f"{a}, {b or a}: no (task, algorithm) cell in both sets; nothing compared"
        if fail_if_worse:
            raise fail_input(message + " (--fail-if-worse needs at least one)")
        err_console.print(message)
    names = (f"{pair[0]}", f"{pair[1]}") if pair else (a.name, b.name if b else "")
    with interruptible(f"nothing written; {target} is as it was"), staged(target) as stage:
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
        with interruptible(f"nothing written; {target} is as it was"):
            written, warnings = run_export(path, to, target)
    except UserInputError as err:
        raise fail_input(str(err)) from None
    print_warnings(warnings)
    err_console.print(f"export: {len(written)} written under {target}")
