"""Algorithms and tasks from outside the package: the example plugin by import path and by entry point, a
custom task with its own env module and termination function, and one-line errors for broken plugins."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from mbrlbench.report.build import build_report
from mbrlbench.runner.launchers.inline import run_suite
from mbrlbench.suite import SuiteError, load_suite
from mbrlbench.support.plugins import registered

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
MICRO = (  # tests/conftest.py MICRO_SUITE's mbpo settings
    "{n_initial_exploration_steps: 100, min_pool_size: 100, epoch_length: 100, model_train_freq: 100,"
    " rollout_batch_size: 100, rollout_schedule: [1, 4, 1, 3], n_train_repeat: 2, ensemble_size: 3,"
    " num_elites: 2, model_hidden: 16, model_layers: 2, model_max_epochs: 3, sac_hidden: 16, batch_size: 32}"
)
QUIET = Console(stderr=True, quiet=True)


def _suite(tmp_path: Path, tasks: str, algorithms: list[tuple[str, str]], steps: int = 300) -> Path:
    """A one-seed suite of ``algorithms`` (run name, algorithm or entry) with MBPO's micro settings each."""
    entries = "\n".join(f"  - {entry}" for _, entry in algorithms)
    overrides = "\n".join(f"  {name}:\n    all: {MICRO}" for name, _ in algorithms)
    path = tmp_path / "suite.yaml"
    path.write_text(
        f"name: plug\ntasks: {tasks}\nalgorithms:\n{entries}\nseeds: [0]\nenv_steps: {steps}\n"
        f"eval: {{every: 100, episodes: 2}}\ndevice: cpu\noverrides:\n{overrides}\n"
    )
    return path


def _cli(*args: str, env_path: list[Path] = ()) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([*map(str, env_path), str(ROOT)]))
    return subprocess.run([sys.executable, "-m", "mbrlbench.cli", *args], capture_output=True, text=True, env=env)


def test_example_runs_by_import_path_and_reports_beside_mbpo(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    algos = [("mbpo", "mbpo"), ("mean_mbpo", '{name: mean_mbpo, algorithm: "mean_rollout_mbpo:MeanRolloutMBPO"}')]
    suite = load_suite(_suite(tmp_path, "[inverted_pendulum]", algos, steps=200))
    mean = next(r for r in suite.runs if r.variant == "mean_mbpo")
    assert mean.algorithm == "mean_rollout_mbpo:MeanRolloutMBPO" and mean.fidelity == "external"
    assert mean.config.ensemble_size == 3
    outcome = run_suite(suite.runs, tmp_path / "results", console=QUIET)
    assert not outcome.failed, outcome.reasons
    runs = tmp_path / "results" / "plug"
    df = pd.read_csv(runs / "inverted_pendulum" / "mean_mbpo" / "seed0" / "progress.csv")
    assert df["env_step"].tolist() == [100, 200] and df["model/fits"].iloc[-1] >= 1
    report = build_report(runs, formats=("md", "csv"), console=QUIET)
    text = "\n".join(p.read_text() for p in report.files if p.suffix == ".md")
    assert "| mean_mbpo |" in text and "| mbpo |" in text and "external" in text


def _plugin_site(tmp_path: Path, name: str) -> Path:
    """A throw-away installed package: a dist-info folder with an entry point, as pip would leave it."""
    site = tmp_path / "site"
    info = site / "mbrlbench_meanplugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mbrlbench-meanplugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[mbrlbench.algorithms]\n{name} = mean_rollout_mbpo:MeanRolloutMBPO\n")
    return site


def test_entry_point_plugin_runs_by_name_and_is_listed(tmp_path, monkeypatch):
    site = _plugin_site(tmp_path, "mean_mbpo_ep")
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.syspath_prepend(str(site))
    assert "mean_mbpo_ep" in registered()  # through importlib.metadata.entry_points
    suite = load_suite(_suite(tmp_path, "[inverted_pendulum]", [("mean_mbpo_ep", "mean_mbpo_ep")], steps=200))
    (spec,) = suite.runs
    assert spec.algorithm == "mean_mbpo_ep" and type(spec.config).__name__ == "MBPOConfig"
    outcome = run_suite(suite.runs, tmp_path / "results", console=QUIET)
    assert not outcome.failed, outcome.reasons
    listed = _cli("list", env_path=[site, EXAMPLES])
    line = next(x for x in listed.stdout.splitlines() if "mean_mbpo_ep" in x)
    assert line.startswith("plugin") and "entry point mean_rollout_mbpo:MeanRolloutMBPO" in line
    assert "mbrlbench-meanplugin 0.1" in line and "[external]" in line


def test_list_prints_each_builtin_algorithms_fidelity():
    """The fidelity in brackets is text, not rich markup (``[official-code]`` was once swallowed as a tag)."""
    lines = _cli("list").stdout.splitlines()
    mbpo = next(x for x in lines if x.startswith("algorithm  mbpo "))
    sac = next(x for x in lines if x.startswith("algorithm  sac "))
    assert mbpo.endswith("[official-code]") and sac.endswith("[paper-text]")


TASKS_MODULE = """\
import gymnasium as gym
import torch

from mbrlbench.tasks import inverted_pendulum_done

if "PluginPendulum-v0" not in gym.registry:
    gym.register(
        id="PluginPendulum-v0",
        entry_point="gymnasium.envs.mujoco.inverted_pendulum_v5:InvertedPendulumEnv",
        max_episode_steps=1000,
    )


def pendulum_done(obs):
    return inverted_pendulum_done(obs)


def never(obs):  # wrong for a pendulum that falls
    return torch.zeros(obs.shape[:-1], dtype=torch.bool)
"""


def _task(tmp_path: Path, module: str, termination: str) -> str:
    (tmp_path / f"{module}.py").write_text(TASKS_MODULE)  # beside the suite file: found from there
    return f'[{{name: my_pendulum, env_id: "{module}:PluginPendulum-v0", termination: "{module}:{termination}"}}]'


def test_custom_task_with_termination_by_import_path_runs_mbpo(tmp_path):
    tasks = _task(tmp_path, "plugin_tasks_good", "pendulum_done")
    suite = load_suite(_suite(tmp_path, tasks, [("mbpo", "mbpo")], steps=200))
    (spec,) = suite.runs
    assert spec.task.env_id == "plugin_tasks_good:PluginPendulum-v0"
    outcome = run_suite(suite.runs, tmp_path / "results", console=QUIET)
    assert not outcome.failed, outcome.reasons
    df = pd.read_csv(spec.run_dir(tmp_path / "results") / "progress.csv")
    assert df["env_step"].tolist() == [100, 200]


def test_validate_reports_a_wrong_termination_function(tmp_path):
    tasks = _task(tmp_path, "plugin_tasks_wrong", "never")
    path = _suite(tmp_path, tasks, [("mbpo", "mbpo")])
    proc = _cli("validate", str(path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert f"{path}:2: tasks.0.termination: task 'my_pendulum'" in proc.stderr
    assert "disagrees with plugin_tasks_wrong:PluginPendulum-v0's own terminated" in proc.stderr


BROKEN = """\
class NotAnAlgorithm:
    pass


from mbrlbench.algorithms.base import Algorithm


class NoConfig(Algorithm):
    pass
"""


@pytest.mark.parametrize(
    "entry,fragments",
    [
        ('{name: x, algorithm: "no_such_module:Algo"}', ["cannot import 'no_such_module'", "ModuleNotFoundError"]),
        ('{name: x, algorithm: "broken_plugins:Missing"}', ["has no attribute 'Missing'"]),
        ('{name: x, algorithm: "broken_plugins:NotAnAlgorithm"}', ["is not a subclass of", "Algorithm"]),
        ('{name: x, algorithm: "broken_plugins:NoConfig"}', ["NoConfig lacks config_cls"]),
        ('"broken_plugins:NoConfig"', ["an import path needs a run name"]),
    ],
)
def test_broken_plugin_is_one_line_naming_file_and_line(tmp_path, entry, fragments):
    (tmp_path / "broken_plugins.py").write_text(BROKEN)
    path = tmp_path / "suite.yaml"
    path.write_text(f"name: t\ntasks: [inverted_pendulum]\nalgorithms:\n  - sac\n  - {entry}\nenv_steps: 100\n")
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}:5: algorithms.1"), message
    for fragment in fragments:
        assert fragment in message, message
    proc = _cli("run", str(path), "--out", str(tmp_path / "results"))
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert not (tmp_path / "results").exists()
