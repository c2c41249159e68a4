"""The consoles every command prints through: names, paths and messages are data, so rich never reads
them as markup (a variant named ``[bold]x`` prints as written); styles come from ``rich.text.Text``."""

from __future__ import annotations

from rich.console import Console


def plain_console(stderr: bool = False) -> Console:
    """A console that prints text as written: no markup, no highlighting; 160 columns when not a terminal."""
    probe = Console(stderr=stderr)
    return Console(
        stderr=stderr, markup=False, highlight=False, soft_wrap=True, width=None if probe.is_terminal else 160
    )
