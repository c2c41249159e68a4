"""``python -m mbrlbench.cli``."""

from mbrlbench.cli import app

app()
