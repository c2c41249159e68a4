"""Fixtures: a 2-run micro-suite file (tiny MBPO and SAC on inverted_pendulum, 800 env steps); helpers shared by
test modules live in helpers.py."""

from pathlib import Path

import pytest
from helpers import MICRO_SUITE


@pytest.fixture
def suite_file(tmp_path: Path) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(MICRO_SUITE)
    return path


@pytest.fixture(scope="session")
def micro_reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The micro-suite's runs done unbroken, once per test session (per xdist worker): the results root that
    the crash-safety and resume tests compare their broken runs with."""
    from mbrlbench.runner.lifecycle import run_one
    from mbrlbench.suite import load_suite

    root = tmp_path_factory.mktemp("micro_reference")
    (root / "suite.yaml").write_text(MICRO_SUITE)
    for spec in load_suite(root / "suite.yaml").runs:
        assert run_one(spec, root / "out", threads_per_run=1) == "completed"
    return root / "out"


def pytest_configure(config):
    """Every progress.csv row must hold exactly its declared columns (``rundir.STRICT_COLUMNS_ENV``, inherited by
    the processes tests start). Under pytest-xdist (``-n 2``) each worker gets one torch thread, and so do the
    processes it starts, so that two workers on two cores do not oversubscribe them."""
    import os

    from mbrlbench.rundir import STRICT_COLUMNS_ENV

    os.environ[STRICT_COLUMNS_ENV] = "1"

    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        os.environ["OMP_NUM_THREADS"] = "1"
        torch.set_num_threads(1)
