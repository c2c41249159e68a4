"""What every algorithm shares: the config base, the training-env wrapper with exact save/restore, and the
protocol the runner relies on (see docs/design.md)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, ClassVar, Literal

import gymnasium as gym
import mujoco
import numpy as np
import torch
from pydantic import BaseModel, ConfigDict

Fidelity = Literal["official-code", "paper-text", "interpretation"]


class AlgorithmConfig(BaseModel):
    """Base of every algorithm's hyperparameters: unknown keys are errors, every field has a doc."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


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

    def step(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
        """Steps the env, resets at episode end; returns (obs, next_obs, reward, terminated)."""
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
        return obs, next_obs, float(reward), float(terminated)

    def pop_train_return(self) -> float:
        """Mean return of the training episodes finished since the last call (NaN if none)."""
        value = float(np.mean(self.finished_returns)) if self.finished_returns else float("nan")
        self.finished_returns = []
        return value

    def state_dict(self) -> dict[str, Any]:
        u = self.env.unwrapped
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
        u = self.env.unwrapped
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


class Algorithm:
    """The runner's view of an algorithm. Subclasses own their training loop and env interaction.

    ``train(until)`` returns when ``env_steps >= until`` or as soon as ``should_stop()`` is true (the runner
    then checkpoints at this safe point); it returns the diagnostics since the last call.
    """

    fidelity: ClassVar[Fidelity]
    diagnostic_keys: ClassVar[tuple[str, ...]]
    env_steps: int
    should_stop: Callable[[], bool] = staticmethod(lambda: False)

    def train(self, until: int) -> dict[str, float]:
        raise NotImplementedError

    def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        raise NotImplementedError

    def pop_train_return(self) -> float:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raise NotImplementedError
