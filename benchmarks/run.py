"""Benchmark harness: env steps per second of each algorithm at its paper hyperparameters over a steady
stretch of training, with the time split by phase, CPU time beside wall time, the model fits in the stretch
and their epochs, peak host/GPU memory and checkpoint size.

    python benchmarks/run.py [--algorithms mbpo sac ...] [--tasks hopper ...] [--cases mbrl-lib ...]
                             [--steps 1000] [--window steady|first] [--reps 5] [--device auto] [--threads N]
                             [--set KEY=VALUE ...] [--code DIR ...] [--memory]

Each repetition runs in a fresh process (clean peak memory, no warm caches between cases), and the
repetitions are interleaved (rep 1 of every case and code version, then rep 2, ...) so that drift of a
shared machine hits every case alike; the table shows medians, with the min-max of env steps/s.

One repetition: build the algorithm with its official preset (plus ``--set`` overrides), train through the
warm-up (SAC family: the uniform-random exploration steps; iteration-based learners: their first
iteration) untimed, then time a window of training (``benchmarks/window.py``):

- ``--window steady`` (default): model-based algorithms from the end of their first model fit after the
  warm-up (the fit from scratch, much longer or shorter than the later ones, stays out) to the end of the
  first fit at least ``--steps`` env steps later: whole fit periods (1,000 steps at a fit every 250 hold 4
  fits), each fit's epochs reported. Model-free algorithms: ``--steps`` env steps after the warm-up.
- ``--window first``: the ``--steps`` env steps right after the warm-up, first fit included (the old timing).

Iteration-based learners finish the iteration they are in. Phases are timed exclusively (a phase nested in
another is subtracted from the outer one):

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
if str(HERE) not in sys.path:  # also when loaded by path (tests, side_by_side.py)
    sys.path.insert(0, str(HERE))
from window import MODES, Window, WindowResult  # noqa: E402

# mbrl-lib v0.2.0 (facebookresearch/mbrl-lib, tag v0.2.0 = the ``mbrl==0.2.0`` wheel), MBPO on HalfCheetah:
# ``python -m mbrl.examples.main algorithm=mbpo overrides=mbpo_halfcheetah``. Paths below are in that tree:
# OV = mbrl/examples/conf/overrides/mbpo_halfcheetah.yaml, ALG = mbrl/examples/conf/algorithm/mbpo.yaml,
# DYN = mbrl/examples/conf/dynamics_model/gaussian_mlp_ensemble.yaml, LOOP = mbrl/algorithms/mbpo.py,
# TRAINER = mbrl/models/model_trainer.py, COMMON = mbrl/util/common.py, PRANZ = mbrl/third_party/pytorch_sac_pranz24.
MBRL_LIB_020: dict[str, Any] = {
    # --- schedule
    "epoch_length": 1000,  # OV:6 epoch_length: 1000
    "model_train_freq": 250,  # OV:13 freq_train_model: 250 (ALG:8); fit + rollouts every 250 steps (LOOP:228)
    # rollout batch = effective_model_rollouts_per_step x freq_train_model = 400 x 250 (OV:14, LOOP:176-178)
    "rollout_batch_size": 100_000,
    "rollout_schedule": (20, 150, 1, 1),  # OV:15 [20, 150, 1, 1]: horizon 1 throughout (LOOP:197-201)
    # model buffer = horizon x rollout batch x ceil(epoch / freq) x retained epochs = 400k rows (OV:18, LOOP:179-203)
    "model_retain_epochs": 1,
    "n_train_repeat": 10,  # OV:16 num_sac_updates_per_step: 10, every step (OV:17 sac_updates_every_steps: 1)
    "real_ratio": 0.0,  # ALG:9 real_data_ratio: 0.0: every SAC batch from the model buffer (LOOP:259-260)
    "n_initial_exploration_steps": 5000,  # ALG:12 initial_exploration_steps: 5000 (ALG:13: with the policy, see below)
    "real_data_insert": "step",  # each real transition enters the buffer as it is taken (COMMON:607)
    "replay_size": 400_000,  # OV:5 num_steps: 400000 = the real buffer's size (COMMON:177-181)
    # --- model: GaussianMLP ensemble, SiLU (DYN:12-13)
    "ensemble_size": 7,  # DYN:7 ensemble_size: 7
    "num_elites": 5,  # OV:7 num_elites: 5
    "model_hidden": 200,  # DYN:8 hid_size: 200
    "model_layers": 4,  # DYN:4 num_layers: 4 = 4 hidden layers + the output layer (mbrl/models/gaussian_mlp.py:101-116)
    "model_lr": 1e-3,  # OV:9 model_lr: 0.001
    "model_weight_decays": [1e-5] * 5,  # OV:10 model_wd: 0.00001, one Adam weight decay for all (TRAINER:63-68)
    "model_batch_size": 256,  # OV:11 model_batch_size: 256
    "holdout_ratio": 0.2,  # OV:12 validation_ratio: 0.2
    "max_holdout": 400_000,  # no cap: val_size = int(num_stored x 0.2) (COMMON:238)
    # OV:8 patience: 5; mbrl-lib stops when ``epochs_since_update >= patience`` (TRAINER:206), i.e. after 5
    # epochs in a row without a 1% gain (TRAINER:176, 284-285); ours stops when ``since_update > patience``
    # (mbrlbench/components/models/ensemble.py:340), so the same 5 epochs are our 4.
    "model_patience": 4,
    "model_max_epochs": None,  # no num_epochs_train_model in OV: no cap (COMMON:406, TRAINER:139)
    # --- SAC: pranz24's (ALG:20), Gaussian policy (OV:23), two Q-nets of 2 hidden layers (PRANZ/model.py:41-48)
    "sac_flavor": "pranz24",
    "sac_hidden": 512,  # OV:27 sac_hidden_size: 512
    "sac_layers": 2,  # PRANZ/model.py:41-43 (Q) and 70-71 (policy)
    "sac_lr": 3e-4,  # OV:28 sac_lr: 0.0003 (critic, policy and alpha: PRANZ/sac.py:31, 48, 53)
    "batch_size": 256,  # OV:29 sac_batch_size: 256
    "gamma": 0.99,  # OV:20 sac_gamma: 0.99
    "tau": 0.005,  # OV:21 sac_tau: 0.005
    "target_update_interval": 1,  # OV:24 sac_target_update_interval: 1 (PRANZ/sac.py:152-153)
    "actor_update_interval": 1,  # policy and temperature stepped in every update (PRANZ/sac.py:124-144)
    "target_entropy": -1.0,  # OV:26 sac_target_entropy: -1 (OV:25 automatic entropy tuning)
    "init_alpha": 1.0,  # log_alpha starts at 0 (PRANZ/sac.py:47); the first update uses OV:22 alpha 0.2
}

# What MBRL_LIB_020 cannot express, each with the reason; none changes the work per env step by more than the
# few percent stated (the fits' epochs are reported by both sides so their cost per epoch compares).
MBRL_LIB_DEPARTURES: list[str] = [
    "early stopping baseline: mbrl-lib starts each fit from the validation score of the model as it stands "
    "(TRAINER:141) and snapshots the whole ensemble when any member gains 1% (TRAINER:168-174, 284-286); ours "
    "(official MBPO) starts every member at 1e10 and snapshots per member, so our first epoch always counts as a "
    "gain: a fit runs at least 6 epochs to mbrl-lib's 5 (same patience rule after that); no config field",
    "weight decay: mbrl-lib's is Adam's weight_decay on every trainable parameter, biases included "
    "(TRAINER:63-68); ours is decay x |W|^2 / 2 in the loss on the weights only (same gradient on the weights)",
    "log-variance bounds: fixed in mbrl-lib (DYN:11 learn_logvar_bounds: false, mbrl/models/gaussian_mlp.py:117-122), "
    "learned in ours (2 x 18 more parameters); both add the 0.01 bound penalty to the loss",
    "initial exploration: mbrl-lib's 5000 steps sample the untrained SAC policy (ALG:13 random_initial_explore: "
    "false, LOOP:165-172); ours are uniform-random (no config field); untimed warm-up either way",
    "real env steps: mbrl-lib acts with the policy mean during training (LOOP:223-225 passes no sample flag, "
    "mbrl/planning/sac_wrapper.py:28,45), ours samples; same cost",
    "fit phase: mbrl-lib fits after the 250th, 500th, ... policy step (LOOP:228) and starts SAC updates once the "
    "model buffer holds a batch (LOOP:261-264), ours (official MBPO) fits before the 1st, 251st, ... step and "
    "updates from the first step; the steady window holds whole fit periods on both sides",
    "evaluation: mbrl-lib runs 1 episode (ALG:14) at the end of every epoch inside its loop (LOOP:278-281) and "
    "saves the SAC checkpoint when it improves (LOOP:291-296); the harness times its evaluation apart "
    "(--eval-episodes 1 --eval-every 1000 for the same amortized share)",
    "disk: mbrl-lib writes the model and the whole real buffer after every fit (COMMON:411-413) and its logs "
    "(LOOP:274-275); ours writes nothing in the loop",
    "precision: mbrl-lib keeps the real buffer in float64 and normalizes in double precision (ALG:5, "
    "LOOP:154-164); ours float32",
    "pranz24 details: mbrl-lib's copy has no critic-loss clamp (PRANZ/sac.py:112-118; ours clamps at 1000 as "
    "TOM's copy does), an epsilon of 1e-6 in log pi (PRANZ/model.py:105; ours exact) and alpha 0.2 in its "
    "first update only (OV:22, PRANZ/sac.py:20); separate mean and log-std heads (ours one head, same FLOPs)",
    "random_model propagation: mbrl-lib gives each elite an equal share of the rollout batch by a permutation "
    "(DYN:10, mbrl/models/gaussian_mlp.py:161-171, 201-206); ours draws an elite per row (same FLOPs)",
    "environment: gymnasium 0.26.3 HalfCheetah-v4 on mujoco 2.3.7 for mbrl-lib 0.2.0 (its pin; OV:2 names v2, "
    "which gymnasium does not have); ours HalfCheetah-v5 on our mujoco 3",
]

# Named setting bundles beside the paper presets: (algorithm, task, overrides, why).
CASES: dict[str, tuple[str, str, dict[str, Any], str]] = {
    "mbrl-lib": ("mbpo", "halfcheetah", MBRL_LIB_020, "mbrl-lib v0.2.0's mbpo_halfcheetah (MBRL_LIB_020)"),
    "mbrl-lib-0.1-sac-mixture": (
        "mbpo",
        "halfcheetah",
        {
            # What the "mbrl-lib" case was before issue 20: mbrl-lib's MBPO halfcheetah schedule with the SAC
            # of its v0.1.x (pytorch_sac: actor and target every 4th update) and model settings of neither
            # version (patience "1" = our 0, decay 2e-5); kept to reproduce older results, not a comparison point.
            "n_train_repeat": 10,
            "sac_hidden": 512,
            "sac_layers": 2,
            "actor_update_interval": 4,
            "target_update_interval": 4,
            "rollout_schedule": (20, 150, 1, 1),
            "rollout_batch_size": 100_000,
            "model_train_freq": 250,
            "model_patience": 0,
            "model_weight_decays": [2e-5] * 5,
        },
        "the pre-issue-20 'mbrl-lib' bundle: v0.1 SAC intervals, patience 0, decay 2e-5 (not mbrl-lib 0.2.0)",
    ),
    "mbmpo-reduced": (
        "mbmpo",
        "halfcheetah_h200",
        {"meta_steps": 2, "model_max_epochs": 10},
        "MB-MPO on its paper task with 2 of 30 meta-steps and at most 10 of 500 model epochs (CPU budget)",
    ),
}

# The phases are marked in the package itself (mbrlbench/components/phases.py: @phase on each env-step, fit,
# rollout and update method); the timer below listens to them. "eval" and "other" are the harness's own.
PHASE_NAMES = ("env", "model", "rollouts", "policy", "eval", "other")


# ----------------------------------------------------------------------------------------------- worker
class PhaseTimer:
    """Exclusive wall time per phase (a marked call inside another is subtracted from the outer), as a listener
    of the package's phase marks (``mbrlbench.components.phases``); ``wrap`` times a peer's function the same way
    (side_by_side.py). ``on_fit(owner, result)`` is called at the end of each outermost model fit."""

    def __init__(self, sync: Any, on_fit: Any = None) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)  # outermost calls per phase (a super() call is not another)
        self.sync = sync  # waits for the GPU so that time lands in the phase that queued the work
        self.on_fit = on_fit
        self.stack: list[tuple[str, float, float]] = []  # per open call: phase, start, time in nested calls

    def enter(self, phase: str) -> None:
        self.sync()
        self.stack.append((phase, time.perf_counter(), 0.0))

    def exit(self, phase: str) -> None:
        self.sync()
        _, start, nested = self.stack.pop()
        elapsed = time.perf_counter() - start
        self.seconds[phase] += elapsed - nested
        self.calls[phase] += all(open_phase != phase for open_phase, _, _ in self.stack)
        if self.stack:
            outer_phase, outer_start, outer_nested = self.stack[-1]
            self.stack[-1] = (outer_phase, outer_start, outer_nested + elapsed)

    def fitted(self, owner: Any, result: Any) -> None:
        if self.on_fit is not None:
            self.on_fit(owner, result)

    def wrap(self, phase: str, fn: Any) -> Any:
        """``fn`` timed as a call of ``phase`` (for code without the package's marks)."""

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.enter(phase)
            try:
                return fn(*args, **kwargs)
            finally:
                self.exit(phase)

        return timed


def cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} x{os.cpu_count()}"
    return platform.processor() or platform.machine()


# The model fits a steady window counts: MBPO's family and MB-MPO fit their model, MG updates its model once per
# iteration. An algorithm with none of these is timed from the end of its warm-up.
FIT_METHODS = ("fit_model", "model_update")


class WindowControl:
    """``Algorithm.train``'s control: return once the window has closed (asked at every env step)."""

    def __init__(self, window: Window) -> None:
        self.window = window

    def at_safe_point(self) -> bool:
        return self.window.done


def fit_epochs(algo: Any, result: Any) -> float | None:
    """Epochs of the fit that just ended: its ``FitResult`` (MBPO's family), else the ``model/epochs`` diagnostic
    the fit set (MB-MPO: the mean over members), else None (MG: a fixed number of model steps)."""
    epochs = getattr(result, "epochs", None)
    if epochs is None and result is None:
        epochs = algo.diagnostics.get("model/epochs")
    return None if epochs is None else float(epochs)


def fit_period(config: Any) -> int:
    """Env steps between model fits (or iterations), to bound how long a steady window may take to close."""
    for key in ("model_train_freq", "real_steps_per_iter", "batch_steps"):
        if hasattr(config, key):
            return int(getattr(config, key))
    return 1


def worker(job: dict[str, Any]) -> dict[str, Any]:
    """One repetition of one case, in this process."""
    import torch

    import mbrlbench
    from mbrlbench.algorithms import registry
    from mbrlbench.algorithms.base import seed_everything
    from mbrlbench.components import phases
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
    seed_everything(0)
    base, layer = registry.resolve(job["algorithm"])
    config = registry.resolve_config(base, job["task"], {**(layer or {}), **job["overrides"]})
    task = get_task(job["task"])
    algo = registry.build(base, config, task, device, seed=0)

    def meters() -> dict[str, float]:
        """Cumulative counters; the window keeps their increase over itself."""
        out = {p: timer.seconds.get(p, 0.0) for p in PHASE_NAMES if p not in ("eval", "other")}
        out.update({f"calls_{p}": float(timer.calls.get(p, 0)) for p in PHASE_NAMES if p not in ("eval", "other")})
        out["cpu"] = time.process_time()
        out["sac_updates"] = float(algo.sac.updates) if hasattr(algo, "sac") else 0.0
        return out

    def now() -> float:
        sync()
        return time.perf_counter()

    model_based = any(hasattr(algo, name) for name in FIT_METHODS)
    window = Window(job["steps"], job.get("window", "steady"), fits_expected=model_based)
    timer.on_fit = lambda owner, result: window.fit(algo.env_steps, now(), fit_epochs(algo, result), meters())

    sac_family = hasattr(config, "n_initial_exploration_steps")
    if sac_family:
        warmup = max(config.n_initial_exploration_steps, config.min_pool_size)
    else:  # one whole iteration (MG steps one env step at a time: one batch of them)
        warmup = getattr(config, "batch_steps", 1)
    with phases.listening(timer):  # the package's phase marks report to the timer
        algo.train(warmup)  # untimed
        if cuda:
            torch.cuda.reset_peak_memory_stats(device)
        window.begin(algo.env_steps, now(), meters())
        if window.by_fits:  # until the window closes, at the end of a fit
            algo.train(algo.env_steps + 2 * job["steps"] + 3 * fit_period(config), WindowControl(window))
        else:  # iteration-based learners finish the iteration they are in
            algo.train(algo.env_steps + (job["steps"] if sac_family else max(job["steps"], fit_period(config))))
        window.finish(algo.env_steps, now(), meters())
    result = window.result()
    row = window_row(result)
    row.update(eval_row(algo, task, job, sync, result))
    if sac_family:
        row.update(sac_row(algo, config, job, sync, result))
    row.update(footprint_row(algo, config, device))
    row["device_name"] = torch.cuda.get_device_name(device) if cuda else cpu_name()
    row["phase_sync"] = job.get("phase_sync", True)
    row["threads"] = torch.get_num_threads()
    row["package"] = str(Path(mbrlbench.__file__).parent)
    return row


def window_row(result: WindowResult) -> dict[str, Any]:
    """The window's rate, its phase split in ms per env step, the fits inside it and their epochs."""
    steps, wall = result.steps, result.seconds
    split = {p: result.meters.get(p, 0.0) for p in PHASE_NAMES if p not in ("eval", "other")}
    split["other"] = wall - sum(split.values())
    return {
        "window": result.mode,
        "steps": steps,
        "wall_s": wall,
        "cpu_s": result.meters["cpu"],
        "env_steps_per_s": steps / wall,
        **{f"ms_per_step_{p}": 1000 * v / steps for p, v in split.items()},
        **{f"calls_{p}": int(result.meters.get(f"calls_{p}", 0)) for p in PHASE_NAMES if p not in ("eval", "other")},
        "fits": result.fits,
        "fit_epochs": result.fit_epochs,
        "fit_epochs_mean": result.mean_fit_epochs,
        "opening_fit_epochs": result.opening_fit_epochs,
        "window_start_step": result.start_step,
    }


def eval_row(algo: Any, task: Any, job: dict[str, Any], sync: Any, result: WindowResult) -> dict[str, Any]:
    """One evaluation (``eval_episodes`` deterministic episodes), amortized over ``eval_every`` env steps."""
    from mbrlbench.runner.evaluate import Evaluator, run_base_seed

    evaluator = Evaluator(task, job["eval_episodes"], run_base_seed(0))
    sync()
    start = time.perf_counter()
    evaluator(lambda o: algo.act(o, deterministic=True), 0)
    sync()
    eval_s = time.perf_counter() - start
    evaluator.close()
    amortized = eval_s * result.steps / job["eval_every"]
    return {
        "eval_s": eval_s,
        "ms_per_step_eval": 1000 * eval_s / job["eval_every"],
        "env_steps_per_s_with_eval": result.steps / (result.seconds + amortized),
    }


def sac_row(algo: Any, config: Any, job: dict[str, Any], sync: Any, result: WindowResult) -> dict[str, Any]:
    """SAC updates per step and their cost in the loop, and ``alone`` updates on one fixed batch in a tight loop."""
    steps = result.steps
    updates = result.meters["sac_updates"]
    row: dict[str, Any] = {
        "sac_updates_per_step": updates / steps,
        "sac_ms_per_update": 1000 * result.meters.get("policy", 0.0) / max(updates, 1),
    }
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
    fit_and_rollouts = result.meters.get("model", 0.0) + result.meters.get("rollouts", 0.0)
    alone = row["sac_updates_per_step"] * row["sac_ms_alone"] + 1000 * fit_and_rollouts / steps
    row["step_over_alone"] = (1000 * result.seconds / steps) / alone
    return row


def footprint_row(algo: Any, config: Any, device: Any) -> dict[str, Any]:
    """Model buffer at its longest horizon, checkpoint size, peak host and GPU memory."""
    import torch

    row: dict[str, Any] = {}
    if hasattr(algo, "model_buffer") and hasattr(algo, "_model_buffer_size"):
        longest = algo._model_buffer_size(config.rollout_schedule[3])
        row_bytes = 4 * (2 * algo.obs_dim + algo.act_dim + 2)
        row["model_buffer_max_gb"] = longest * row_bytes / 1e9
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ckpt.pt"
        torch.save(algo.state_dict(), path)
        row["checkpoint_mb"] = path.stat().st_size / 1e6
    row["peak_host_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cuda = device.type == "cuda"
    row["peak_gpu_mb"] = torch.cuda.max_memory_allocated(device) / 2**20 if cuda else float("nan")
    return row


def memory_check(task_name: str = "humanoid") -> dict[str, Any]:
    """Fill MBPO's model buffer of ``task_name`` at its longest rollout (humanoid: 5 epochs x 20 x 100k) and
    grow it from the next-longest horizon, as the schedule does: does it fit, and at what peak?"""
    import torch

    from mbrlbench.algorithms import registry
    from mbrlbench.components.data.buffers import ReplayBuffer
    from mbrlbench.tasks import get_task

    config = registry.resolve_config("mbpo", task_name)
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
    ("steps", "steps", "{:.0f}"),
    ("fits", "fits", "{:.0f}"),
    ("epochs/fit", "fit_epochs_mean", "{:.1f}"),
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


def describe(row: dict[str, Any]) -> str:
    """One repetition in a line: its rate and the fits in its window with their epochs."""
    text = f"{row['env_steps_per_s']:.2f} env steps/s over {row['steps']} steps ({row['window']} window"
    if row["fits"] or row["opening_fit_epochs"] == row["opening_fit_epochs"]:
        epochs = ", ".join("-" if e != e else f"{e:.0f}" for e in row["fit_epochs"])
        text += f"; {row['fits']} fits: {epochs or 'none'} epochs"
        if row["opening_fit_epochs"] == row["opening_fit_epochs"]:
            text += f"; opened by a fit of {row['opening_fit_epochs']:.0f} epochs"
    return text + ")"


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


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--algorithms",
        nargs="*",
        default=None,
        help="registered names, e.g. mbpo sac tom (default: mbpo, none with --cases)",
    )
    parser.add_argument("--tasks", nargs="*", default=["hopper"])
    parser.add_argument("--cases", nargs="*", default=[], choices=sorted(CASES), help="named setting bundles")
    parser.add_argument("--steps", type=int, default=1000, help="timed env steps per repetition (at least)")
    parser.add_argument(
        "--window",
        choices=MODES,
        default="steady",
        help="steady: whole fit periods after the first model fit; first: right after the warm-up",
    )
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
    return parser.parse_args()


def job_for(
    args: argparse.Namespace, case: str, algorithm: str, task: str, overrides: dict[str, Any]
) -> dict[str, Any]:
    """One repetition's job, as ``worker`` takes it."""
    return {
        "case": case,
        "algorithm": algorithm,
        "task": task,
        "overrides": overrides,
        "steps": args.steps,
        "window": args.window,
        "device": args.device,
        "threads": args.threads,
        "alone": args.alone,
        "eval_episodes": args.eval_episodes,
        "eval_every": args.eval_every,
        "phase_sync": args.phase_sync,
    }


def cases_of(args: argparse.Namespace) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(case name, algorithm, task, overrides): each --algorithms x --tasks pair and each named --cases bundle,
    with the --set overrides on top."""
    overrides = {k: parse_value(v) for k, v in (item.split("=", 1) for item in args.set)}
    algorithms = args.algorithms if args.algorithms is not None else ([] if args.cases else ["mbpo"])
    cases = [(f"{a}/{t}", a, t, dict(overrides)) for a in algorithms for t in args.tasks]
    cases += [
        (f"{name}/{CASES[name][1]}", CASES[name][0], CASES[name][1], {**CASES[name][2], **overrides})
        for name in args.cases
    ]
    return cases


def run_single(args: argparse.Namespace, cases: list, codes: list[Path], commits: dict[str, str]) -> list[dict]:
    """The single-run table's repetitions: every case at every checkout, interleaved, ``--reps`` times."""
    rows: list[dict[str, Any]] = []
    for rep in range(args.reps if not args.pack_only else 0):
        for case, algorithm, task, case_overrides in cases:
            for code in codes:
                job = job_for(args, case, algorithm, task, case_overrides)
                row = {"rep": rep, "case": case, "code": commits[str(code)], **run_job(job, code)}
                rows.append(row)
                print(f"rep {rep + 1}/{args.reps} {case} @ {row['code']}: {describe(row)}", flush=True)
    return rows


def run_packing(args: argparse.Namespace, cases: list) -> list[dict[str, Any]]:
    """``--pack K``: K copies of each case at once, ``--reps`` times (aggregate throughput)."""
    packed: list[dict[str, Any]] = []
    for rep in range(args.reps if args.pack else 0):
        for case, algorithm, task, case_overrides in cases:
            for k in args.pack:
                job = job_for(args, case, algorithm, task, case_overrides) | {"alone": 1, "eval_episodes": 1}
                packed.append({"rep": rep, **run_packed(job, k)})
                print(
                    f"rep {rep + 1}/{args.reps} {case} k={k}: "
                    f"{packed[-1]['aggregate_env_steps_per_s']:.2f} env steps/s in all",
                    flush=True,
                )
    return packed


def memory_row(args: argparse.Namespace) -> dict[str, Any] | None:
    """``--memory``: humanoid's model buffer filled at its longest, in a fresh process."""
    if not args.memory:
        return None
    proc = subprocess.run([sys.executable, __file__, "--memory-worker"], capture_output=True, text=True, check=False)
    memory = (
        json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else {"error": proc.stderr[-2000:]}
    )
    print(f"model buffer check: {memory}")
    return memory


def main() -> None:
    args = parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    if args.memory_worker:
        print(json.dumps(memory_check()))
        return
    cases = cases_of(args)
    codes = [HERE.parent, *args.code]
    commits = {str(code): commit_of(code) for code in codes}
    rows = run_single(args, cases, codes, commits)
    packed = run_packing(args, cases)
    summaries = summarize(rows)
    device = (summaries or packed or [{"device_name": "?"}])[0]["device_name"]
    threads = int(summaries[0]["threads"]) if summaries else "?"
    stretch = "steady window" if args.window == "steady" else "first window after warm-up"
    title = f"Throughput, {stretch} of >= {args.steps} env steps ({device}, {threads} threads; medians)"
    markdown = print_table(summaries, title)
    memory = memory_row(args)
    write_results(args, device, commits, summaries, rows, packed, markdown, memory)


def write_results(
    args: argparse.Namespace,
    device: str,
    commits: dict[str, str],
    summaries: list[dict[str, Any]],
    rows: list[dict[str, Any]],
    packed: list[dict[str, Any]],
    markdown: str,
    memory: dict[str, Any] | None,
) -> None:
    """``--out``/run_<cpu|cuda>_<stamp>.json (everything) and .csv (the summary), plus _packing.csv."""
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
        "window": args.window,
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
