"""``mbrlbench eval``: evaluate, and film, the policies that runs saved (``policy.pt``), without their training
state. The task comes from the policy file, so a run folder copied off a cluster is enough."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import pandas as pd
import torch

from mbrlbench.components.policies.saved_policy import LoadedPolicy, PolicyError, load_policy
from mbrlbench.errors import UserInputError
from mbrlbench.rundir import EVAL_CSV, POLICY, atomic_write_text, discover_runs
from mbrlbench.runner.evaluate import Evaluator
from mbrlbench.tasks import TaskSpec

VIDEO_MISSING = "videos need imageio and ffmpeg: pip install 'mbrlbench[video]'"
GL_MISSING = (
    "no OpenGL backend renders MuJoCo here: install OSMesa (Debian/Ubuntu: apt install libosmesa6) or a GPU "
    "driver with EGL, or set MUJOCO_GL to one that works (egl, osmesa, glfw)"
)


@dataclass
class PolicyEval:
    run_dir: Path
    task: str
    algorithm: str
    seed: int
    env_step: int
    returns: np.ndarray
    lengths: np.ndarray
    video: Path | None = None


def policy_runs(path: Path) -> list[Path]:
    """Run folders under ``path`` (or ``path`` itself) that hold, or should hold, a policy."""
    path = Path(path)
    if (path / POLICY).exists():
        return [path]
    return discover_runs(path)


EVAL_BATCH = 32  # environments stepped at once: memory stays flat however many episodes are asked for


def policy_task(policy: LoadedPolicy, path: Path) -> TaskSpec:
    """The task a saved policy names, checked as data: a gymnasium id already registered (an id of the form
    ``module:Env`` would import a module the file chose) and the fields of ``TaskSpec`` only."""
    task = policy.meta.get("task")
    if not isinstance(task, dict) or not isinstance(task.get("env_id"), str) or not isinstance(task.get("name"), str):
        raise PolicyError(f"{path}: corrupt policy (meta.task must be a mapping with a name and an env_id)")
    env_id = task["env_id"]
    if ":" in env_id or env_id not in gym.registry:
        raise PolicyError(f"{path}: the policy's env id {env_id!r:.60} is not a registered gymnasium env")
    unknown = sorted(set(task) - set(TaskSpec.__dataclass_fields__))
    if unknown:
        raise PolicyError(f"{path}: corrupt policy (meta.task has unknown fields {', '.join(unknown)})")
    try:
        return TaskSpec(**task)
    except TypeError as err:
        raise PolicyError(f"{path}: corrupt policy (meta.task: {err})") from None


def _check_shapes(policy: LoadedPolicy, task: TaskSpec, path: Path) -> None:
    """The env the policy names must give the observation size its network takes and take the action size
    it gives (a policy trained on another task, or a task whose env_kwargs change the observation)."""
    try:
        env = task.make_env()
    except Exception as err:  # bad env_kwargs: MuJoCo raises TypeError, ValueError, ...
        raise PolicyError(
            f"{path}: cannot make {task.env_id} ({type(err).__name__}: {str(err).splitlines()[0]})"
        ) from None
    try:
        obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]  # type: ignore[index]
    finally:
        env.close()
    linears = [m for m in policy.module.modules() if isinstance(m, torch.nn.Linear)]
    if linears and linears[0].in_features != obs_dim:
        raise PolicyError(
            f"{path}: the policy takes {linears[0].in_features} observation values; {task.env_id} gives {obs_dim}"
        )
    sample = policy.act(np.zeros((1, obs_dim)), True)
    if sample.shape[-1] != act_dim:
        raise PolicyError(f"{path}: the policy gives {sample.shape[-1]} action values; {task.env_id} takes {act_dim}")


def _finite_act(policy: LoadedPolicy, deterministic: bool, path: Path):
    def act(obs: np.ndarray) -> np.ndarray:
        action = policy.act(obs, deterministic)
        if not np.all(np.isfinite(action)):
            raise PolicyError(f"{path}: the policy gave a NaN or infinite action; its returns would mean nothing")
        return action

    return act


def evaluate_policy(
    run_dir: Path, episodes: int, seed: int, deterministic: bool = True, device: str = "cpu"
) -> PolicyEval:
    """``episodes`` episodes of the run's saved policy, env reset seeds ``seed, seed + 1, ...`` (the run's
    own evaluation used ``runner.evaluate.run_base_seed(run seed) + index * episodes``), ``EVAL_BATCH`` envs
    at a time; stochastic actions draw from torch's generator seeded with ``seed``. Writes eval.csv beside
    the policy. ``PolicyError`` naming the file for a policy that cannot be evaluated."""
    path = run_dir / POLICY
    policy = load_policy(path, device)
    task = policy_task(policy, path)
    _check_shapes(policy, task, path)
    torch.manual_seed(seed)
    act = _finite_act(policy, deterministic, path)
    played, seeds = [], []
    for start in range(0, episodes, EVAL_BATCH):
        evaluator = Evaluator(task, min(EVAL_BATCH, episodes - start), seed + start)
        try:
            played += evaluator.episodes(act, 0)
            seeds += evaluator.reset_seeds(0)
        finally:
            evaluator.close()
    result = PolicyEval(
        run_dir,
        task.name,
        str(policy.meta.get("variant", policy.meta.get("algorithm", "?"))),
        int(policy.meta.get("seed", -1)),
        int(policy.meta.get("env_step", -1)),
        np.array([e.ret for e in played]),
        np.array([len(e.rewards) for e in played]),
    )
    table = pd.DataFrame(
        {
            "episode": range(episodes),
            "reset_seed": seeds,
            "return": result.returns,
            "length": result.lengths,
            "deterministic": deterministic,
            "policy_env_step": result.env_step,
        }
    )
    atomic_write_text(run_dir / EVAL_CSV, table.to_csv(index=False))
    return result


# ------------------------------------------------------------------------------------------ video
def ensure_gl_backend() -> str:
    """The MuJoCo OpenGL backend to render with: MUJOCO_GL if set, else the first of egl and osmesa that
    renders a frame in a probe process (a failed backend can leave a process unable to try another)."""
    if os.environ.get("MUJOCO_GL"):
        return os.environ["MUJOCO_GL"]
    probe = (
        "import gymnasium as gym; e = gym.make('InvertedPendulum-v5', render_mode='rgb_array', width=32, "
        "height=24); e.reset(seed=0); assert e.render().std() > 0"
    )
    for backend in ("egl", "osmesa"):
        env = {**os.environ, "MUJOCO_GL": backend, "PYOPENGL_PLATFORM": backend}
        done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, timeout=120)
        if done.returncode == 0:
            os.environ["MUJOCO_GL"] = os.environ["PYOPENGL_PLATFORM"] = backend
            return backend
    raise UserInputError(GL_MISSING)


def render_episode(
    policy: LoadedPolicy, task: TaskSpec, seed: int, deterministic: bool, max_frames: int
) -> tuple[list, int]:
    """RGB frames of one episode (reset seed ``seed``): one per env step, at most ``max_frames``; and the
    env's frame rate (MuJoCo envs set it from their control step when made)."""
    env = task.make_env(render_mode="rgb_array")
    try:
        fps = int(env.metadata.get("render_fps") or 30)
        obs, _ = env.reset(seed=seed)
        frames: list = []
        while len(frames) < max_frames:
            action = policy.act(np.asarray(obs)[None], deterministic)[0]
            obs, _, terminated, truncated, _ = env.step(action)
            frames.append(env.render())
            if terminated or truncated:
                break
    finally:
        env.close()
    return frames, fps


def video_missing() -> str | None:
    """What to install for videos, or None (checked before anything is evaluated)."""
    import importlib.util

    return None if importlib.util.find_spec("imageio") is not None else VIDEO_MISSING


def write_video(frames: list, path: Path, fps: int) -> Path:
    try:
        import imageio.v2 as imageio
    except ImportError:
        raise UserInputError(VIDEO_MISSING) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")  # whole or absent: written aside, then renamed
    try:
        if path.suffix == ".gif":
            imageio.mimsave(tmp, frames, duration=1000 / fps, loop=0)
        else:
            try:
                imageio.mimsave(tmp, frames, fps=fps, macro_block_size=1)
            except (ImportError, ValueError, RuntimeError) as err:
                raise UserInputError(f"{VIDEO_MISSING} ({err})") from None
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def film_clip(run_dir: Path, path: Path) -> Path:
    """The report's short clip: the first deterministic episode from reset seed 0, at most 300 frames."""
    return film(run_dir, path, seed=0, deterministic=True, max_frames=300)


def film(run_dir: Path, path: Path, seed: int, deterministic: bool, max_frames: int) -> Path:
    """The run's policy playing its first evaluation episode (reset seed ``seed``), as MP4 or GIF."""
    policy = load_policy(run_dir / POLICY)
    task = policy_task(policy, run_dir / POLICY)
    _check_shapes(policy, task, run_dir / POLICY)
    torch.manual_seed(seed)
    frames, fps = render_episode(policy, task, seed, deterministic, max_frames)
    return write_video(frames, path, fps)
