"""The typer app every command registers on, its two consoles, and the helpers commands share: one-line input
errors (exit 2), ``--steps`` parsing, Ctrl-C handling (exit 130), warnings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.text import Text

from mbrlbench.support.console import plain_console

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Benchmark model-based RL algorithms on gymnasium MuJoCo v5 against their papers.",
)
out_console = plain_console()
err_console = plain_console(stderr=True)


def fail_input(message: str) -> typer.Exit:
    err_console.print(f"error: {message}", highlight=False, markup=False, soft_wrap=True)
    return typer.Exit(2)


def parse_steps(steps: str | None) -> list[int]:
    """``--steps 50000,100_000`` -> [50000, 100000]; positive integers only."""
    try:
        values = [int(s.replace("_", "")) for s in steps.split(",")] if steps else []
    except ValueError:
        raise fail_input(f"--steps {steps!r}: expected comma-separated positive integers, e.g. 50000,100000") from None
    if any(v < 1 for v in values):
        raise fail_input(f"--steps {steps!r}: env steps must be positive integers")
    return values


@contextmanager
def interruptible(what: str) -> Iterator[None]:
    """Ctrl-C during a command that writes: one line saying what was kept, exit 130 (its outputs are staged,
    so nothing half-written remains)."""
    try:
        yield
    except KeyboardInterrupt:
        err_console.print(f"interrupted: {what}")
        raise typer.Exit(130) from None


def print_warnings(warnings: list[str]) -> None:
    for warning in warnings:
        err_console.print(Text.assemble(("warning: ", "yellow"), warning), soft_wrap=True)
