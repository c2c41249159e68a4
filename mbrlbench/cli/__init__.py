"""``mbrlbench``: run, validate and list suites of model-based RL runs; report, compare, export and evaluate
their results.

Exit codes: 0 success, 1 a run failed, 2 bad input (one line on stderr, nothing written), 130 interrupted.
Commands live by what they work on: ``run.py`` (suites), ``results.py`` (result folders), ``evaluate.py``
(saved policies); ``app.py`` holds the typer app and the helpers they share.
"""

from mbrlbench.cli import evaluate, results, run  # noqa: F401  (each module registers its commands)
from mbrlbench.cli.app import app

__all__ = ["app"]
