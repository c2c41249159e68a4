"""What every algorithm shares: the config base, the training-env wrapper with exact save/restore, and the
protocol the runner relies on (see docs/design.md)."""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

import gymnasium as gym
import mujoco
import numpy as np
import torch

from mbrlbench.algorithms.catalog import Deviation, render_deviations
from mbrlbench.components.config import AlgorithmConfig
from mbrlbench.components.policies.saved_policy import PolicySpec
from mbrlbench.tasks import TaskSpec

__all__ = [
    "Algorithm",
    "AlgorithmConfig",
    "AlgorithmSpec",
    "Deviation",
    "Fidelity",
    "TrainControl",
    "TrainingEnv",
    "render_deviations",
    "rng_state",
    "seed_everything",
    "set_rng_state",
    "space_dims",
]


def _time_limit(env: gym.Env) -> gym.wrappers.TimeLimit:
    while not isinstance(env, gym.wrappers.TimeLimit):
        env = env.env  # type: ignore[attr-defined]
    return env


class TrainingEnv:
    """The algorithm's real env: tracks the current observation and episode, and saves/restores the
    simulator exactly (``mj_getState(mjSTATE_INTEGRATION)``, the TimeLimit counter, every RNG)."""

    def __init__(self, env: gym.Env, seed: int) -> None:
        self.env = env
        self.obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        self.episode_return, self.episode_length = 0.0, 0
        self.finished_returns: list[float] = []

    def step(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float, bool]:
        """Steps the env, resets at episode end; returns (obs, next_obs, reward, terminated, ended), ``ended``
        true when the episode ended here (terminated or truncated) and ``obs`` is now a fresh episode's."""
        obs = self.obs
        next_obs, reward, terminated, truncated, _ = self.env.step(action)
        self.episode_return += float(reward)
        self.episode_length += 1
        if terminated or truncated:
            self.finished_returns.append(self.episode_return)
            self.obs, _ = self.env.reset()
            self.episode_return, self.episode_length = 0.0, 0
        else:
            self.obs = next_obs
        return obs, next_obs, float(reward), float(terminated), bool(terminated or truncated)

    @property
    def at_episode_start(self) -> bool:
        return self.episode_length == 0

    def pop_train_return(self) -> float:
        """Mean return of the training episodes finished since the last call (NaN if none)."""
        value = float(np.mean(self.finished_returns)) if self.finished_returns else float("nan")
        self.finished_returns = []
        return value

    def state_dict(self) -> dict[str, Any]:
        u: Any = self.env.unwrapped  # a MuJoCo env (model, data) or point_mass (get/set_sim_state)
        if hasattr(u, "get_sim_state"):  # a simulator of ours without MuJoCo (point_mass): its own exact state
            sim = {"sim_state": u.get_sim_state()}
        else:
            spec = mujoco.mjtState.mjSTATE_INTEGRATION
            state = np.empty(mujoco.mj_stateSize(u.model, spec))
            mujoco.mj_getState(u.model, u.data, state, spec)
            sim = {"mj_state": state}
        return {
            **sim,
            "elapsed_steps": _time_limit(self.env)._elapsed_steps,
            "env_rng": u.np_random.bit_generator.state,
            "action_space_rng": self.env.action_space.np_random.bit_generator.state,
            "obs": self.obs.copy(),
            "episode_return": self.episode_return,
            "episode_length": self.episode_length,
            "finished_returns": list(self.finished_returns),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        u: Any = self.env.unwrapped
        if "sim_state" in state:
            u.set_sim_state(state["sim_state"])
        else:
            mujoco.mj_setState(u.model, u.data, state["mj_state"], mujoco.mjtState.mjSTATE_INTEGRATION)
        _time_limit(self.env)._elapsed_steps = state["elapsed_steps"]
        u.np_random.bit_generator.state = state["env_rng"]
        self.env.action_space.np_random.bit_generator.state = state["action_space_rng"]
        self.obs = state["obs"]
        self.episode_return, self.episode_length = state["episode_return"], state["episode_length"]
        self.finished_returns = list(state["finished_returns"])


def space_dims(env: gym.Env) -> tuple[int, int]:
    """(observation dim, action dim) of a flat-box env."""
    obs_shape, act_shape = env.observation_space.shape, env.action_space.shape
    assert obs_shape is not None and act_shape is not None
    return int(obs_shape[0]), int(act_shape[0])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@dataclass
class Episode:
    """One evaluation episode: ``obs[t]``, ``actions[t]``, ``rewards[t]``, ``next_obs[t]`` for t < T, whether
    it ended by termination (else by the time limit), and its return summed step by step in float64."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    terminated: bool
    ret: float


class TrainControl(Protocol):
    """What the runner hands to ``Algorithm.train``: asked at every env step (a safe point)."""

    def at_safe_point(self) -> bool:
        """Called at every env step: the runner may report progress; True = return from ``train`` now, so
        the runner can checkpoint (or stop)."""
        ...


Fidelity = Literal["official-code", "paper-text", "interpretation", "external"]  # external: a plugin's own code


class Algorithm:
    """The runner's view of an algorithm, and the shell every algorithm shares.

    The base sets up the real env (``TrainingEnv``, ``obs_dim``/``act_dim``), acts (``act`` over the
    subclass's ``policy_action``), keeps ``diagnostics`` (initialised from ``diagnostic_keys``: NaN, or 0 for
    ``counter_keys``), and owns the early-return rule: ``train(until, control)`` runs the subclass's
    ``_train(until)``, which loops ``while self.running(until)``; it returns the diagnostics since the last
    call, or ``{}`` when it stopped early for a checkpoint (diagnostics then keep accumulating).

    Checkpoints are declared, not written: ``checkpoint_attrs`` names the stateful attributes (dotted paths
    allowed, e.g. ``model.optimizer``). ``state_dict`` saves ``env_steps``, ``diagnostics``, the env (when
    there is one) and each declared attribute in that order (objects with ``state_dict`` through it, plain
    values copied), then the RNGs; ``load_state_dict`` restores them in the same order and the RNGs last,
    so anything a subclass builds while loading (``prepare_load``) cannot shift the random draws.
    """

    fidelity: ClassVar[Fidelity]
    counter_keys: ClassVar[tuple[str, ...]] = ()  # diagnostics that count (start at 0, not NaN)
    checkpoint_attrs: ClassVar[tuple[str, ...]] = ()
    uses_training_env: ClassVar[bool] = True  # False: the subclass runs its own envs (MB-MPO)
    env: TrainingEnv

    def __init__(self, config: Any, task: TaskSpec, device: torch.device, seed: int) -> None:
        self.config, self.task, self.device, self.seed = config, task, device, seed
        if self.uses_training_env:
            self.env = TrainingEnv(task.make_env(), seed)
            self.obs_dim, self.act_dim = space_dims(self.env.env)
        self.env_steps = 0
        self.diagnostics: dict[str, float] = {k: float("nan") for k in self.diagnostic_keys}
        self.diagnostics.update({k: 0.0 for k in self.counter_keys})
        self._control: TrainControl | None = None

    # ------------------------------------------------------------------ the runner's protocol
    @classmethod
    def diagnostic_keys_for(cls, config: Any) -> tuple[str, ...]:
        """The progress.csv columns of a run with ``config`` (some depend on it: TOM, MG)."""
        raise NotImplementedError

    @property
    def diagnostic_keys(self) -> tuple[str, ...]:
        return self.diagnostic_keys_for(self.config)

    def train(self, until: int, control: TrainControl | None = None) -> dict[str, float]:
        """Train until ``env_steps >= until`` (iteration-based learners may overshoot) or until ``control``
        asks to stop; returns the diagnostics since the last call, ``{}`` when stopped early."""
        self._control = control
        try:
            self._train(until)
        finally:
            self._control = None
        if self.env_steps < until:
            return {}  # stopped early for a checkpoint: diagnostics keep accumulating
        return self.pop_diagnostics()

    def _train(self, until: int) -> None:
        raise NotImplementedError

    def stop_requested(self) -> bool:
        """The control of the current ``train`` call wants it to return now (never without a control)."""
        return self._control is not None and self._control.at_safe_point()

    def running(self, until: int) -> bool:
        """The training loop's condition: steps left and no stop requested (asked in this order)."""
        return self.env_steps < until and not self.stop_requested()

    def pop_diagnostics(self) -> dict[str, float]:
        """The diagnostics ``train`` returns when it reaches ``until``."""
        return dict(self.diagnostics)

    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        obs_t = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        return self.policy_action(obs_t, deterministic).cpu().numpy()

    def policy_action(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        """The policy's env actions for a batch of observations."""
        raise NotImplementedError

    def pop_train_return(self) -> float:
        """Mean return of the training episodes finished since the last call (NaN if none)."""
        return self.env.pop_train_return()

    def policy_spec(self) -> PolicySpec:
        """The acting policy alone (``policy.pt``): its kind, constructor arguments and module."""
        raise NotImplementedError

    # ------------------------------------------------------------------ evaluation diagnostics
    @classmethod
    def evaluation_keys_for(cls, config: Any) -> tuple[str, ...]:
        """progress.csv columns computed from the runner's evaluation episodes (model k-step errors, critic
        bias); they follow the training diagnostics. Default: none."""
        return ()

    @property
    def evaluation_keys(self) -> tuple[str, ...]:
        return self.evaluation_keys_for(self.config)

    def evaluation_diagnostics(self, episodes: list[Episode]) -> dict[str, float]:
        """Scores of the learned model and critic on the evaluation episodes: fresh, on-policy, never trained
        on. Must not draw from the training RNGs (a resumed run must compute the same)."""
        return {}

    @classmethod
    def checkpoint_rows(cls, config: Any, env_steps: int) -> int:
        """Transitions held in buffers at the end of an ``env_steps`` run: what makes a checkpoint large (the
        networks are small beside them); ``validate`` estimates disk use from it. Default: none."""
        return 0

    # ------------------------------------------------------------------ checkpoints
    def _state_names(self) -> tuple[str, ...]:
        return ("env_steps", "diagnostics", *(("env",) if self.uses_training_env else ()), *self.checkpoint_attrs)

    def state_dict(self) -> dict[str, Any]:
        state = {name: _save(_get(self, name)) for name in self._state_names()}
        state["rng"] = rng_state()
        return state

    def prepare_load(self, state: dict[str, Any]) -> None:
        """Build whatever the checkpoint holds but a fresh instance lacks (before anything is loaded)."""

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.prepare_load(state)
        for name in self._state_names():
            target, value = _get(self, name), state[name]
            if value is not None and callable(getattr(target, "load_state_dict", None)):
                target.load_state_dict(value)
            else:
                owner, _, attr = name.rpartition(".")
                setattr(_get(self, owner) if owner else self, attr, copy.deepcopy(value))
        set_rng_state(state["rng"])  # last: building or loading anything above may have drawn from it


def _get(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _save(value: Any) -> Any:
    if callable(getattr(value, "state_dict", None)):
        return value.state_dict()
    return copy.deepcopy(value)


@dataclass(frozen=True)
class AlgorithmSpec:
    """What an algorithm module gives the registry: its class, its config model and how its runs differ from
    the paper's setting (the facts about the algorithm live in ``catalog.py``)."""

    algorithm: type[Algorithm]
    config: type[AlgorithmConfig]
    deviations: tuple[Deviation, ...] = ()
