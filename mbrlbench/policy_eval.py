"""``mbrlbench eval``: evaluate, and film, the policies that runs saved (``policy.pt``), without their training
state. The task comes from the policy file, so a run folder copied off a cluster is enough."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mbrlbench.components.saved_policy import LoadedPolicy, load_policy
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


def evaluate_policy(
    run_dir: Path, episodes: int, seed: int, deterministic: bool = True, device: str = "cpu"
) -> PolicyEval:
    """``episodes`` episodes of the run's saved policy, env reset seeds ``seed, seed + 1, ...`` (the run's
    own evaluation used ``runner.evaluate.run_base_seed(run seed) + index * episodes``); stochastic actions
    draw from torch's generator seeded with ``seed``. Writes eval.csv beside the policy."""
    policy = load_policy(run_dir / POLICY, device)
    task = TaskSpec(**policy.meta["task"])
    torch.manual_seed(seed)
    evaluator = Evaluator(task, episodes, seed)
    try:
        played = evaluator.episodes(lambda obs: policy.act(obs, deterministic), 0)
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
            "reset_seed": evaluator.reset_seeds(0),
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


def write_video(frames: list, path: Path, fps: int) -> Path:
    try:
        import imageio.v2 as imageio
    except ImportError:
        raise UserInputError(VIDEO_MISSING) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gif":
        imageio.mimsave(path, frames, duration=1000 / fps, loop=0)
    else:
        try:
            imageio.mimsave(path, frames, fps=fps, macro_block_size=1)
        except (ImportError, ValueError, RuntimeError) as err:
            raise UserInputError(f"{VIDEO_MISSING} ({err})") from None
    return path


def film_clip(run_dir: Path, path: Path) -> Path:
    """The report's short clip: the first deterministic episode from reset seed 0, at most 300 frames."""
    return film(run_dir, path, seed=0, deterministic=True, max_frames=300)


def film(run_dir: Path, path: Path, seed: int, deterministic: bool, max_frames: int) -> Path:
    """The run's policy playing its first evaluation episode (reset seed ``seed``), as MP4 or GIF."""
    policy = load_policy(run_dir / POLICY)
    task = TaskSpec(**policy.meta["task"])
    torch.manual_seed(seed)
    frames, fps = render_episode(policy, task, seed, deterministic, max_frames)
    return write_video(frames, path, fps)
