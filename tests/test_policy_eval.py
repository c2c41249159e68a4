"""``policy.pt`` and ``mbrlbench eval``: the saved policy alone acts as the run did, bad policy files are one
line each while the others are evaluated, and a video holds one non-blank frame per env step."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from mbrlbench.components.policies.sac import TanhGaussianActor
from mbrlbench.components.policies.saved_policy import PolicySpec, load_policy
from mbrlbench.rundir import EVAL_CSV, POLICY
from mbrlbench.runner.lifecycle import run_one
from mbrlbench.runner.policy_eval import ensure_gl_backend, render_episode
from mbrlbench.suite import load_suite
from mbrlbench.tasks import TASKS


@pytest.fixture(scope="module")
def sac_run(tmp_path_factory):
    """The micro suite's SAC run, completed (its checkpoint deleted, its policy kept)."""
    from helpers import MICRO_SUITE

    root = tmp_path_factory.mktemp("eval")
    (root / "suite.yaml").write_text(MICRO_SUITE)
    (spec,) = [r for r in load_suite(root / "suite.yaml").runs if r.variant == "sac"]
    assert run_one(spec, root / "out", threads_per_run=1) == "completed"
    return spec, spec.run_dir(root / "out")


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mbrlbench.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **env},
    )


def test_completed_run_keeps_a_small_policy(sac_run):
    spec, run_dir = sac_run
    assert not (run_dir / "checkpoint.pt").exists() and (run_dir / POLICY).exists()
    policy = load_policy(run_dir / POLICY)
    assert policy.meta["env_step"] == spec.env_steps and policy.meta["task"]["name"] == "inverted_pendulum"
    # the paper's SAC actor (256 x 2) on humanoid's 45-dim observations: well under 2 MB
    actor = TanhGaussianActor(45, 17, 256, 2, -0.4, 0.4, False)
    spec_big = PolicySpec(
        "tanh_gaussian",
        {
            "obs_dim": 45,
            "act_dim": 17,
            "hidden": 256,
            "layers": 2,
            "low": -0.4,
            "high": 0.4,
            "env_unit_log_prob": False,
        },
        actor,
    )
    path = run_dir.parent / "big.pt"
    torch.save(spec_big.payload({}), path)
    assert path.stat().st_size < 2e6
    obs = np.random.default_rng(0).normal(size=(5, 45))
    np.testing.assert_array_equal(
        load_policy(path).act(obs), actor(torch.as_tensor(obs, dtype=torch.float32), True)[0].detach().numpy()
    )


def test_eval_cli_table_csv_and_bad_policies(sac_run, tmp_path):
    _spec, run_dir = sac_run
    proc = _cli("eval", str(run_dir), "--episodes", "3", "--seed", "5")
    assert proc.returncode == 0, proc.stderr
    assert "inverted_pendulum" in proc.stdout and "sac" in proc.stdout
    csv = (run_dir / EVAL_CSV).read_text().splitlines()
    assert csv[0] == "episode,reset_seed,return,length,deterministic,policy_env_step" and len(csv) == 4
    assert csv[1].startswith("0,5,")
    # a folder with a good run, a run without policy and one with a corrupt policy
    good = tmp_path / "s" / "inverted_pendulum" / "sac" / "seed7"
    good.mkdir(parents=True)
    (good / POLICY).write_bytes((run_dir / POLICY).read_bytes())
    for name, content in (("seed8", None), ("seed9", b"not a policy")):
        bad = good.parent / name
        bad.mkdir()
        (bad / "status.json").write_text('{"state": "completed"}')
        if content is not None:
            (bad / POLICY).write_bytes(content)
    proc = _cli("eval", str(tmp_path), "--episodes", "1")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 2 and any("seed8" in e and "no policy.pt" in e for e in errors), errors
    assert any("seed9" in e and "unreadable policy" in e for e in errors), errors
    assert (good / EVAL_CSV).exists()  # the good one was still evaluated


def _gl_or_skip() -> None:
    pytest.importorskip("imageio")
    try:
        ensure_gl_backend()
    except ValueError as err:
        pytest.skip(str(err))


def test_video_has_one_nonblank_frame_per_step(sac_run, tmp_path):
    _gl_or_skip()
    import imageio.v2 as imageio

    _spec, run_dir = sac_run
    policy = load_policy(run_dir / POLICY)
    frames, fps = render_episode(policy, TASKS["inverted_pendulum"], seed=3, deterministic=True, max_frames=1000)
    env = TASKS["inverted_pendulum"].make_env()
    assert fps == round(1 / env.unwrapped.dt)  # MuJoCo's frame rate: one frame per control step
    obs, _ = env.reset(seed=3)
    length, ended = 0, False
    while not ended:  # the same episode without rendering: as many steps as frames
        obs, _, terminated, truncated, _ = env.step(policy.act(obs[None])[0])
        length, ended = length + 1, terminated or truncated
    assert len(frames) == length
    assert len(render_episode(policy, TASKS["inverted_pendulum"], 3, True, max_frames=2)[0]) == min(2, length)
    video = tmp_path / "clip.mp4"
    proc = _cli("eval", str(run_dir), "--episodes", "1", "--seed", "3", "--video", str(video))
    assert proc.returncode == 0, proc.stderr
    read = imageio.mimread(video)
    assert len(read) == length and read[0].shape == frames[0].shape
    assert all(float(np.asarray(f).std()) > 5 for f in read)  # not blank


def test_report_videos_film_the_best_seed(sac_run, tmp_path):
    _gl_or_skip()
    from mbrlbench.report.build import build_report
    from mbrlbench.runner.policy_eval import film_clip

    _spec, run_dir = sac_run
    result = build_report(run_dir.parents[2], tmp_path / "report", formats=("md",), film=film_clip)
    ((task, algorithm, clip),) = result.videos
    assert (task, algorithm) == ("inverted_pendulum", "sac") and clip.exists() and clip.stat().st_size > 1000
    assert f"videos/{clip.name}" in (tmp_path / "report" / "index.md").read_text()
