"""What is known about each algorithm and variant, as data: name, family, paper, the papers' claims, whether
the papers' numbers are comparable with ours, the metric the paper reports, budgets, per-task presets and the
env deviations the MBPO family shares. Torch-free: the report reads it without importing any algorithm, and
the registry (``registry.py``) joins each entry with its module's classes. ``tests/test_catalog.py`` ties the
two both ways."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

DEFAULT_METRIC = "eval_return_mean"


def _always(task: str, config: Any) -> bool:
    return True


@dataclass(frozen=True)
class Deviation:
    """One way a run differs from the paper's or official code's setting. ``text`` may name ``{task}`` and
    ``{config.<field>}``; ``when(task, config)`` says whether it applies (default: always)."""

    text: str
    when: Callable[[str, Any], bool] = _always

    def render(self, task: str, config: Any) -> str:
        return self.text.format(task=task, config=config)


def render_deviations(deviations: Sequence[Deviation], task: str, config: Any) -> list[str]:
    """The texts of the deviations that apply to a run of ``task`` with ``config``, in their order."""
    return [d.render(task, config) for d in deviations if d.when(task, config)]


@dataclass(frozen=True)
class Claim:
    """A paper's qualitative claim, tested per task inside one result set: ``ours`` against ``baseline``.
    "better": ours significantly above; "competitive": ours not below by more than the margin."""

    paper: str
    text: str
    ours: str
    baseline: str
    kind: Literal["better", "competitive"] = "better"


@dataclass(frozen=True)
class Entry:
    """One algorithm or variant. A variant (``base`` set) runs its base's code with ``overrides`` under its
    own name; its presets, budgets and metric are its base's unless given."""

    name: str
    family: str  # "MBPO", "MB-MPO", "MG", "model-free": the report groups and colours by it
    summary: str
    source: str = ""
    base: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    paper_env_steps: dict[str, int] = field(default_factory=dict)
    paper_metric: str = DEFAULT_METRIC  # the progress.csv column holding the return the paper reports
    metric_note: str = ""  # what that column is, where it is not the deterministic evaluation
    comparable: bool = True  # the papers' numbers measure what ours measures (env, horizon, protocol)
    claims: tuple[Claim, ...] = ()


# ------------------------------------------------------------------------------------------ MBPO family
# MuJoCo differences every MBPO-family run carries (MBPO, TOM, MnM compare with curves made on gym v2).
MBPO_ENV_DEVIATIONS: tuple[Deviation, ...] = (
    Deviation(
        "gymnasium v5 env on MuJoCo 3.3 instead of gym v2 on MuJoCo 1.50 (v5: healthy reward only while healthy)"
    ),
    Deviation(
        "Walker2d-v5 fixes the left-foot friction: dynamics differ from v2", lambda t, c: t.startswith("walker2d")
    ),
    Deviation(
        "truncated obs via v5 include_* flags; v5 reward (Ant-v5 contact cost on), predicted by the model",
        lambda t, c: t.startswith(("ant", "humanoid")),
    ),
    Deviation(
        "termination checks |obs[1:]| < 100 on both sides (official checks only the upper bound)",
        lambda t, c: t.startswith("hopper"),
    ),
)

# Per-task settings of the official configs (jannerm/mbpo@ac694ff ``examples/config/<env>/0.py``) over the
# Hopper defaults of ``MBPOConfig``.
MBPO_PRESETS: dict[str, dict[str, Any]] = {
    "hopper": {"target_entropy": -1.0},
    "walker2d": {"rollout_schedule": (20, 150, 1, 1), "target_entropy": -3.0},
    "halfcheetah": {"rollout_schedule": (20, 150, 1, 1), "target_entropy": -3.0, "n_train_repeat": 40},
    "ant": {"rollout_schedule": (20, 100, 1, 25), "target_entropy": -4.0},
    # Max length 25 since 7ffb5e4 (2020-04-06, "updated humanoid config"; 20 at the older 5cbe2fa); mbrl-lib: 25.
    "humanoid": {
        "rollout_schedule": (20, 300, 1, 25),
        "target_entropy": -2.0,
        "model_train_freq": 1000,
        "model_retain_epochs": 5,
        "model_hidden": 400,
    },
    # 500 initial steps: since c87eaaf the per-env config overrides base.py's 5000 (base.py:129-137).
    "inverted_pendulum": {
        "epoch_length": 250,
        "n_train_repeat": 10,
        "rollout_schedule": (1, 15, 1, 1),
        "target_entropy": -0.05,
        "n_initial_exploration_steps": 500,
    },
}
# Budgets count every real step, exploration included. inverted_pendulum: 80 epochs x 250 steps after the 500
# exploration steps (examples/config/inverted_pendulum/0.py:11-12, 34; exploration runs before the epoch loop,
# mbpo/algorithms/mbpo.py:185-199, softlearning/algorithms/rl_algorithm.py:81-91, at ac694ff).
MBPO_ENV_STEPS: dict[str, int] = {
    "hopper": 125_000,
    "walker2d": 300_000,
    "halfcheetah": 400_000,
    "ant": 300_000,
    "humanoid": 300_000,
    "inverted_pendulum": 20_500,
}

# [repo n_itr=100]: 5,000 random steps + 99 x 4,000 on the horizon-200 tasks (n_timesteps, the nominal count);
# the same budget on the standard tasks (no Humanoid in the MB-MPO paper).
MBMPO_ENV_STEPS = {t: 401_000 for b in ("halfcheetah", "hopper", "walker2d", "ant") for t in (b, f"{b}_h200")}

ENTRIES: tuple[Entry, ...] = (
    Entry(
        "mbpo",
        "MBPO",
        "Model-Based Policy Optimization (Janner et al. 2019)",
        "jannerm/mbpo@ac694ff examples/config/<env>/0.py + examples/development/base.py",
        presets=MBPO_PRESETS,
        paper_env_steps=MBPO_ENV_STEPS,
        claims=(Claim("MBPO", "MBPO learns faster than model-free SAC", "mbpo", "sac"),),
    ),
    Entry(
        "sac",
        "model-free",
        "Soft actor-critic, model-free baseline of the MBPO paper",
        "Haarnoja et al. 2018 (arXiv 1812.05905) via softlearning defaults, as the MBPO paper compares",
        # Same exploration as MBPO's inverted_pendulum preset, so the two differ only in the model.
        presets={"inverted_pendulum": {"n_initial_exploration_steps": 500}},
        # the MBPO paper's SAC curves run past MBPO's budgets: MBPO's, so both sides meet in one suite
        paper_env_steps=MBPO_ENV_STEPS,
    ),
    Entry(
        "tom",
        "MBPO",
        "Transition occupancy matching: MBPO with a policy-weighted model fit (Ma et al. 2023)",
        "kausiksivakumar/TOM@4d196c3 mbpo.py, smodice_pytorch.py, discriminator_pytorch.py, mdn.py",
        # Official: one setting for all tasks except Humanoid's wider model. InvertedPendulum is not in the
        # paper; it starts learning after 500 steps like MBPO's pendulum config, so CPU runs learn quickly.
        presets={
            "humanoid": {"model_hidden": 400},
            "inverted_pendulum": {"n_initial_exploration_steps": 500, "epoch_length": 250},
        },
        # Official: 125 (hopper) or 300 epochs of 1,000 steps after 5,000 exploration steps (TOM's mbpo.py:140,
        # 149-152, 267-274, 396-410); our env_steps count the exploration too: 130k and 305k real steps.
        paper_env_steps={
            "hopper": 130_000,
            "walker2d": 305_000,
            "halfcheetah": 305_000,
            "ant": 305_000,
            "humanoid": 305_000,
        },
        claims=(
            Claim("TOM", "TOM's policy-aware weights beat the same model trained uniformly", "tom", "tom_uniform"),
        ),
    ),
    Entry(
        "tom_uniform",
        "MBPO",
        "TOM's MBPO baseline: the same model, schedule and rollouts with uniform weights [repo --method mbpo]",
        base="tom",
        overrides={"weighting": "uniform"},
    ),
    Entry(
        "mnm",
        "MBPO",
        "Mismatched No More: classifier-augmented reward and model value step on MBPO (Eysenbach et al. 2022)",
        "arXiv 2110.02758 (abstract) + ben-eysenbach/mnm experiments.ipynb (tabular bound); deep-RL code not "
        "public: interpretation on the MBPO core (jannerm/mbpo@5cbe2fa settings)",
        presets=MBPO_PRESETS,
        paper_env_steps=MBPO_ENV_STEPS,
        claims=(Claim("MnM", "MnM is competitive with MBPO", "mnm", "mbpo", "competitive"),),
    ),
    Entry(
        "mbmpo",
        "MB-MPO",
        "Model-based meta-policy optimization: TRPO through a MAML step over a model ensemble (Clavera et al. 2018)",
        "jonasrothfuss/model_ensemble_meta_learning experiments/run_scripts/mf_comparison/mb_mpo_train.py",
        paper_env_steps=MBMPO_ENV_STEPS,
        # the paper plots PrePolicy-AverageReturn (plots/comparison_mf.py:128-130)
        paper_metric="mbmpo/pre_update_return",
        metric_note="MB-MPO: the stochastic pre-update policy's mean episode return, official "
        "`PrePolicy-AverageReturn`",
        # its numbers come from rllab 200-step envs or third-party 1000-step reruns
        comparable=False,
        claims=(
            Claim("MB-MPO", "MB-MPO is more sample-efficient than model-free TRPO", "mbmpo", "trpo"),
            Claim("MB-MPO", "MB-MPO is more sample-efficient than model-free PPO", "mbmpo", "ppo"),
        ),
    ),
    Entry(
        "me_trpo",
        "MB-MPO",
        "ME-TRPO (Kurutach et al. 2018): the same ensemble and loop, TRPO on imagined data, no meta step",
        base="mbmpo",
        overrides={"meta_learning": False},
    ),
    Entry(
        "trpo",
        "model-free",
        "Model-free TRPO with MB-MPO's policy class (the MB-MPO paper's baseline)",
        "rllab TRPO / PPO (Schulman et al. 2015, 2017), as compared in MB-MPO's mf_comparison",
        paper_env_steps=MBMPO_ENV_STEPS,
        paper_metric="train_return",  # rllab's AverageReturn: the stochastic policy's episodes of each iteration
    ),
    Entry(
        "ppo", "model-free", "Model-free PPO with MB-MPO's policy class", base="trpo", overrides={"optimizer": "ppo"}
    ),
    Entry(
        "mg",
        "MG",
        "Model Gradient: model trained to match real policy gradients, PPO/TRPO backbone (Jia et al. 2024)",
        "doi 10.1007/s11704-023-3150-5 (abstract only; no public code): interpretation; L2 form from PAML "
        "(arXiv 2003.00030); PPO settings from openai/baselines ppo2 defaults.mujoco()",
        # InvertedPendulum (our CPU check, not in any paper): smaller batches and a smaller model, so a CPU run
        # learns in minutes; the real batch divides the suites' eval intervals.
        presets={
            "inverted_pendulum": {
                "batch_steps": 1000,
                "model_hidden": 64,
                "model_layers": 2,
                "model_rollouts": 128,
                "policy_rollouts": 256,
                "ppo_minibatches": 16,
            },
        },
        # The MG paper's budgets are unknown; MBPO's budgets for the same tasks keep the suites comparable.
        paper_env_steps={k: v for k, v in MBPO_ENV_STEPS.items() if k != "inverted_pendulum"},
        claims=(Claim("MG", "MG beats the same policy-gradient backbone with an MLE model", "mg", "mg_mle"),),
    ),
    Entry(
        "mg_mle",
        "MG",
        "MG's baseline: the same loop and PPO backbone with a maximum-likelihood model (paper: 'traditional MBRL')",
        base="mg",
        overrides={"model_objective": "mle"},
    ),
)

CATALOG: dict[str, Entry] = {entry.name: entry for entry in ENTRIES}
ORDER: tuple[str, ...] = tuple(CATALOG)  # the report's order and colours
ALGORITHM_NAMES: tuple[str, ...] = tuple(e.name for e in ENTRIES if e.base is None)
VARIANT_NAMES: tuple[str, ...] = tuple(e.name for e in ENTRIES if e.base is not None)
CLAIMS: tuple[Claim, ...] = tuple(claim for entry in ENTRIES for claim in entry.claims)


def base_of(name: str) -> Entry | None:
    """The entry whose code a run of ``name`` runs (its own for an algorithm, its base's for a variant)."""
    entry = CATALOG.get(name)
    if entry is None:
        return None
    return CATALOG[entry.base] if entry.base else entry


def comparable(algorithm: str) -> bool:
    """Whether the papers' numbers for ``algorithm`` (or its base) measure what our runs measure."""
    entry = base_of(algorithm)
    return entry.comparable if entry is not None else True


def metric_note(algorithm: str) -> str:
    """What an algorithm's paper metric is, where it is not the deterministic evaluation ("" otherwise)."""
    entry = base_of(algorithm)
    return entry.metric_note if entry is not None else ""
