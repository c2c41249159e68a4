"""Task registry: name -> gymnasium v5 env, env kwargs, batched termination function (and ``point_mass``,
a cheap MuJoCo-free test task of ours, ``mbrlbench/tasks/point_mass.py``).

The termination functions decide ``terminated`` on the model's *predicted* observations, so they must agree
with the env's own ``terminated`` on real ones (tests/test_termination.py checks this on real rollouts).
They follow MBPO's ``mbpo/static/*.py`` except where gymnasium v5 differs (noted per function).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import gymnasium as gym
import torch

from mbrlbench.support.plugins import PluginError, import_object, is_import_path
from mbrlbench.tasks import point_mass

point_mass.register()

TerminationFn = Callable[[torch.Tensor], torch.Tensor]
"""Maps predicted next observations ``[..., obs_dim]`` to a bool tensor ``[...]`` (True = terminal)."""


def _finite(obs: torch.Tensor) -> torch.Tensor:
    return torch.isfinite(obs).all(dim=-1)


def hopper_done(obs: torch.Tensor) -> torch.Tensor:
    """Hopper-v5: healthy iff z > 0.7, |angle| < 0.2 and all of obs[1:] in (-100, 100).

    MBPO's code checks only ``obs[1:] < 100`` (a parenthesis slip); v5 checks both bounds, so do we.
    """
    z, angle = obs[..., 0], obs[..., 1]
    healthy = _finite(obs) & (obs[..., 1:].abs() < 100.0).all(dim=-1) & (z > 0.7) & (angle > -0.2) & (angle < 0.2)
    return ~healthy


def walker2d_done(obs: torch.Tensor) -> torch.Tensor:
    """Walker2d-v5: healthy iff 0.8 < z < 2.0 and -1 < angle < 1."""
    z, angle = obs[..., 0], obs[..., 1]
    return ~((z > 0.8) & (z < 2.0) & (angle > -1.0) & (angle < 1.0))


def ant_done(obs: torch.Tensor) -> torch.Tensor:
    """Ant-v5 (27-dim obs, torso z first): healthy iff the state is finite and 0.2 <= z <= 1.0."""
    z = obs[..., 0]
    return ~(_finite(obs) & (z >= 0.2) & (z <= 1.0))


def humanoid_done(obs: torch.Tensor) -> torch.Tensor:
    """Humanoid-v5 (45-dim obs, torso z first): healthy iff 1.0 < z < 2.0."""
    z = obs[..., 0]
    return ~((z > 1.0) & (z < 2.0))


def inverted_pendulum_done(obs: torch.Tensor) -> torch.Tensor:
    """InvertedPendulum-v5: terminal iff |pole angle| > 0.2 or the observation is not finite."""
    return ~_finite(obs) | (obs[..., 1].abs() > 0.2)


def point_mass_done(obs: torch.Tensor) -> torch.Tensor:
    """PointMass (ours): terminal iff the mass left the track, |x| > 1, or the observation is not finite."""
    return ~_finite(obs) | (obs[..., 0].abs() > point_mass.TRACK)


def never_done(obs: torch.Tensor) -> torch.Tensor:
    """HalfCheetah and other tasks without early termination."""
    return torch.zeros(obs.shape[:-1], dtype=torch.bool, device=obs.device)


TERMINATION_FNS: dict[str, TerminationFn] = {
    "hopper": hopper_done,
    "walker2d": walker2d_done,
    "ant": ant_done,
    "humanoid": humanoid_done,
    "inverted_pendulum": inverted_pendulum_done,
    "point_mass": point_mass_done,
    "never": never_done,
}


@dataclass(frozen=True)
class TaskSpec:
    """Everything needed to build a task's env and its model-side termination."""

    name: str
    env_id: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    termination: str = "never"
    max_episode_steps: int | None = None  # None: the env's registered limit (1000 for these tasks)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def termination_fn(self) -> TerminationFn:
        """A registered function by name, or any function by import path (``module:function``)."""
        if self.termination in TERMINATION_FNS or not is_import_path(self.termination):
            return TERMINATION_FNS[self.termination]
        fn = import_object(self.termination)
        if not callable(fn):
            raise PluginError(f"{self.termination} is not a function")
        return fn

    def make_env(self, render_mode: str | None = None) -> gym.Env:
        kwargs = dict(self.env_kwargs)
        if self.max_episode_steps is not None:
            kwargs["max_episode_steps"] = self.max_episode_steps
        if render_mode is not None:
            kwargs["render_mode"] = render_mode
        return gym.make(self.env_id, **kwargs)


# MBPO's AntTruncatedObs / HumanoidTruncatedObs kept qpos[2:] + qvel only (27 and 45 dims).
_ANT_KWARGS = {"include_cfrc_ext_in_observation": False}
_HUMANOID_KWARGS = {
    "include_cinert_in_observation": False,
    "include_cvel_in_observation": False,
    "include_qfrc_actuator_in_observation": False,
    "include_cfrc_ext_in_observation": False,
}

TASKS: dict[str, TaskSpec] = {
    "hopper": TaskSpec("hopper", "Hopper-v5", {}, "hopper"),
    "walker2d": TaskSpec("walker2d", "Walker2d-v5", {}, "walker2d"),
    "halfcheetah": TaskSpec("halfcheetah", "HalfCheetah-v5", {}, "never"),
    "ant": TaskSpec("ant", "Ant-v5", _ANT_KWARGS, "ant"),
    "humanoid": TaskSpec("humanoid", "Humanoid-v5", _HUMANOID_KWARGS, "humanoid"),
    "inverted_pendulum": TaskSpec("inverted_pendulum", "InvertedPendulum-v5", {}, "inverted_pendulum"),
    # The learning tests' cheap task (no MuJoCo; 30-step episodes by its registration).
    "point_mass": TaskSpec("point_mass", point_mass.ENV_ID, {}, "point_mass"),
}
# Horizon-200 variants, as MB-MPO's experiments used (episodes of 200 steps).
for _name in ("hopper", "walker2d", "halfcheetah", "ant"):
    _base = TASKS[_name]
    TASKS[f"{_name}_h200"] = TaskSpec(f"{_name}_h200", _base.env_id, _base.env_kwargs, _base.termination, 200)

TASK_BASE: dict[str, str] = {name: name.removesuffix("_h200") for name in TASKS}
"""The task whose paper presets a task uses (h200 variants share their base task's settings)."""


def termination_disagreement(task: TaskSpec, transitions: int = 100, seed: int = 0) -> str | None:
    """Why ``task``'s termination function is wrong on real random-action transitions, or None: it must map
    a batch ``[N, obs_dim]`` to ``[N]`` booleans equal to the env's own ``terminated`` (a sanity check at
    suite load, not a proof: a function wrong only in states random actions never reach passes)."""
    fn = task.termination_fn
    env = task.make_env()
    try:
        env.reset(seed=seed)
        env.action_space.seed(seed)
        next_obs, terminated = [], []
        for _ in range(transitions):
            obs, _, term, trunc, _ = env.step(env.action_space.sample())
            next_obs.append(torch.as_tensor(obs, dtype=torch.float32))
            terminated.append(bool(term))
            if term or trunc:
                env.reset()
    finally:
        env.close()
    try:
        verdict = fn(torch.stack(next_obs))
    except Exception as err:  # the user's function: report whatever it raises
        return f"termination {task.termination} raises {type(err).__name__}: {err}"
    if not isinstance(verdict, torch.Tensor) or tuple(verdict.shape) != (len(next_obs),):
        shape = tuple(verdict.shape) if isinstance(verdict, torch.Tensor) else type(verdict).__name__
        n = len(next_obs)
        return f"termination {task.termination} maps {n} observations to {shape}, not a [{n}] tensor"
    for i, (said, real) in enumerate(zip(verdict.bool().tolist(), terminated, strict=True)):
        if said != real:
            return (
                f"termination {task.termination} disagrees with {task.env_id}'s own terminated on a real "
                f"transition (random actions, seed {seed}, step {i}: function {said}, env {real})"
            )
    return None


def get_task(name: str) -> TaskSpec:
    try:
        return TASKS[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; allowed: {', '.join(TASKS)}") from None


def action_bounds(env: gym.Env) -> tuple[float, float]:
    """The action box as scalars (every task here has one bound for all dimensions)."""
    space = env.action_space
    assert isinstance(space, gym.spaces.Box), space
    low, high = space.low, space.high
    assert math.isclose(float(low.min()), float(low.max())) and math.isclose(float(high.min()), float(high.max()))
    return float(low.min()), float(high.max())
