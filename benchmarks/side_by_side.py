"""mbrl-lib 0.2.0's MBPO (mbpo_halfcheetah) and ours at the same settings (benchmarks/run.py's ``mbrl-lib``
case), timed over the same steady stretch, run interleaved: per pair both rates, the ratio and the phase split.

    python benchmarks/side_by_side.py [--pairs 3] [--steps 1000] [--device cpu|cuda] [--threads N]
                                      [--venv benchmarks/.venv-mbrl020] [--tiny] [--out DIR]

mbrl-lib runs in its own virtual environment, made on the first call (then reused): the ``mbrl==0.2.0`` wheel
without its dependency pins (they no longer install: omegaconf 2.0's metadata is rejected by pip >= 24.1,
hydra-core 1.0.3 fails on Python 3.11, gymnasium 0.26.3 needs numpy < 2, mujoco 2.2 has no cp311 wheel) and
the modules its MBPO imports: ``hydra-core==1.3.2 omegaconf==2.3.0 "numpy<2" gymnasium==0.26.3
mujoco==2.3.7 termcolor imageio tqdm packaging`` and torch (``--torch``, default our version, CPU here).
Its ``conf/`` comes from the installed wheel (identical to the v0.2.0 tag) with the ``# @package _group_``
headers stripped (hydra 1.3 reads ``_group_`` as a key), plus the tag's ``action_optimizer/cem.yaml``, which
``main.yaml``'s defaults name but the wheel leaves out (PETS alone reads it). The wheel ships no
``examples/main.py``: an entry point written beside that copy composes ``main.yaml`` with ``algorithm=mbpo
overrides=mbpo_halfcheetah overrides.env=gym___HalfCheetah-v4 +algorithm.agent._recursive_=false
+dynamics_model._recursive_=false``, builds the env with ``mbrl.util.env.EnvHandler.make_env`` and calls
``mbrl.algorithms.mbpo.train`` as ``examples/main.py`` does. Before any comparison, its composed settings are
checked against our case (``mbrl_settings``): a difference stops the run.

Timing mbrl-lib changes nothing it computes: passive wrappers record the clock around its own functions
(``step_env_and_add_to_buffer`` = env, ``train_model_and_save_model_and_data`` = model fit, with the epochs
``ModelTrainer.train`` returns; ``rollout_model_and_populate_sac_buffer`` = rollouts, pranz24's
``SAC.update_parameters`` = policy, ``evaluate`` = eval) and count the real env steps of its env. Both sides
are timed by the same window (``benchmarks/window.py``): from the end of the first model fit after the 5,000
exploration steps to the end of the first fit ``--steps`` env steps later, so whole fit periods (1,000 steps:
4 fits). Ours is the harness's worker on the ``mbrl-lib`` case. mbrl-lib evaluates one episode at the end of
every 1,000-step epoch inside its loop (one in a 1,000-step window); ours times one such evaluation apart and
adds it back as often as mbrl-lib ran one in its window (the "with evaluation" rate); the rates without
evaluation compare the training alone. mbrl-lib stops once its window closes.

``--tiny`` checks the plumbing in a few minutes (600 exploration steps, a fit every 50 steps, 100 timed
steps, both sides alike): not a measurement. Results: ``<out>/side_by_side_<time>.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import run as harness  # noqa: E402  (stdlib-only at import: this file also runs in mbrl-lib's venv)
from window import Window  # noqa: E402

MBRL_VERSION = "0.2.0"
RUNTIME = [  # what mbrl-lib 0.2.0's MBPO imports, at versions that install on Python 3.11 today
    "hydra-core==1.3.2",
    "omegaconf==2.3.0",
    "numpy<2",
    "gymnasium==0.26.3",
    "mujoco==2.3.7",
    "termcolor",
    "imageio",
    "tqdm",
    "packaging",
]
HYDRA_OVERRIDES = [
    "algorithm=mbpo",
    "overrides=mbpo_halfcheetah",
    "dynamics_model=gaussian_mlp_ensemble",
    "overrides.env=gym___HalfCheetah-v4",  # gymnasium 0.26.3 has no v2
    "seed=0",
    "+algorithm.agent._recursive_=false",  # hydra 1.0 did not recurse into these; 1.3 would instantiate their
    "+dynamics_model._recursive_=false",  # sub-configs (gym.env.Box, the activation) too early
]
EXPLORATION_STEPS = 5000  # mbrl/examples/conf/algorithm/mbpo.yaml:12
EPOCH_LENGTH = 1000  # mbrl/examples/conf/overrides/mbpo_halfcheetah.yaml:6
ROLLOUTS_PER_STEP = 400  # mbrl/examples/conf/overrides/mbpo_halfcheetah.yaml:14
# mbrl/examples/conf/action_optimizer/cem.yaml at v0.2.0, which the wheel leaves out (headers stripped as below)
CEM_YAML = """
_target_: mbrl.planning.CEMOptimizer
num_iterations: ${overrides.cem_num_iters}
elite_ratio: ${overrides.cem_elite_ratio}
population_size: ${overrides.cem_population_size}
alpha: ${overrides.cem_alpha}
lower_bound: ???
upper_bound: ???
return_mean_elites: true
device: ${device}
clipped_normal: ${overrides.cem_clipped_normal}
"""
TINY = {"exploration": 600, "freq": 50, "steps": 100}
OWNED, READY = ".mbrlbench-venv", ".mbrlbench-ready"  # made by this script; its setup finished
ENTRY_DIR = "mbrlbench-entry"

ENTRY = '''"""mbrl-lib {version}'s examples/main.py for MBPO (the wheel has its conf/ but not main.py), with passive
timing. Written by benchmarks/side_by_side.py; run by this venv's python: mbpo_main.py JOB_JSON."""

import json
import sys

job = json.loads(sys.argv[1])
sys.path.insert(0, job["benchmarks"])

import mbrl.algorithms.mbpo as mbpo  # noqa: E402
import mbrl.util.env  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import side_by_side  # noqa: E402

timing = side_by_side.MbrlTiming(job)  # wrappers that read the clock; nothing mbrl-lib computes changes
cfg = side_by_side.compose_mbrl_config(job)
if job.get("settings_only"):  # the parent's check before any run
    print(json.dumps(side_by_side.mbrl_settings(cfg)))
    sys.exit(0)
env, term_fn, reward_fn = mbrl.util.env.EnvHandler.make_env(cfg)  # examples/main.py:18
np.random.seed(cfg.seed)  # examples/main.py:19-20
torch.manual_seed(cfg.seed)
test_env, *_ = mbrl.util.env.EnvHandler.make_env(cfg)  # examples/main.py:24
timing.watch(env)
timing.settings = side_by_side.mbrl_settings(cfg)  # the values that drive it, in our field names
try:
    mbpo.train(env, test_env, term_fn, cfg, work_dir=job["work_dir"])  # examples/main.py:25
except side_by_side.WindowClosed:
    pass
print(json.dumps(timing.row()))
'''


# ---------------------------------------------------------------------------------------- mbrl-lib's venv
def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def pip(venv: Path, args: list[str], pip_options: list[str]) -> None:
    cmd = [str(venv_python(venv)), "-m", "pip", "install", "-q", *pip_options, *args]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def default_torch() -> str:
    return f"torch=={metadata.version('torch').split('+')[0]}"


def ensure_venv(venv: Path, torch_spec: str, pip_options: list[str]) -> Path:
    """mbrl-lib 0.2.0 and its runtime in ``venv`` (made once, reused while its recipe is unchanged); returns the
    directory holding the stripped ``conf/`` and the entry point."""
    recipe = json.dumps({"mbrl": MBRL_VERSION, "runtime": RUNTIME, "torch": torch_spec})
    ready = venv / READY
    if not (ready.exists() and ready.read_text() == recipe):
        if venv.exists():
            if not (venv / OWNED).exists():
                raise SystemExit(f"{venv} exists and was not made by this script: remove it or pass another --venv")
            shutil.rmtree(venv)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        (venv / OWNED).write_text("made by benchmarks/side_by_side.py\n")
        pip(venv, ["pip<24.1"], pip_options)  # newer pip rejects omegaconf 2.0 (mbrl's own pin, left out below)
        pip(venv, ["--no-deps", f"mbrl=={MBRL_VERSION}"], pip_options)
        pip(venv, [*RUNTIME, torch_spec], pip_options)
        print("(pip's complaints about mbrl 0.2.0's own pins are expected: they are replaced on purpose)")
        ready.write_text(recipe)
    return write_entry(venv)


def write_entry(venv: Path) -> Path:
    """Copy the wheel's ``mbrl/examples/conf`` without the ``# @package _group_`` headers (plus the tag's
    ``action_optimizer/cem.yaml``, missing from the wheel), and write the entry point."""
    out = subprocess.run(
        [str(venv_python(venv)), "-c", "import mbrl, pathlib; print(pathlib.Path(mbrl.__file__).parent)"],
        capture_output=True,
        text=True,
        check=True,
    )
    source = Path(out.stdout.strip()) / "examples" / "conf"
    entry = venv / ENTRY_DIR
    conf = entry / "conf"
    if conf.exists():
        shutil.rmtree(conf)
    for path in sorted(source.rglob("*.yaml")):
        target = conf / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        lines = path.read_text().splitlines(keepends=True)
        target.write_text("".join(line for line in lines if line.strip() != "# @package _group_"))
    cem = conf / "action_optimizer" / "cem.yaml"
    if not cem.exists():  # main.yaml's defaults name it; the wheel does not ship it
        cem.parent.mkdir(parents=True, exist_ok=True)
        cem.write_text(CEM_YAML)
    (entry / "mbpo_main.py").write_text(ENTRY.format(version=MBRL_VERSION))
    return entry


def conf_digest(conf: Path) -> str:
    """One sha256 over the files of the stripped conf/ (names and contents), to tie results to the configs."""
    digest = hashlib.sha256()
    for path in sorted(conf.rglob("*.yaml")):
        digest.update(str(path.relative_to(conf)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


# ------------------------------------------------------------------------------ inside mbrl-lib's venv
class WindowClosed(Exception):
    """Raised at the end of the fit that closes the window: mbrl-lib's training stops there."""


def compose_mbrl_config(job: dict[str, Any]) -> Any:
    """mbrl-lib's ``main.yaml`` composed as ``hydra.main`` would, without changing the working directory."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=job["conf_dir"], version_base=None):
        return compose(config_name="main", overrides=job["hydra_overrides"])


def mbrl_settings(cfg: Any) -> dict[str, Any]:
    """mbrl-lib's composed config in our MBPO field names (the parent checks them against our case)."""
    o, a, d = cfg.overrides, cfg.algorithm, cfg.dynamics_model
    return {
        "epoch_length": o.epoch_length,
        "model_train_freq": a.freq_train_model,
        "rollout_batch_size": o.effective_model_rollouts_per_step * a.freq_train_model,  # LOOP:176-178
        "rollout_schedule": list(o.rollout_schedule),
        "model_retain_epochs": o.num_epochs_to_retain_sac_buffer,
        "n_train_repeat": o.num_sac_updates_per_step if o.sac_updates_every_steps == 1 else None,
        "real_ratio": a.real_data_ratio,
        "n_initial_exploration_steps": a.initial_exploration_steps,
        "replay_size": o.num_steps,
        "ensemble_size": d.ensemble_size,
        "num_elites": o.num_elites,
        "model_hidden": d.hid_size,
        "model_layers": d.num_layers,
        "model_lr": o.model_lr,
        "model_weight_decays": [o.model_wd] * (d.num_layers + 1),
        "model_batch_size": o.model_batch_size,
        "holdout_ratio": o.validation_ratio,
        "model_patience": o.patience - 1,  # theirs stops at >= patience, ours at > patience
        "sac_hidden": o.sac_hidden_size,
        "sac_lr": o.sac_lr,
        "batch_size": o.sac_batch_size,
        "gamma": o.sac_gamma,
        "tau": o.sac_tau,
        "target_update_interval": o.sac_target_update_interval,
        "target_entropy": float(o.sac_target_entropy),
    }


def mismatches(theirs: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    """Settings where our case differs from mbrl-lib's composed config."""
    out = []
    for key, value in theirs.items():
        mine = ours.get(key)
        mine = list(mine) if isinstance(mine, tuple | list) else mine
        if mine != value:
            out.append(f"{key}: mbrl-lib {value!r}, ours {mine!r}")
    return out


class MbrlTiming:
    """Passive clocks around mbrl-lib's own functions, fed to the same ``Window`` as ours. Phases are timed with
    the harness's ``PhaseTimer`` (exclusive; a CUDA sync at each boundary on a GPU, as ours)."""

    PHASES = (
        ("env", "mbrl.util.common", "step_env_and_add_to_buffer"),
        ("model", "mbrl.util.common", "train_model_and_save_model_and_data"),
        ("rollouts", "mbrl.algorithms.mbpo", "rollout_model_and_populate_sac_buffer"),
        ("eval", "mbrl.algorithms.mbpo", "evaluate"),
    )

    def __init__(self, job: dict[str, Any]) -> None:
        import importlib

        import torch

        if job["threads"]:
            torch.set_num_threads(job["threads"])
        self.job, self.torch = job, torch
        self.cuda = job["device"].startswith("cuda")
        self.timer = harness.PhaseTimer(self.sync)
        self.window = Window(job["steps"], "steady")
        self.env_steps = 0
        self.last_epochs: int | None = None
        self.settings: dict[str, Any] = {}
        for phase, module_name, name in self.PHASES:
            module = importlib.import_module(module_name)
            setattr(module, name, self.timer.wrap(phase, getattr(module, name)))
        common = importlib.import_module("mbrl.util.common")
        common.step_env_and_add_to_buffer = self.before_policy_step(common.step_env_and_add_to_buffer)
        common.train_model_and_save_model_and_data = self.after_fit(common.train_model_and_save_model_and_data)
        sac = importlib.import_module("mbrl.third_party.pytorch_sac_pranz24.sac").SAC
        sac.update_parameters = self.timer.wrap("policy", sac.update_parameters)
        trainer = importlib.import_module("mbrl.models").ModelTrainer
        trainer.train = self.count_epochs(trainer.train)

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()

    def now(self) -> float:
        self.sync()
        return time.perf_counter()

    def meters(self) -> dict[str, float]:
        out = {phase: self.timer.seconds.get(phase, 0.0) for phase, *_ in self.PHASES}
        out["policy"] = self.timer.seconds.get("policy", 0.0)
        out["sac_updates"] = float(self.timer.calls.get("policy", 0))
        out["evals"] = float(self.timer.calls.get("eval", 0))
        out["cpu"] = time.process_time()
        return out

    def watch(self, env: Any) -> None:
        """Count the real steps of the training env (its ``step`` wrapped on the instance)."""
        step = env.step

        def counted_step(action: Any) -> Any:
            out = step(action)
            self.env_steps += 1
            return out

        env.step = counted_step

    def before_policy_step(self, fn: Any) -> Any:
        def first_policy_step(*args: Any, **kwargs: Any) -> Any:
            if self.window.begun is None and self.env_steps >= self.job["exploration"]:
                self.window.begin(self.env_steps, self.now(), self.meters())  # exploration over
            return fn(*args, **kwargs)

        return first_policy_step

    def after_fit(self, fn: Any) -> Any:
        def fit_then_tick(*args: Any, **kwargs: Any) -> Any:
            out = fn(*args, **kwargs)
            self.window.fit(self.env_steps, self.now(), self.last_epochs, self.meters())
            if self.window.done:
                raise WindowClosed
            return out

        return fit_then_tick

    def count_epochs(self, fn: Any) -> Any:
        def train(*args: Any, **kwargs: Any) -> Any:
            losses = fn(*args, **kwargs)
            self.last_epochs = len(losses[0])  # (training losses, val scores): one per epoch (TRAINER:158)
            return losses

        return train

    def row(self) -> dict[str, Any]:
        self.window.finish(self.env_steps, self.now(), self.meters())
        result = self.window.result()
        steps, wall, m = result.steps, result.seconds, result.meters
        split = {p: m[p] for p in ("env", "model", "rollouts", "policy", "eval")}
        split["other"] = wall - sum(split.values())
        return {
            "side": "mbrl-lib",
            "settings": self.settings,
            "steps": steps,
            "wall_s": wall,
            "cpu_s": m["cpu"],
            "env_steps_per_s": steps / wall,  # mbrl-lib's loop, its evaluation included
            "env_steps_per_s_without_eval": steps / (wall - m["eval"]),
            **{f"ms_per_step_{p}": 1000 * v / steps for p, v in split.items()},
            "evals": int(m["evals"]),  # its 1-episode evaluations inside the window (one per 1,000-step epoch)
            "sac_updates_per_step": m["sac_updates"] / steps,
            "sac_ms_per_update": 1000 * m["policy"] / max(m["sac_updates"], 1),
            "fits": result.fits,
            "fit_epochs": result.fit_epochs,
            "fit_epochs_mean": result.mean_fit_epochs,
            "opening_fit_epochs": result.opening_fit_epochs,
            "window_start_step": result.start_step,
            "threads": self.torch.get_num_threads(),
            "device_name": self.torch.cuda.get_device_name() if self.cuda else harness.cpu_name(),
            "versions": {
                pkg: metadata.version(pkg)
                for pkg in ("mbrl", "torch", "numpy", "gymnasium", "mujoco", "hydra-core", "omegaconf")
            },
        }


# ----------------------------------------------------------------------------------------------- parent
def run_mbrl_lib(
    entry: Path, venv: Path, args: argparse.Namespace, tiny: bool, settings_only: bool = False
) -> dict[str, Any]:
    """One mbrl-lib run in its venv (or, ``settings_only``, its composed settings in our field names)."""
    overrides = [*HYDRA_OVERRIDES, f"device={'cuda:0' if args.device == 'cuda' else 'cpu'}"]
    exploration = TINY["exploration"] if tiny else EXPLORATION_STEPS
    if tiny:
        overrides += [
            f"algorithm.initial_exploration_steps={exploration}",
            f"overrides.freq_train_model={TINY['freq']}",
        ]
    with tempfile.TemporaryDirectory(prefix="mbrl020-") as work_dir:
        job = {
            "benchmarks": str(HERE),
            "conf_dir": str(entry / "conf"),
            "hydra_overrides": overrides,
            "work_dir": work_dir,
            "steps": args.steps,
            "exploration": exploration,
            "device": "cuda" if args.device == "cuda" else "cpu",
            "threads": args.threads,
            "settings_only": settings_only,
        }
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        if args.threads:
            env["OMP_NUM_THREADS"] = str(args.threads)
        proc = subprocess.run(
            [str(venv_python(venv)), str(entry / "mbpo_main.py"), json.dumps(job)],
            capture_output=True,
            text=True,
            env=env,
            cwd=work_dir,
            check=False,
        )
    if proc.returncode != 0:
        raise SystemExit(f"mbrl-lib run failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check_settings(entry: Path, venv: Path, args: argparse.Namespace) -> None:
    """Stop unless our ``mbrl-lib`` case says what mbrl-lib's composed config says (in our field names)."""
    theirs = run_mbrl_lib(entry, venv, args, args.tiny, settings_only=True)
    differ = mismatches(theirs, ours_overrides(args.tiny))
    if differ:
        raise SystemExit("the mbrl-lib case differs from mbrl-lib's config:\n  " + "\n  ".join(differ))
    print(f"settings: the mbrl-lib case matches mbrl-lib's composed config on {len(theirs)} fields")


def ours_overrides(tiny: bool) -> dict[str, Any]:
    overrides = dict(harness.CASES["mbrl-lib"][2])
    if tiny:
        overrides.update(
            n_initial_exploration_steps=TINY["exploration"],
            model_train_freq=TINY["freq"],
            rollout_batch_size=ROLLOUTS_PER_STEP * TINY["freq"],  # as mbrl-lib's batch follows its freq
            min_pool_size=256,  # else our warm-up would wait for 1,000 real samples
        )
    return overrides


def run_ours(args: argparse.Namespace, tiny: bool) -> dict[str, Any]:
    algorithm, task, _, _ = harness.CASES["mbrl-lib"]
    overrides = ours_overrides(tiny)
    job = {
        "case": f"mbrl-lib/{task}",
        "algorithm": algorithm,
        "task": task,
        "overrides": overrides,
        "steps": args.steps,
        "window": "steady",
        "device": args.device,
        "threads": args.threads,
        "alone": 20,
        "eval_episodes": 1,  # mbrl/examples/conf/algorithm/mbpo.yaml:14, once per epoch
        "eval_every": EPOCH_LENGTH,
        "phase_sync": True,
    }
    row = harness.run_job(job, HERE.parent)
    row["side"] = "ours"
    return row


def phase_line(row: dict[str, Any]) -> str:
    names = ("model", "rollouts", "policy", "env", "eval", "other")
    parts = [f"{p} {row.get(f'ms_per_step_{p}', float('nan')):.1f}" for p in names]
    fits = ", ".join(f"{e:.0f}" for e in row["fit_epochs"])
    return (
        f"ms/step: {' | '.join(parts)}; {row['fits']} fits ({fits} epochs), "
        f"opened by a fit of {row['opening_fit_epochs']:.0f}"
    )


def report_pair(i: int, theirs: dict[str, Any], ours: dict[str, Any]) -> dict[str, float]:
    """Rates with evaluation (mbrl-lib's loop as it runs; ours plus as many of its 1-episode evaluations as
    mbrl-lib ran in its window) and without."""
    evals_per_step = theirs["evals"] / theirs["steps"]
    ours["env_steps_per_s_with_matched_eval"] = 1 / (ours["wall_s"] / ours["steps"] + ours["eval_s"] * evals_per_step)
    with_eval = ours["env_steps_per_s_with_matched_eval"] / theirs["env_steps_per_s"]
    compute = ours["env_steps_per_s"] / theirs["env_steps_per_s_without_eval"]
    print(
        f"pair {i}: mbrl-lib {theirs['env_steps_per_s']:.2f} env steps/s, ours "
        f"{ours['env_steps_per_s_with_matched_eval']:.2f}: ours/theirs x{with_eval:.2f} "
        f"(without evaluation: {theirs['env_steps_per_s_without_eval']:.2f} vs {ours['env_steps_per_s']:.2f}, "
        f"x{compute:.2f})",
        flush=True,
    )
    print(f"  mbrl-lib {phase_line(theirs)}", flush=True)
    print(f"  ours     {phase_line(ours)}", flush=True)
    return {"ratio": with_eval, "ratio_without_eval": compute}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=3, help="interleaved (mbrl-lib, ours) pairs")
    parser.add_argument("--steps", type=int, default=None, help="env steps of the steady window (default 1000)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads on both sides (0: torch's default)")
    parser.add_argument("--venv", type=Path, default=HERE / ".venv-mbrl020", help="mbrl-lib's virtual environment")
    parser.add_argument("--torch", default=None, help="torch requirement for that venv (default: our version)")
    parser.add_argument("--pip-option", action="append", default=[], help="passed to pip (e.g. --find-links=DIR)")
    parser.add_argument("--setup-only", action="store_true", help="make the venv and the entry point, then stop")
    parser.add_argument("--tiny", action="store_true", help="plumbing check in minutes (not a measurement)")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    args.steps = args.steps or (TINY["steps"] if args.tiny else 1000)

    args.venv = args.venv.resolve()
    entry = ensure_venv(args.venv, args.torch or default_torch(), args.pip_option)
    if args.setup_only:
        print(f"mbrl-lib {MBRL_VERSION} ready in {args.venv}; entry point {entry / 'mbpo_main.py'}")
        return
    host = harness.cpu_name()
    print(f"host: {host}; {platform.platform()}; device {args.device}; threads {args.threads or 'default'}")
    print(f"window: steady, >= {args.steps} env steps after the first model fit{' (TINY)' if args.tiny else ''}")
    check_settings(entry, args.venv, args)
    pairs = []
    for i in range(1, args.pairs + 1):
        runs = {}
        order = ("mbrl-lib", "ours") if i % 2 else ("ours", "mbrl-lib")  # alternate who goes first
        for side in order:
            runs[side] = (
                run_mbrl_lib(entry, args.venv, args, args.tiny) if side == "mbrl-lib" else run_ours(args, args.tiny)
            )
        ratios = report_pair(i, runs["mbrl-lib"], runs["ours"])
        pairs.append({"pair": i, "order": order, **runs, **ratios})
    summary = {key: statistics.median(p[key] for p in pairs) for key in ("ratio", "ratio_without_eval")}
    summary["mbrl_lib_env_steps_per_s"] = statistics.median(p["mbrl-lib"]["env_steps_per_s"] for p in pairs)
    summary["ours_env_steps_per_s_with_eval"] = statistics.median(
        p["ours"]["env_steps_per_s_with_matched_eval"] for p in pairs
    )
    print(
        f"median of {len(pairs)} pairs: mbrl-lib {summary['mbrl_lib_env_steps_per_s']:.2f}, ours "
        f"{summary['ours_env_steps_per_s_with_eval']:.2f} env steps/s; ours/theirs x{summary['ratio']:.2f} "
        f"(x{summary['ratio_without_eval']:.2f} without evaluation)"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"side_by_side_{time.strftime('%Y%m%d-%H%M%S')}.json"
    meta = {
        "command": " ".join(sys.argv),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "host": host,
        "platform": platform.platform(),
        "tiny": args.tiny,
        "steps": args.steps,
        "device": args.device,
        "threads": args.threads,
        "commit": harness.commit_of(HERE.parent),
        "ours_versions": harness.versions(),
        "mbrl_conf_sha256_16": conf_digest(entry / "conf"),
        "hydra_overrides": HYDRA_OVERRIDES,
        "case": harness.CASES["mbrl-lib"][2],
        "departures": harness.MBRL_LIB_DEPARTURES,
    }
    path.write_text(json.dumps({"meta": meta, "summary": summary, "pairs": pairs}, indent=2, default=str))
    print(f"written {path}")


if __name__ == "__main__":
    main()
