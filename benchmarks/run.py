"""Benchmark harness: env steps per second of each algorithm at its paper hyperparameters, after warm-up,
with the time split by phase, CPU time beside wall time, peak host/GPU memory and checkpoint size.

    python benchmarks/run.py [--algorithms mbpo sac ...] [--tasks hopper ...] [--cases mbrl-lib ...]
                             [--steps 250] [--reps 5] [--device auto] [--threads N] [--set KEY=VALUE ...]
                             [--code DIR ...] [--memory]

Each repetition runs in a fresh process (clean peak memory, no warm caches between cases), and the
repetitions are interleaved (rep 1 of every case and code version, then rep 2, ...) so that drift of a
shared machine hits every case alike; the table shows medians, with the min-max of env steps/s.

One repetition: build the algorithm with its official preset (plus ``--set`` overrides), train through the
warm-up (SAC family: the uniform-random exploration steps; iteration-based learners: their first
iteration) untimed, then time ``--steps`` more env steps (iteration-based learners finish the iteration
they are in). Phases are timed exclusively (a phase nested in another is subtracted from the outer one):

- ``env``: real env stepping, acting and buffer writes;   ``model``: model fitting (TOM: also its
  discriminator, dual value and weights; MnM: its classifier and model-value phase; MG: its model update);
- ``rollouts``: model rollouts;   ``policy``: policy updates (SAC updates; TRPO/PPO/meta steps);
- ``eval``: one evaluation (``--eval-episodes`` deterministic episodes, batched) amortized over
  ``--eval-every`` env steps;   ``other``: the rest of the loop (batch sampling, scheduling).

For the SAC family it also times ``--alone`` SAC updates on one fixed batch in a tight loop: ``step/alone``
is the measured cost of an env step over the sum of its parts timed alone (SAC updates x updates per step
+ model fit + rollouts, each an uninterrupted call), i.e. how much the loop adds around the compute.

``--code DIR`` (repeatable) runs the same cases with the ``mbrlbench`` package of another checkout (e.g. a
``git worktree`` of an older commit), interleaved with this one: before/after tables of a change.
Results go to ``benchmarks/results/run_<device>_<time>.{json,csv}`` with device, versions and commits.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

# Named setting bundles beside the paper presets: (algorithm, task, overrides, why).
CASES: dict[str, tuple[str, str, dict[str, Any], str]] = {
    "mbrl-lib": (
        "mbpo",
        "halfcheetah",
        {
            # facebookresearch/mbrl-lib conf/overrides/mbpo_halfcheetah.yaml and its SAC (pytorch_sac): the
            # issue's comparison point (10 SAC updates per env step, 2x512 SAC, horizon 1, 100k rollouts
            # every 250 steps); actor and target updated every 4th SAC update, model patience 1, one decay.
            "n_train_repeat": 10,
            "sac_hidden": 512,
            "sac_layers": 2,
            "actor_update_interval": 4,
            "target_update_interval": 4,
            "rollout_schedule": (20, 150, 1, 1),
            "rollout_batch_size": 100_000,
            "model_train_freq": 250,
            # mbrl-lib's patience 1 stops at the first epoch without improvement (``epochs_since_update >=
            # patience``); ours counts like the official MBPO (``> patience``), so the same rule is our 0.
            "model_patience": 0,
            "model_weight_decays": [2e-5] * 5,
        },
        "mbrl-lib's MBPO halfcheetah settings",
    ),
    "mbmpo-reduced": (
        "mbmpo",
        "halfcheetah_h200",
        {"meta_steps": 2, "model_max_epochs": 10},
        "MB-MPO on its paper task with 2 of 30 meta-steps and at most 10 of 500 model epochs (CPU budget)",
    ),
}

# (phase, "module:Class.method" or "module:function"); module functions are patched where they are used.
PHASES: list[tuple[str, str]] = [
    ("env", "mbrlbench.algorithms.sac_agent:SACDriven.env_step"),
    ("env", "mbrlbench.algorithms.mbmpo:MBMPO.collect_real"),
    ("env", "mbrlbench.algorithms.trpo:OnPolicyPG.collect"),
    ("env", "mbrlbench.algorithms.mg:MG.env_step"),
    ("model", "mbrlbench.algorithms.mbpo:MBPO.fit_model"),
    ("model", "mbrlbench.algorithms.tom:TOM.occupancy_weights"),
    ("model", "mbrlbench.algorithms.mnm:MnM.train_classifier"),
    ("model", "mbrlbench.algorithms.mnm:MnM.model_value_phase"),
    ("model", "mbrlbench.algorithms.mbmpo:MBMPO.fit_model"),
    ("model", "mbrlbench.algorithms.mg:MG.model_update"),
    ("rollouts", "mbrlbench.algorithms.mbpo:branched_rollout"),
    ("rollouts", "mbrlbench.algorithms.mbmpo:MBMPO.rollouts"),
    ("rollouts", "mbrlbench.algorithms.mg:imagine"),
    ("policy", "mbrlbench.components.sac:SAC.update"),
    ("policy", "mbrlbench.algorithms.mbmpo:MBMPO.meta_step"),
    ("policy", "mbrlbench.algorithms.trpo:OnPolicyPG.update"),
    ("policy", "mbrlbench.algorithms.mg:MG.policy_update"),
    ("env", "mbrlbench.algorithms.mbmpo:MBMPO.logging_return"),  # the paper metric: >= 4,000 uncounted steps
]
PHASE_NAMES = ("env", "model", "rollouts", "policy", "eval", "other")


# ----------------------------------------------------------------------------------------------- worker
class PhaseTimer:
    """Exclusive wall time per phase: a timed call inside another timed call is subtracted from the outer."""

    def __init__(self, sync: Any) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)  # outermost calls per phase (a super() call is not another)
        self.sync = sync  # waits for the GPU so that time lands in the phase that queued the work
        self.stack: list[tuple[str, float]] = []  # per open call: its phase, time spent in nested timed calls

    def wrap(self, phase: str, fn: Any) -> Any:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.sync()
            start = time.perf_counter()
            outermost = all(open_phase != phase for open_phase, _ in self.stack)
            self.stack.append((phase, 0.0))
            try:
                return fn(*args, **kwargs)
            finally:
                self.sync()
                elapsed = time.perf_counter() - start
                _, nested = self.stack.pop()
                self.seconds[phase] += elapsed - nested
                self.calls[phase] += outermost
                if self.stack:
                    outer_phase, outer_nested = self.stack[-1]
                    self.stack[-1] = (outer_phase, outer_nested + elapsed)

        return timed

    def install(self) -> None:
        """Wrap every target; a method is wrapped on its class and on each subclass that overrides it (TOM's own
        ``fit_model``), so an override never escapes its phase. Nested calls (``super()``) stay exclusive."""
        importlib.import_module("mbrlbench.algorithms")  # every algorithm class, so subclasses are known
        for phase, target in PHASES:
            module_name, attr = target.split(":")
            module = importlib.import_module(module_name)
            owner_name, _, name = attr.rpartition(".")
            if not owner_name:  # a module-level function, patched where it is used
                setattr(module, name, self.wrap(phase, getattr(module, name)))
                continue
            pending = [getattr(module, owner_name)]
            while pending:
                cls = pending.pop()
                pending.extend(cls.__subclasses__())
                if name in vars(cls) and not getattr(vars(cls)[name], "_phase_timed", False):
                    wrapped = self.wrap(phase, vars(cls)[name])
                    wrapped._phase_timed = True  # type: ignore[attr-defined]
                    setattr(cls, name, wrapped)


def cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} x{os.cpu_count()}"
    return platform.processor() or platform.machine()


def worker(job: dict[str, Any]) -> dict[str, Any]:
    """One repetition of one case, in this process."""
    import torch

    import mbrlbench
    from mbrlbench import algorithms
    from mbrlbench.algorithms.base import seed_everything
    from mbrlbench.runner.evaluate import Evaluator, run_base_seed
    from mbrlbench.runner.lifecycle import resolve_device
    from mbrlbench.tasks import get_task

    if job["threads"]:
        torch.set_num_threads(job["threads"])
    device = resolve_device(job["device"])
    cuda = device.type == "cuda"

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(device)

    # Syncing at every phase boundary puts GPU time in the phase that queued it, but also stops the host from
    # running ahead of the GPU: --no-phase-sync keeps the overlap (the headline rate on a GPU) and splits host time.
    timer = PhaseTimer(sync if job.get("phase_sync", True) else lambda: None)
    timer.install()
    seed_everything(0)
    base, layer = algorithms.resolve(job["algorithm"])
    config = algorithms.resolve_config(base, job["task"], {**(layer or {}), **job["overrides"]})
    task = get_task(job["task"])
    algo = algorithms.build(base, config, task, device, seed=0)

    sac_family = hasattr(config, "n_initial_exploration_steps")
    if sac_family:
        warmup = max(config.n_initial_exploration_steps, config.min_pool_size)
    else:  # one whole iteration (MG steps one env step at a time: one batch of them)
        warmup = getattr(config, "batch_steps", 1)
    algo.train(warmup)  # untimed
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    timer.seconds.clear()
    timer.calls.clear()
    updates_before = algo.sac.updates if hasattr(algo, "sac") else 0
    steps_before = algo.env_steps
    sync()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    window = job["steps"] if sac_family else max(job["steps"], getattr(config, "batch_steps", 1))
    algo.train(algo.env_steps + window)  # iteration-based learners finish the iteration they are in
    sync()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    steps = algo.env_steps - steps_before
    split = {p: timer.seconds.get(p, 0.0) for p in PHASE_NAMES if p not in ("eval", "other")}
    split["other"] = wall - sum(split.values())

    evaluator = Evaluator(task, job["eval_episodes"], run_base_seed(0))
    sync()
    start = time.perf_counter()
    evaluator(lambda o: algo.act(o, deterministic=True), 0)
    sync()
    eval_s = time.perf_counter() - start
    evaluator.close()
    split["eval"] = eval_s * steps / job["eval_every"]  # amortized over the window

    row: dict[str, Any] = {
        "steps": steps,
        "wall_s": wall,
        "cpu_s": cpu,
        "env_steps_per_s": steps / wall,
        "env_steps_per_s_with_eval": steps / (wall + split["eval"]),
        **{f"ms_per_step_{p}": 1000 * v / steps for p, v in split.items()},
        "eval_s": eval_s,
        **{f"calls_{p}": timer.calls.get(p, 0) for p in PHASE_NAMES if p not in ("eval", "other")},
    }
    if sac_family:
        updates = algo.sac.updates - updates_before
        row["sac_updates_per_step"] = updates / steps
        row["sac_ms_per_update"] = 1000 * split["policy"] / max(updates, 1)
        sampler = getattr(algo, "training_batch", lambda: algo.env_buffer.sample(config.batch_size))
        batch = sampler()
        for _ in range(10):
            algo.sac.update(batch)
        sync()
        start = time.perf_counter()
        for _ in range(job["alone"]):
            algo.sac.update(batch)
        sync()
        row["sac_ms_alone"] = 1000 * (time.perf_counter() - start) / job["alone"]
        alone = row["sac_updates_per_step"] * row["sac_ms_alone"] + 1000 * (split["model"] + split["rollouts"]) / steps
        row["step_over_alone"] = (1000 * wall / steps) / alone
    last = getattr(algo, "last", {})
    row["fit_epochs"] = last.get("model/epochs", float("nan"))
    if hasattr(algo, "model_buffer") and hasattr(algo, "_model_buffer_size"):
        longest = algo._model_buffer_size(config.rollout_schedule[3])
        row_bytes = 4 * (2 * algo.obs_dim + algo.act_dim + 2)
        row["model_buffer_max_gb"] = longest * row_bytes / 1e9
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ckpt.pt"
        torch.save(algo.state_dict(), path)
        row["checkpoint_mb"] = path.stat().st_size / 1e6
    row["peak_host_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    row["peak_gpu_mb"] = torch.cuda.max_memory_allocated(device) / 2**20 if cuda else float("nan")
    row["device_name"] = torch.cuda.get_device_name(device) if cuda else cpu_name()
    row["phase_sync"] = job.get("phase_sync", True)
    row["threads"] = torch.get_num_threads()
    row["package"] = str(Path(mbrlbench.__file__).parent)
    return row


def memory_check(task_name: str = "humanoid") -> dict[str, Any]:
    """Fill MBPO's model buffer of ``task_name`` at its longest rollout (humanoid: 5 epochs x 20 x 100k) and
    grow it from the next-longest horizon, as the schedule does: does it fit, and at what peak?"""
    import torch

    from mbrlbench import algorithms
    from mbrlbench.components.buffers import ReplayBuffer
    from mbrlbench.tasks import get_task

    config = algorithms.resolve_config("mbpo", task_name)
    env = get_task(task_name).make_env()
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    per_epoch = config.rollout_batch_size * config.epoch_length // config.model_train_freq
    longest = config.rollout_schedule[3]
    buffer = ReplayBuffer(config.model_retain_epochs * (longest - 1) * per_epoch, obs_dim, act_dim)
    chunk = 1_000_000
    start = time.perf_counter()
    for _ in range(0, buffer.capacity, chunk):
        rows = torch.randn(chunk, 2 * obs_dim + act_dim + 2)
        buffer.add(
            rows[:, :obs_dim],
            rows[:, obs_dim : obs_dim + act_dim],
            rows[:, -2],
            rows[:, -obs_dim - 2 : -2],
            rows[:, -1],
        )
    fill_s = time.perf_counter() - start
    start = time.perf_counter()
    buffer.resize(config.model_retain_epochs * longest * per_epoch)
    resize_s = time.perf_counter() - start
    row_bytes = 4 * (2 * obs_dim + act_dim + 2)
    return {
        "task": task_name,
        "rows": buffer.capacity,
        "buffer_gb": buffer.capacity * row_bytes / 1e9,
        "fill_s": fill_s,
        "resize_s": resize_s,
        "peak_host_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# ----------------------------------------------------------------------------------------------- parent
def parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def commit_of(code: Path) -> str:
    def git(*args: str) -> str:
        out = subprocess.run(["git", "-C", str(code), *args], capture_output=True, text=True, check=False)
        return out.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def run_job(job: dict[str, Any], code: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(code) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    if job["threads"]:
        env["OMP_NUM_THREADS"] = str(job["threads"])
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(job)], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"benchmark worker failed ({job['case']}, {code}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_packed(job: dict[str, Any], k: int) -> dict[str, Any]:
    """``k`` copies of one repetition at once (as the local pool packs runs on one device): the aggregate
    env steps/s is the sum of their rates (their timed windows overlap: the warm-ups take the same time)."""
    env = dict(os.environ)
    if job["threads"]:
        env["OMP_NUM_THREADS"] = str(job["threads"])
    cmd = [sys.executable, __file__, "--worker", json.dumps(job)]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(k)
    ]
    rows = []
    for proc in procs:
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"packed benchmark worker failed ({job['case']}, k={k}):\n{err[-3000:]}")
        rows.append(json.loads(out.strip().splitlines()[-1]))
    rates = [r["env_steps_per_s"] for r in rows]
    return {
        "case": job["case"],
        "k": k,
        "aggregate_env_steps_per_s": sum(rates),
        "per_run_env_steps_per_s": statistics.mean(rates),
        "peak_gpu_mb_per_run": max(r["peak_gpu_mb"] for r in rows),
        "device_name": rows[0]["device_name"],
    }


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for pkg in ("torch", "gymnasium", "mujoco", "numpy"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[pkg] = metadata.version(pkg)
    return out


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Median of every numeric field per (case, code); min and max of env steps/s."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["case"], row["code"])].append(row)
    out = []
    for (case, code), group in groups.items():
        summary: dict[str, Any] = {"case": case, "code": code, "reps": len(group)}
        for key, value in group[0].items():
            if isinstance(value, int | float) and not isinstance(value, bool) and key != "rep":
                summary[key] = statistics.median(r[key] for r in group)
            elif key not in summary and key not in ("rep",):
                summary[key] = value
        speeds = [r["env_steps_per_s"] for r in group]
        summary["env_steps_per_s_min"], summary["env_steps_per_s_max"] = min(speeds), max(speeds)
        out.append(summary)
    return out


COLUMNS = [
    ("case", "case", "{}"),
    ("code", "code", "{}"),
    ("reps", "reps", "{}"),
    ("env steps/s", "env_steps_per_s", "{:.2f}"),
    ("min-max", None, None),
    ("cpu/wall", None, None),
    ("env ms", "ms_per_step_env", "{:.1f}"),
    ("model ms", "ms_per_step_model", "{:.1f}"),
    ("rollouts ms", "ms_per_step_rollouts", "{:.1f}"),
    ("policy ms", "ms_per_step_policy", "{:.1f}"),
    ("eval ms", "ms_per_step_eval", "{:.1f}"),
    ("other ms", "ms_per_step_other", "{:.1f}"),
    ("SAC ms/upd", "sac_ms_per_update", "{:.1f}"),
    ("SAC alone", "sac_ms_alone", "{:.1f}"),
    ("step/alone", "step_over_alone", "{:.3f}"),
    ("peak host MB", "peak_host_mb", "{:.0f}"),
    ("peak GPU MB", "peak_gpu_mb", "{:.0f}"),
    ("ckpt MB", "checkpoint_mb", "{:.1f}"),
]


def cell(summary: dict[str, Any], title: str, key: str | None, fmt: str | None) -> str:
    if title == "min-max":
        return f"{summary['env_steps_per_s_min']:.2f}-{summary['env_steps_per_s_max']:.2f}"
    if title == "cpu/wall":
        return f"{summary['cpu_s'] / summary['wall_s']:.2f}"
    value = summary.get(key)
    if value is None or (isinstance(value, float) and value != value):
        return "-" if title != "peak GPU MB" else "not measured"
    return fmt.format(value)


def print_table(summaries: list[dict[str, Any]], title: str) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for name, _, _ in COLUMNS:
        table.add_column(name, justify="right")
    for s in summaries:
        table.add_row(*(cell(s, *c) for c in COLUMNS))
    Console(width=220).print(table)
    head = "| " + " | ".join(c[0] for c in COLUMNS) + " |"
    rule = "|" + "|".join("---" if i < 2 else "---:" for i in range(len(COLUMNS))) + "|"
    lines = ["| " + " | ".join(cell(s, *c) for c in COLUMNS) + " |" for s in summaries]
    return "\n".join([head, rule, *lines])


def pack_table(packed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Medians per (case, k) and the speed-up over k = 1 of the same case."""
    groups: dict[tuple[str, int], list[float]] = defaultdict(list)
    for row in packed:
        groups[(row["case"], row["k"])].append(row["aggregate_env_steps_per_s"])
    out = [
        {"case": c, "k": k, "reps": len(v), "aggregate_env_steps_per_s": statistics.median(v)}
        for (c, k), v in groups.items()
    ]
    for row in out:
        single = next((r["aggregate_env_steps_per_s"] for r in out if r["case"] == row["case"] and r["k"] == 1), None)
        row["speedup_over_k1"] = row["aggregate_env_steps_per_s"] / single if single else float("nan")
    for row in out:
        print(
            f"packing {row['case']} k={row['k']}: {row['aggregate_env_steps_per_s']:.2f} env steps/s in all, "
            f"x{row['speedup_over_k1']:.2f} of k=1 ({row['reps']} reps)"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--algorithms",
        nargs="*",
        default=None,
        help="registered names, e.g. mbpo sac tom (default: mbpo, none with --cases)",
    )
    parser.add_argument("--tasks", nargs="*", default=["hopper"])
    parser.add_argument("--cases", nargs="*", default=[], choices=sorted(CASES), help="named setting bundles")
    parser.add_argument("--steps", type=int, default=250, help="timed env steps per repetition")
    parser.add_argument("--reps", type=int, default=5, help="interleaved repetitions (medians are reported)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch threads per worker (0: torch's default)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides, every case")
    parser.add_argument("--code", nargs="*", type=Path, default=[], help="other checkouts to compare with")
    parser.add_argument("--alone", type=int, default=100, help="SAC updates timed alone per repetition")
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--eval-every", type=int, default=1000)
    parser.add_argument(
        "--no-phase-sync",
        dest="phase_sync",
        action="store_false",
        help="GPU: no sync at phase boundaries (true overlap; the split then counts host time only)",
    )
    parser.add_argument("--pack-only", action="store_true", help="skip the single-run table")
    parser.add_argument("--pack", nargs="*", type=int, default=[], metavar="K", help="also run K copies at once")
    parser.add_argument("--memory", action="store_true", help="also fill humanoid's model buffer at its longest")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--memory-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    if args.memory_worker:
        print(json.dumps(memory_check()))
        return

    overrides = dict(item.split("=", 1) for item in args.set)
    overrides = {k: parse_value(v) for k, v in overrides.items()}
    if args.algorithms is None:
        args.algorithms = [] if args.cases else ["mbpo"]
    cases = [(f"{a}/{t}", a, t, dict(overrides)) for a in args.algorithms for t in args.tasks]
    cases += [
        (f"{name}/{CASES[name][1]}", CASES[name][0], CASES[name][1], {**CASES[name][2], **overrides})
        for name in args.cases
    ]
    codes = [HERE.parent, *args.code]
    commits = {str(code): commit_of(code) for code in codes}
    rows: list[dict[str, Any]] = []
    for rep in range(args.reps if not args.pack_only else 0):
        for case, algorithm, task, case_overrides in cases:
            for code in codes:
                job = {
                    "case": case,
                    "algorithm": algorithm,
                    "task": task,
                    "overrides": case_overrides,
                    "steps": args.steps,
                    "device": args.device,
                    "threads": args.threads,
                    "alone": args.alone,
                    "eval_episodes": args.eval_episodes,
                    "eval_every": args.eval_every,
                    "phase_sync": args.phase_sync,
                }
                row = {"rep": rep, "case": case, "code": commits[str(code)], **run_job(job, code)}
                rows.append(row)
                print(
                    f"rep {rep + 1}/{args.reps} {case} @ {row['code']}: {row['env_steps_per_s']:.2f} env steps/s",
                    flush=True,
                )
    packed: list[dict[str, Any]] = []
    for rep in range(args.reps if args.pack else 0):
        for case, algorithm, task, case_overrides in cases:
            for k in args.pack:
                job = {
                    "case": case,
                    "algorithm": algorithm,
                    "task": task,
                    "overrides": case_overrides,
                    "steps": args.steps,
                    "device": args.device,
                    "threads": args.threads,
                    "alone": 1,
                    "eval_episodes": 1,
                    "eval_every": args.eval_every,
                    "phase_sync": args.phase_sync,
                }
                packed.append({"rep": rep, **run_packed(job, k)})
                print(
                    f"rep {rep + 1}/{args.reps} {case} k={k}: "
                    f"{packed[-1]['aggregate_env_steps_per_s']:.2f} env steps/s in all",
                    flush=True,
                )
    summaries = summarize(rows)
    device = (summaries or packed or [{"device_name": "?"}])[0]["device_name"]
    title = f"Throughput after warm-up ({device}, {summaries[0]['threads'] if summaries else '?'} threads; medians)"
    markdown = print_table(summaries, title)
    memory = None
    if args.memory:
        proc = subprocess.run(
            [sys.executable, __file__, "--memory-worker"], capture_output=True, text=True, check=False
        )
        memory = (
            json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else {"error": proc.stderr[-2000:]}
        )
        print(f"model buffer check: {memory}")

    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    kind = (
        "cuda"
        if "cuda" in args.device or any(s.get("peak_gpu_mb") == s.get("peak_gpu_mb") for s in summaries)
        else "cpu"
    )
    base = args.out / f"run_{kind}_{stamp}"
    meta = {
        "command": " ".join(sys.argv),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "device": device,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "versions": versions(),
        "commits": commits,
        "steps": args.steps,
        "reps": args.reps,
    }
    packing = pack_table(packed)
    payload = {
        "meta": meta,
        "summary": summaries,
        "reps": rows,
        "memory": memory,
        "markdown": markdown,
        "packing": packing,
        "packed_reps": packed,
    }
    base.with_suffix(".json").write_text(json.dumps(payload, indent=2, default=str))
    import pandas as pd

    frame = pd.DataFrame(summaries)
    for key in ("device", "cpus"):
        frame.insert(0, key, meta[key])
    frame.insert(0, "torch", meta["versions"].get("torch"))
    frame.to_csv(base.with_suffix(".csv"), index=False)
    if packing:
        pd.DataFrame(packing).assign(device=device).to_csv(f"{base}_packing.csv", index=False)
    print(f"written {base}.json and .csv")


if __name__ == "__main__":
    main()
