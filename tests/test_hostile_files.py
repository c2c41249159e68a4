"""Files from elsewhere are data (issue 29): no code runs from a policy or a checkpoint, and eval, compare,
export, report, status and the suite loader answer hostile or careless input with one line naming the file
or flag (exit 2; 130 for an interrupt; 1 for a run failure), no traceback, and nothing created, truncated or
overwritten. Commands run in-process (typer's runner) where no real process is needed."""

import math
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import make_run
from typer.testing import CliRunner

from mbrlbench import cli
from mbrlbench.components.policies.sac import TanhGaussianActor
from mbrlbench.components.policies.saved_policy import PolicySpec
from mbrlbench.rundir import CHECKPOINT, CONFIG, EVAL_CSV, POLICY, PROGRESS, STATUS, write_json
from mbrlbench.tasks import TASKS

UNWRITABLE = Path("/proc/mbrlbench-no-such-place")  # no process, root included, can create files here


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli.app, [str(a) for a in args], catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback: the test fails showing it
    return result.exit_code, result.stdout, result.stderr


def one_line(code: int, stderr: str, expected: int = 2) -> str:
    assert code == expected, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


class Payload:
    """A pickle that runs a shell command when unpickled (the classic ``__reduce__`` exploit)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def policy_payload(obs_dim: int = 4, act_dim: int = 1, task: object = "default", scale: float = 1.0) -> dict:
    actor = TanhGaussianActor(obs_dim, act_dim, 8, 1, -3.0, 3.0, False)
    with torch.no_grad():
        for p in actor.parameters():
            p.mul_(scale)
    kwargs = {"obs_dim": obs_dim, "act_dim": act_dim, "hidden": 8, "layers": 1, "low": -3.0, "high": 3.0}
    spec = PolicySpec("tanh_gaussian", {**kwargs, "env_unit_log_prob": False}, actor)
    meta = {"task": TASKS["inverted_pendulum"].to_dict() if task == "default" else task, "algorithm": "sac"}
    meta |= {"variant": "sac", "seed": 0, "env_step": 100}
    return spec.payload(meta)


def policy_run(root: Path, seed: int, payload: object) -> Path:
    run_dir = root / "s" / "inverted_pendulum" / "sac" / f"seed{seed}"
    run_dir.mkdir(parents=True)
    torch.save(payload, run_dir / POLICY)
    return run_dir


# ------------------------------------------------------------------------------ 1. no code from a file
def test_a_policy_pickle_that_runs_code_is_refused_before_it_runs(tmp_path):
    marker = tmp_path / "pwned"
    run_dir = policy_run(tmp_path, 0, {"format": 1, "kind": "tanh_gaussian", "x": Payload(marker)})
    code, _, stderr = invoke("eval", run_dir, "--episodes", "1")
    line = one_line(code, stderr)
    assert not marker.exists()
    assert str(run_dir / POLICY) in line and "refused" in line and "data only" in line


def test_a_checkpoint_that_runs_code_fails_the_run_without_running_it(tmp_path, suite_file):
    from mbrlbench.runner.lifecycle import run_one
    from mbrlbench.suite import load_suite

    suite_file.write_text(suite_file.read_text().replace("env_steps: 800", "env_steps: 200"))
    (spec,) = [r for r in load_suite(suite_file).runs if r.variant == "sac"]
    run_dir = spec.run_dir(tmp_path / "out")
    assert run_one(spec, tmp_path / "out", threads_per_run=1, keep_checkpoints=True) == "completed"
    marker = tmp_path / "pwned"
    torch.save({"algorithm": Payload(marker)}, run_dir / CHECKPOINT)
    write_json(run_dir / STATUS, {"state": "interrupted", "env_step": 100})
    assert run_one(spec, tmp_path / "out", threads_per_run=1) == "failed"
    assert not marker.exists()
    error = pd.read_json(run_dir / STATUS, typ="series")["error"]
    assert str(run_dir / CHECKPOINT) in error and "refused" in error


def test_no_file_is_loaded_with_weights_only_false():
    root = Path(__file__).resolve().parents[1]
    offenders = [p for d in ("mbrlbench", "benchmarks", "tests", "examples") for p in (root / d).rglob("*.py")]
    offenders = [p for p in offenders if "weights_only=" + "False" in p.read_text()]
    assert offenders == []


# ------------------------------------------------------------------------------ 2-3. eval
BAD_POLICIES = {
    "missing env": (policy_payload(task={"name": "x", "env_id": "NoSuchEnv-v9"}), "not a registered gymnasium env"),
    "import env": (policy_payload(task={"name": "x", "env_id": "antigravity:Fly-v0"}), "not a registered"),
    "no meta": ({**policy_payload(), "meta": None}, "meta must be a mapping"),
    "meta list": ({**policy_payload(), "meta": [1, 2]}, "meta must be a mapping"),
    "no task": (policy_payload(task=None), "meta.task must be a mapping"),
    "other task": (policy_payload(obs_dim=11, act_dim=3), "takes 11 observation values; InvertedPendulum-v5 gives 4"),
    "nan weights": (policy_payload(scale=float("nan")), "NaN or infinite"),
    "bogus kwargs": (
        policy_payload(task={"name": "x", "env_id": "InvertedPendulum-v5", "env_kwargs": {"bogus": 1}}),
        "cannot make InvertedPendulum-v5",
    ),
}


def test_eval_reports_each_bad_policy_in_one_line_and_evaluates_the_rest(tmp_path):
    good = policy_run(tmp_path, 0, policy_payload())
    bad = {name: policy_run(tmp_path, i + 1, payload) for i, (name, (payload, _)) in enumerate(BAD_POLICIES.items())}
    code, stdout, stderr = invoke("eval", tmp_path, "--episodes", "2")
    assert code == 2 and "Traceback" not in stderr
    errors = stderr.strip().splitlines()
    assert len(errors) == len(BAD_POLICIES), stderr
    for name, run_dir in bad.items():
        (line,) = [e for e in errors if f"seed{run_dir.name.removeprefix('seed')}/" in e]
        assert BAD_POLICIES[name][1] in line, (name, line)
        assert not (run_dir / EVAL_CSV).exists()
    assert (good / EVAL_CSV).exists() and "saved policies" in stdout  # the table of the good one


@pytest.mark.parametrize(
    "args,fragment",
    [
        (("--seed", "-5"), "--seed -5: allowed: 0 to"),
        (("--device", "gpu"), "--device 'gpu': allowed: cpu, cuda, cuda:N"),
        (("--device", "cuda"), "CUDA is not available"),
        (("--episodes", "0"), "--episodes and --max-frames"),
    ],
)
def test_eval_bad_flags_are_one_line_before_any_work(tmp_path, args, fragment):
    if "cuda" in args and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    run_dir = policy_run(tmp_path, 0, policy_payload())
    line = one_line(*invoke("eval", run_dir, *args)[::2])
    assert fragment in line and not (run_dir / EVAL_CSV).exists()


@pytest.mark.parametrize("kind", ["video is a folder", "video unwritable", "video-dir is a file"])
def test_video_targets_are_checked_before_anything_is_written(tmp_path, kind):
    run_dir = policy_run(tmp_path, 0, policy_payload())
    (tmp_path / "x.mp4").mkdir()
    (tmp_path / "file").write_text("keep")
    args = {
        "video is a folder": ("--video", tmp_path / "x.mp4"),
        "video unwritable": ("--video", UNWRITABLE / "clip.mp4"),
        "video-dir is a file": ("--video-dir", tmp_path / "file"),
    }[kind]
    line = one_line(*invoke("eval", run_dir, *args)[::2])
    assert args[0] in line and str(args[1]) in line
    assert not (run_dir / EVAL_CSV).exists() and (tmp_path / "file").read_text() == "keep"


def test_eval_builds_environments_in_bounded_batches(tmp_path, monkeypatch):
    from mbrlbench.runner import policy_eval

    sizes = []
    original = policy_eval.Evaluator.__init__

    def spy(self, task, episodes, base_seed):
        sizes.append(episodes)
        original(self, task, episodes, base_seed)

    monkeypatch.setattr(policy_eval.Evaluator, "__init__", spy)
    run_dir = policy_run(tmp_path, 0, policy_payload())
    result = policy_eval.evaluate_policy(run_dir, 70, seed=3)
    assert max(sizes) <= policy_eval.EVAL_BATCH and sum(sizes) == 70 and len(result.returns) == 70
    seeds = pd.read_csv(run_dir / EVAL_CSV)["reset_seed"].tolist()
    assert seeds == list(range(3, 73))  # the same reset seeds as one batch would use


# ------------------------------------------------------------------------------ 4-8. compare, export, report
@pytest.fixture
def two_sets(tmp_path):
    for root, level in (("a", 1000.0), ("b", 1000.0)):
        for seed in range(5):
            make_run(tmp_path / root, "hopper", "mbpo", seed, [1000, 2000], [level / 2 + seed, level + seed])
            make_run(tmp_path / root, "hopper", "sac", seed, [1000, 2000], [100 + seed, 200 + seed])
    return tmp_path


@pytest.mark.parametrize("command", ["compare", "export", "report"])
@pytest.mark.parametrize("where", ["a file", "under a file", "unwritable"])
def test_out_that_cannot_be_written_is_one_line_and_nothing_starts(two_sets, command, where):
    (two_sets / "file").write_text("keep")
    out = {"a file": two_sets / "file", "under a file": two_sets / "file" / "x", "unwritable": UNWRITABLE}[where]
    before = snapshot(two_sets)
    args = {"compare": ("compare", two_sets / "a", two_sets / "b"), "export": ("export", two_sets / "a")}
    line = one_line(*invoke(*args.get(command, ("report", two_sets / "a")), "--out", out)[::2])
    assert "--out" in line and str(out) in line
    assert snapshot(two_sets) == before


def test_run_out_under_an_unwritable_root_is_one_line(suite_file):
    line = one_line(*invoke("run", suite_file, "--out", UNWRITABLE / "results")[::2])
    assert "--out" in line and "cannot write" in line


def test_the_gate_never_passes_on_nothing(two_sets):
    empty = two_sets / "empty"
    empty.mkdir()
    line = one_line(*invoke("compare", empty, two_sets / "b", "--fail-if-worse")[::2])
    assert str(empty) in line and "no readable run" in line
    line = one_line(*invoke("compare", two_sets / "a", two_sets / "a", "--fail-if-worse")[::2])
    assert "same folder" in line
    other = two_sets / "other"
    make_run(other, "walker2d", "tom", 0, [1000], [5.0])
    line = one_line(*invoke("compare", two_sets / "a", other, "--fail-if-worse")[::2])
    assert "no (task, algorithm) cell in both sets" in line
    code, _, stderr = invoke("compare", two_sets / "a", other)  # without the gate: said, not an error
    assert code == 0 and "no (task, algorithm) cell in both sets" in stderr


@pytest.mark.parametrize(
    "args,fragment",
    [
        (("--variants", "sac:"), "expected X:Y"),
        (("--variants", ":"), "expected X:Y"),
        (("--variants", "nope:sac"), "'nope' is not an algorithm of"),
        (("--steps", "-500"), "must be positive"),
    ],
)
def test_compare_bad_variants_and_steps(two_sets, args, fragment):
    line = one_line(*invoke("compare", two_sets / "a", *args)[::2]) if "--variants" in args else None
    if line is None:
        line = one_line(*invoke("compare", two_sets / "a", two_sets / "b", *args)[::2])
    assert fragment in line
    if "nope" in args:
        assert "known: mbpo, sac" in line


def test_seeds_dropped_by_the_loader_are_said(two_sets):
    (two_sets / "a" / "syn" / "hopper" / "sac" / "seed3" / PROGRESS).write_text("")
    (two_sets / "a" / "syn" / "hopper" / "sac" / "seed4" / PROGRESS).write_bytes(b"\x00\xff garbage")
    for args in (("compare", two_sets / "a", two_sets / "b"), ("export", two_sets / "a")):
        code, _, stderr = invoke(*args)
        assert code == 0, stderr
        warned = [line for line in stderr.splitlines() if line.startswith("warning:")]
        assert any("sac/seed3" in w for w in warned) and any("sac/seed4" in w for w in warned), stderr


BAD_RUN_FILES = {
    "inf env_step": (PROGRESS, "env_step,eval_return_mean\n1000,5\ninf,7\n", "env_step holds an infinite value"),
    "task as a string": (CONFIG, "task: hopper\nvariant: mbpo\nseed: 0\n", "task must be a mapping"),
    "heartbeat text": (STATUS, '{"state": "running", "heartbeat_unix": "soon"}', "not a number in heartbeat_unix"),
    "env_step text": (STATUS, '{"state": "completed", "env_step": "lots"}', "not a number in env_step"),
}


@pytest.mark.parametrize("case", BAD_RUN_FILES)
def test_bad_values_inside_run_folders_skip_the_run_with_a_warning(two_sets, tmp_path, case):
    name, text, fragment = BAD_RUN_FILES[case]
    bad = two_sets / "a" / "syn" / "hopper" / "mbpo" / "seed0"
    (bad / name).write_text(text)
    for args in (
        ("report", two_sets / "a", "--out", tmp_path / "r", "--format", "md,csv"),
        ("compare", two_sets / "a", two_sets / "b"),
        ("export", two_sets / "a"),
    ):
        code, _, stderr = invoke(*args)
        assert code == 0 and "Traceback" not in stderr, (args, stderr)
        assert any(str(bad / name) in w and fragment in w for w in stderr.splitlines()), (args, stderr)
    code, stdout, stderr = invoke("status", two_sets / "a")
    assert code == 0, stderr
    if name == STATUS:
        assert "not a number" in stdout


@pytest.mark.parametrize(
    "args,fragment",
    [
        (("--metrics", "env_step"), "--metrics env_step: not a diagnostic these runs logged"),
        (("--reference", "WRONG"), "missing columns"),
        (("--reference", "EMPTY"), "no rows"),
    ],
)
def test_report_refuses_bad_metrics_and_references_before_writing(two_sets, tmp_path, args, fragment):
    (tmp_path / "WRONG").write_text("a,b\n1,2\n")
    (tmp_path / "EMPTY").write_text(
        ",".join(["algorithm", "task", "env_steps", "return_mean", "return_std", "n_seeds", "source", "confidence"])
        + "\n"
    )
    args = tuple(str(tmp_path / a) if a in ("WRONG", "EMPTY") else a for a in args)
    line = one_line(*invoke("report", two_sets / "a", *args)[::2])
    assert fragment in line
    assert not (two_sets / "a" / "report").exists()


# ------------------------------------------------------------------------------ 9. suite files
SUITES = {
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not UTF-8 text"),
    "deep": (("name: x\ntasks: [inverted_pendulum]\nalgorithms: [sac]\nseeds: " + "[" * 3000 + "]" * 3000), "nested"),
    "env kwargs": (
        "name: x\ntasks: [{name: sw, env_id: Swimmer-v5, env_kwargs: {bogus: 1}}]\nalgorithms: [sac]\nenv_steps: 9\n",
        "tasks.0.env_kwargs: Swimmer-v5 cannot be made",
    ),
    "negative seed": ("name: x\ntasks: [inverted_pendulum]\nalgorithms: [sac]\nseeds: [-5]\n", "seeds must lie in"),
    "huge seed": ("name: x\ntasks: [inverted_pendulum]\nalgorithms: [sac]\nseeds: [4294967296]\n", "seeds must lie"),
    "plugin exits": (
        "name: x\ntasks: [inverted_pendulum]\nalgorithms: [{name: e, algorithm: 'exiting_plugin:X'}]\n",
        "exits at import",
    ),
    "grid too large": (
        "name: x\ntasks: [inverted_pendulum]\nalgorithms: [sac]\nseeds: 10000\nenv_steps: 9\n"
        "sweeps: {sac: {batch_size: [" + ", ".join(str(i) for i in range(1, 101)) + "]}}\n",
        "expands to 1,000,000 runs",
    ),
    "borrowed name": (
        "name: x\ntasks: [inverted_pendulum]\nalgorithms: [{name: tom, algorithm: sac}]\nenv_steps: 9\n",
        "'tom' is a built-in algorithm's name",
    ),
    "built-in termination": (
        "name: x\ntasks: [{name: sw, env_id: Swimmer-v5, termination: hopper}]\nalgorithms: [sac]\nenv_steps: 9\n",
        "termination hopper disagrees with Swimmer-v5",
    ),
}


@pytest.mark.parametrize("case", SUITES)
def test_bad_suite_files_are_one_line(tmp_path, case):
    text, fragment = SUITES[case]
    (tmp_path / "exiting_plugin.py").write_text("import sys\nsys.exit(0)\n")
    path = tmp_path / "suite.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    line = one_line(*invoke("validate", path)[::2])
    assert str(path) in line and fragment in line


# ------------------------------------------------------------------------------ 10. interrupts
def test_an_interrupted_export_leaves_the_previous_file_whole(two_sets, monkeypatch):
    code, _, stderr = invoke("export", two_sets / "a")
    assert code == 0, stderr
    target = two_sets / "a" / "export" / "csv"
    before = snapshot(target)

    def half_then_interrupt(self, path, *args, **kwargs):
        Path(path).write_text("env_step,eval_ret")  # a torn write, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_interrupt)
    line = one_line(*invoke("export", two_sets / "a")[::2], expected=130)
    assert line.startswith("interrupted:") and snapshot(target) == before


def test_an_interrupted_report_leaves_the_previous_report_whole(two_sets, monkeypatch, tmp_path):
    out = tmp_path / "r"
    code, _, stderr = invoke("report", two_sets / "a", "--out", out, "--format", "md,csv")
    assert code == 0, stderr
    before = snapshot(out)
    from mbrlbench.report import writers

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(writers, "returns_markdown", interrupt)
    code, _, stderr = invoke("report", two_sets / "a", "--out", out, "--format", "md,csv")
    assert code == 130 and stderr.strip().splitlines()[-1].startswith("interrupted:"), stderr
    assert snapshot(out) == before and [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def test_a_missing_extra_creates_nothing(two_sets, monkeypatch):
    from mbrlbench.report import export

    monkeypatch.setattr(export.importlib.util, "find_spec", lambda name: None)
    for to in ("parquet", "tensorboard", "wandb"):
        line = one_line(*invoke("export", two_sets / "a", "--to", to)[::2])
        assert "pip install" in line
    assert not (two_sets / "a" / "export").exists()


# ------------------------------------------------------------------------------ 12. memory
def test_memory_stays_bounded_on_a_large_progress_csv(tmp_path):
    """A 60 MB progress.csv with 40 columns: the report's loader parses the columns it reads only, in chunks;
    its peak memory (child process, ru_maxrss) stays under half the file's size beyond the imports."""
    import subprocess
    import sys

    run_dir = tmp_path / "s" / "hopper" / "mbpo" / "seed0"
    run_dir.mkdir(parents=True)
    rows = 150_000
    columns = {"env_step": np.arange(1, rows + 1) * 10, "eval_return_mean": np.linspace(0, 1, rows)}
    columns |= {f"x/diag_{i}": np.full(rows, math.pi * i) for i in range(38)}
    pd.DataFrame(columns).to_csv(run_dir / PROGRESS, index=False)
    size = (run_dir / PROGRESS).stat().st_size
    assert size > 50e6
    script = (
        "import resource, sys; from mbrlbench.report.load import load_runs; from mbrlbench.report.build import "
        "_wanted_columns; base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; "
        f"loaded = load_runs(sys.argv[1], wanted=_wanted_columns([])); assert len(loaded.curves) == {rows}; "
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) * 1024)"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) < 0.5 * size, (int(done.stdout), size)


# ------------------------------------------------------------------------------ plain text everywhere
def test_names_with_console_markup_print_as_written(tmp_path):
    run_dir = tmp_path / "suite" / "[red]hopper" / "mbpo" / "seed0"
    run_dir.mkdir(parents=True)
    write_json(run_dir / STATUS, {"state": "failed", "error": "ValueError: [bold]boom[/bold]", "host": "[blue]h"})
    code, stdout, stderr = invoke("status", tmp_path)
    assert code == 0, stderr
    flat = " ".join(stdout.split())
    assert "[red]hopper/mbpo/seed0" in flat and "[bold]boom[/bold]" in flat and "[blue]h" in flat


def test_pickle_protocol_is_what_the_payload_needs():
    """The exploit above is real: plain pickle runs it (so the refusal is what saves us, not a broken test)."""
    marker = Path("/tmp") / f"mbrlbench-probe-{os.getpid()}"
    pickle.loads(pickle.dumps(Payload(marker)))
    assert marker.exists()
    marker.unlink()
    shutil.rmtree(marker, ignore_errors=True)


# ------------------------------------------------------------------------------ 13. a rerun after a SIGKILLed launcher
def test_a_rerun_right_after_the_launcher_is_killed_never_exits_0_with_the_run_unfinished(tmp_path, suite_file):
    """Only the launcher is SIGKILLed: its worker gets SIGTERM (PR_SET_PDEATHSIG), says "stopping" in the
    run's lock and checkpoints. A rerun started at once waits for the lock (bounded), then resumes and
    completes; were the lock still held after the wait, it would exit 1 saying so, never 0."""
    import signal
    import subprocess
    import sys
    import time

    from mbrlbench.rundir import read_json
    from mbrlbench.suite import load_suite

    (spec,) = [r for r in load_suite(suite_file).runs if r.variant == "mbpo"]
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "mbrlbench.cli", "run", str(suite_file), "--out", str(out), "--only", "algorithm=mbpo"]
    cmd += ["--threads-per-run", "1", "--jobs", "1"]
    launcher = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run_dir = spec.run_dir(out)
    deadline = time.time() + 180
    while time.time() < deadline:
        csv = run_dir / PROGRESS
        if csv.exists() and len(csv.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    os.kill(launcher.pid, signal.SIGKILL)  # the launcher alone, not its process group
    launcher.wait()
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    state = read_json(run_dir / STATUS)["state"]
    if rerun.returncode == 0:
        assert state == "completed", rerun.stderr
        lines = (run_dir / PROGRESS).read_text().splitlines()
        assert len(lines) == len(set(lines)) == 9  # header + 8 rows, none twice
    else:
        assert rerun.returncode == 1 and "held by another process" in rerun.stderr, rerun.stderr
        assert state != "completed"


def test_the_lock_waits_for_a_stopping_holder_and_no_longer(tmp_path):
    """The lock rule the rerun relies on, timed: a live holder marked stopping is waited for until it lets go;
    one that does not let go within the wait is reported held; a live holder not stopping is not waited for."""
    import json
    import socket
    import subprocess
    import sys
    import threading
    import time

    from mbrlbench.rundir import LOCK
    from mbrlbench.runner.lock import RunLock, RunLocked

    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        record = {"host": socket.gethostname(), "pid": holder.pid, "token": "x", "heartbeat_unix": time.time()}
        lock_file = tmp_path / LOCK
        lock_file.write_text(json.dumps({**record, "stopping": True}))
        threading.Timer(1.5, lock_file.unlink).start()  # the stopping holder lets go after its checkpoint
        start = time.time()
        RunLock(tmp_path).acquire(wait=30).release()
        assert 1.0 < time.time() - start < 10
        lock_file.write_text(json.dumps({**record, "stopping": True}))
        with pytest.raises(RunLocked, match="stopping for over 1s"):
            RunLock(tmp_path).acquire(wait=1)
        lock_file.write_text(json.dumps(record))  # busy, not stopping: another launcher's run
        start = time.time()
        with pytest.raises(RunLocked, match="locked by"):
            RunLock(tmp_path).acquire(wait=30)
        assert time.time() - start < 1
    finally:
        holder.kill()
