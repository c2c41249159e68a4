"""Crash safety: `mbrlbench run` SIGKILLed again and again (whole process group, at seeded moments, plus
kills injected in the middle of a checkpoint write and of a CSV append), rerun each time, ends with CSVs
identical to an unbroken run: no duplicate, missing or torn rows. Two launchers on one suite at once
corrupt nothing."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from mbrlbench.rundir import TIMING_COLUMNS, read_json
from mbrlbench.suite import load_suite

KILLS = 3


def _start(suite_file: Path, out: Path, env: dict | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "mbrlbench.cli", "run", str(suite_file), "--out", str(out), "--threads-per-run", "1"]
    return subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )


def _check_against_reference(suite_file: Path, out: Path, reference: Path) -> None:
    for spec in load_suite(suite_file).runs:
        run_dir = spec.run_dir(out)
        assert read_json(run_dir / "status.json")["state"] == "completed", spec.variant
        lines = (run_dir / "progress.csv").read_text().splitlines()
        assert len(lines) == len(set(lines)) == 1 + spec.env_steps // spec.eval_every  # no duplicates, none missing
        ours = pd.read_csv(run_dir / "progress.csv").drop(columns=list(TIMING_COLUMNS))
        ref = pd.read_csv(spec.run_dir(reference) / "progress.csv").drop(columns=list(TIMING_COLUMNS))
        pd.testing.assert_frame_equal(ours, ref)
        assert not list(run_dir.glob(".*.tmp"))  # no temp file of an interrupted write left behind


def test_kill_loop(tmp_path, suite_file, micro_reference):
    reference = micro_reference
    out = tmp_path / "out"
    rng = random.Random(1234)
    # Injected kills first (deterministic moments), then SIGKILLs of the whole launcher at seeded delays.
    for fault in ("checkpoint:2", "csv:3"):
        proc = _start(suite_file, out, {"MBRLBENCH_FAULT": fault})
        _, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 1 and "crashed" in stderr, (fault, stderr)
    for _ in range(KILLS):
        proc = _start(suite_file, out)
        time.sleep(rng.uniform(2.0, 6.0))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    final = _start(suite_file, out)
    _, stderr = final.communicate(timeout=300)
    assert final.returncode == 0, stderr
    _check_against_reference(suite_file, out, reference)


def test_two_launchers_on_one_suite(tmp_path, suite_file, micro_reference):
    reference = micro_reference
    out = tmp_path / "out"
    first, second = _start(suite_file, out), _start(suite_file, out)
    outputs = [p.communicate(timeout=300)[1] for p in (first, second)]
    # whichever came second to a run skipped it and said so (or found it already completed); a launcher that
    # left a run to the other is not done with the suite, so it exits 1 saying why, never 0
    for proc, err in zip((first, second), outputs, strict=True):
        assert proc.returncode == 0 or (proc.returncode == 1 and "held by another process" in str(err)), outputs
    assert _start(suite_file, out).wait(timeout=300) == 0
    _check_against_reference(suite_file, out, reference)
