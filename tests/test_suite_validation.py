"""Suite files: expansion of the grid, overrides, variants, and one-line errors with file and line."""

import textwrap
from pathlib import Path

import pytest
from helpers import cli

from mbrlbench.components.config import RenamedSetting
from mbrlbench.suite import SuiteError, load_suite

BASE = """\
name: t
tasks: [inverted_pendulum, hopper]
algorithms: [mbpo, sac]
seeds: 2
env_steps: 1000
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_expansion_covers_grid_minus_exclusions(tmp_path):
    suite = load_suite(_write(tmp_path, BASE + "exclude:\n  - {algorithm: sac, task: hopper}\n"))
    keys = {(r.task.name, r.variant, r.seed) for r in suite.runs}
    assert len(keys) == 6
    assert ("hopper", "sac", 0) not in keys and ("hopper", "mbpo", 1) in keys
    assert all(r.env_steps == 1000 for r in suite.runs)


def test_paper_budgets_presets_and_override_layers(tmp_path):
    text = """\
    name: t
    tasks: [hopper, halfcheetah, inverted_pendulum]
    algorithms: [mbpo]
    seeds: [3]
    env_steps: paper
    overrides:
      mbpo:
        all: {ensemble_size: 9}
        hopper: {ensemble_size: 11, rollout_schedule: [20, 100, 1, 15]}
    """
    runs = {r.task.name: r for r in load_suite(_write(tmp_path, text)).runs}
    assert runs["hopper"].env_steps == 125_000 and runs["halfcheetah"].env_steps == 400_000
    assert runs["halfcheetah"].config.n_train_repeat == 40  # the paper's per-task preset
    assert runs["halfcheetah"].config.ensemble_size == 9  # 'all' layer
    assert runs["hopper"].config.ensemble_size == 11  # task layer wins over 'all'
    assert runs["hopper"].config.rollout_schedule == (20, 100, 1, 15)
    assert runs["inverted_pendulum"].env_steps == 20_500  # official: 500 exploration steps + 80 epochs x 250
    assert runs["hopper"].seed == 3


def test_an_entry_may_set_its_own_budget_over_the_suites(tmp_path):
    text = """\
    name: t
    tasks: [hopper]
    algorithms: [trpo, {name: mbpo, algorithm: mbpo, env_steps: 15000}, {name: tu, algorithm: tom_uniform}]
    seeds: 1
    env_steps: 125000
    sweeps:
      mbpo: {ensemble_size: [5, 7]}
    """
    budgets = {r.variant: r.env_steps for r in load_suite(_write(tmp_path, text)).runs}
    assert budgets == {
        "trpo": 125_000,
        "mbpo@ensemble_size=5": 15_000,  # a sweep's points keep their entry's budget
        "mbpo@ensemble_size=7": 15_000,
        "tu": 125_000,
    }
    bad = text.replace("env_steps: 15000", "env_steps: 0")
    with pytest.raises(SuiteError, match="env_steps"):
        load_suite(_write(tmp_path, bad))


def test_variants_and_custom_tasks(tmp_path):
    text = """\
    name: t
    tasks:
      - inverted_pendulum
      - {name: swimmer, env_id: Swimmer-v5, termination: never}
    algorithms:
      - mbpo
      - {name: mbpo_k3, algorithm: mbpo, overrides: {ensemble_size: 3, num_elites: 2}}
    env_steps: 500
    overrides:
      mbpo_k3:
        swimmer: {model_hidden: 64}
    """
    runs = load_suite(_write(tmp_path, text)).runs
    k3 = {r.task.name: r for r in runs if r.variant == "mbpo_k3"}
    assert k3["swimmer"].algorithm == "mbpo" and k3["swimmer"].config.ensemble_size == 3
    assert k3["swimmer"].config.model_hidden == 64 and k3["inverted_pendulum"].config.model_hidden == 200
    assert k3["swimmer"].run_dir(Path("out")) == Path("out/t/swimmer/mbpo_k3/seed0")


BAD_SUITES = [
    # (suite text, expected line, fragments the one-line message must contain)
    (BASE + "tasks_: [hopper]\n", 6, ["tasks_", "unknown key", "allowed: name, tasks"]),
    (BASE.replace("[inverted_pendulum, hopper]", "[inverted_pendulum, hoper]"), 2, ["tasks.1", "hoper", "allowed:"]),
    (BASE.replace("[mbpo, sac]", "[mbpo, mbppo]"), 3, ["algorithms.1", "mbppo", "allowed: mbpo, sac"]),
    (BASE.replace("seeds: 2", "seeds: two"), 4, ["seeds", "integer"]),
    (BASE.replace("env_steps: 1000", "env_steps: lots"), 5, ["env_steps", "'paper'"]),
    (BASE + "device: tpu\n", 6, ["device", "allowed: auto, cpu, cuda, cuda:N"]),
    (BASE + "eval: {every: 0}\n", 6, ["eval.every", "greater than or equal to 1"]),
    (BASE + "eval: {evry: 10}\n", 6, ["eval.evry", "allowed: every, episodes"]),
    (
        BASE + "overrides:\n  mbpo:\n    all: {ensemble_sise: 3}\n",
        8,
        ["overrides.mbpo.all.ensemble_sise", "unknown hyperparameter", "ensemble_size"],
    ),
    (
        BASE + "overrides:\n  mbpo:\n    all: {ensemble_size: many}\n",
        8,
        ["overrides.mbpo.all.ensemble_size", "integer"],
    ),
    (
        BASE + "overrides:\n  mbpo:\n    walker2d: {ensemble_size: 3}\n",
        8,
        ["overrides.mbpo.walker2d", "allowed: all, inverted_pendulum, hopper"],
    ),
    (BASE + "overrides:\n  tom:\n    all: {}\n", 7, ["overrides.tom", "allowed: mbpo, sac"]),
    (BASE + "overrides:\n  mbpo:\n    all: {num_elites: 9}\n", 8, ["num_elites (9) exceeds ensemble_size"]),
    (BASE + "exclude:\n  - {task: walker2d}\n", 7, ["exclude.0.task", "allowed: inverted_pendulum, hopper"]),
    ("name: t\ntasks: [hopper]\n", 1, ["missing required key 'algorithms'"]),
    ("name: t\ntasks: [hopper\n", 3, ["invalid YAML"]),
    ("- just\n- a list\n", 1, ["YAML mapping"]),
    (BASE.replace("name: t", "name: a/b"), 1, ["name", "pattern"]),
    (
        "name: t\ntasks:\n  - {name: x, env_id: Nope-v0}\nalgorithms: [sac]\nenv_steps: 10\n",
        3,
        ["tasks.0.env_id", "not a registered gymnasium env id"],
    ),
    ("name: t\ntasks:\n  - {name: x, env_id: Swimmer-v5}\nalgorithms: [sac]\n", 1, ["'paper' has no budget"]),
    (
        "name: t\ntasks:\n  - {name: x, env_id: Swimmer-v5, termination: sometimes}\nalgorithms: [sac]\n",
        3,
        ["tasks.0.termination", "hopper"],
    ),
    (BASE.replace("seeds: 2", "seeds: [1, 1]"), 4, ["seeds", "distinct"]),
]


@pytest.mark.parametrize("text,line,fragments", BAD_SUITES)
def test_bad_suite_gives_one_line_with_file_line_key(tmp_path, text, line, fragments):
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:{line}:"), message
    for fragment in fragments:
        assert fragment in message, message


def test_cli_bad_suite_exits_2_without_traceback_or_files(tmp_path):
    path = _write(tmp_path, BASE.replace("seeds: 2", "seeds: two"))
    out = tmp_path / "results"
    proc = cli("run", str(path), "--out", str(out))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.strip().count("\n") == 0
    assert f"{path}:4: seeds" in proc.stderr
    assert not out.exists()


def test_cli_only_filter_and_bad_only(tmp_path):
    path = _write(tmp_path, BASE)
    proc = cli("run", str(path), "--dry-run", "--only", "task=hopper", "--only", "algorithm=sac")
    assert proc.returncode == 0, proc.stderr
    assert "2 runs" in proc.stdout
    # the comma-separated form selects the same slice
    combined = cli("run", str(path), "--dry-run", "--only", "task=hopper,algorithm=sac")
    assert combined.returncode == 0, combined.stderr
    assert "2 runs" in combined.stdout
    bad = cli("run", str(path), "--only", "colour=red")
    assert bad.returncode == 2 and "KEY one of task, algorithm, seed" in bad.stderr


# ----------------------------------------------------------------------------------- --set and sweeps
def test_set_overrides_suite_data_before_validation(tmp_path):
    sets = ["seeds=3", "env_steps=2000", "overrides.mbpo.all.ensemble_size=5", "tasks=[hopper]"]
    runs = load_suite(_write(tmp_path, BASE), sets=sets).runs
    assert {r.seed for r in runs} == {0, 1, 2} and {r.task.name for r in runs} == {"hopper"}
    assert all(r.env_steps == 2000 for r in runs)
    assert {r.config.ensemble_size for r in runs if r.variant == "mbpo"} == {5}


SWEEP = BASE.replace("seeds: 2", "seeds: 1") + (
    "sweeps:\n  mbpo: {ensemble_size: [3, 5, 7], num_elites: [2, 3]}\n"
    "overrides:\n  mbpo:\n    all: {model_hidden: 32}\n"
    "exclude:\n  - {algorithm: mbpo, task: hopper}\n"
)


def test_sweep_grid_and_zip_expand_into_named_variants(tmp_path):
    runs = load_suite(_write(tmp_path, SWEEP)).runs
    swept = {r.variant: r for r in runs if r.algorithm == "mbpo"}
    assert len(swept) == 6 and all(r.task.name == "inverted_pendulum" for r in swept.values())  # exclude by base
    point = swept["mbpo@ensemble_size=5,num_elites=3"]
    assert point.config.ensemble_size == 5 and point.config.num_elites == 3 and point.config.model_hidden == 32
    assert point.run_dir(Path("out")) == Path("out/t/inverted_pendulum/mbpo@ensemble_size=5,num_elites=3/seed0")
    zipped = SWEEP.replace("num_elites: [2, 3]}", "num_elites: [2, 3, 5], mode: zip}")
    names = {r.variant for r in load_suite(_write(tmp_path, zipped)).runs if r.algorithm == "mbpo"}
    assert names == {
        "mbpo@ensemble_size=3,num_elites=2",
        "mbpo@ensemble_size=5,num_elites=3",
        "mbpo@ensemble_size=7,num_elites=5",
    }


BAD_SETS = [
    (["sedes=3"], ["--set sedes=3", "sedes: unknown key"]),
    (["seeds=two"], ["--set seeds=two", "seeds"]),
    (["overrides.mbpo.all.ensemble_size=many"], ["--set overrides.mbpo.all.ensemble_size=many", "integer"]),
    (["overrides.mbpo.all.ensemble_sise=3"], ["unknown hyperparameter", "ensemble_size"]),
    (["overrides.tom.all.x=1"], ["--set overrides.tom.all.x=1", "allowed: mbpo, sac"]),
    (["seeds"], ["--set 'seeds'", "KEY=VALUE"]),
    (["seeds.x=1"], ["--set seeds.x", "no key 'x'"]),
    (["seeds=[1, 2"], ["--set seeds", "not a YAML scalar or list"]),
    (["eval={every: 3}"], ["--set eval", "not a mapping"]),
]


@pytest.mark.parametrize("sets,fragments", BAD_SETS)
def test_bad_set_is_one_line_naming_set_and_key(tmp_path, sets, fragments):
    path = _write(tmp_path, BASE)
    with pytest.raises(SuiteError) as info:
        load_suite(path, sets=sets)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: --set"), message
    for fragment in fragments:
        assert fragment in message, message


BAD_SWEEPS = [
    ("  mbpo: {ensemble_sise: [3, 5]}\n", 7, ["sweeps.mbpo.ensemble_sise", "unknown hyperparameter"]),
    ("  mbpo: {ensemble_size: [7, many]}\n", 7, ["sweeps.mbpo.ensemble_size", "integer"]),
    ("  mbpo: {ensemble_size: 3}\n", 7, ["sweeps.mbpo.ensemble_size", "non-empty list"]),
    ("  mbpo: {ensemble_size: [3, 5], num_elites: [2], mode: zip}\n", 7, ["sweeps.mbpo", "one length"]),
    ("  mbpo: {ensemble_size: [3, 5], mode: random}\n", 7, ["sweeps.mbpo.mode", "allowed: grid, zip"]),
    ("  tom: {ensemble_size: [3, 5]}\n", 7, ["sweeps.tom", "allowed: mbpo, sac"]),
]


@pytest.mark.parametrize("sweep,line,fragments", BAD_SWEEPS)
def test_bad_sweep_is_one_line_with_its_line(tmp_path, sweep, line, fragments):
    path = _write(tmp_path, BASE + "sweeps:\n" + sweep)
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}:{line}:"), message
    for fragment in fragments:
        assert fragment in message, message


def test_cli_set_and_sweep_errors_exit_2_and_write_nothing(tmp_path):
    out = tmp_path / "results"
    good = _write(tmp_path, SWEEP)
    ok = cli("validate", str(good), "--set", "seeds=2", "--out", str(out))
    assert ok.returncode == 0, ok.stderr
    assert "valid; 16 runs" in ok.stdout  # (6 sweep points on one task + sac on two) x 2 seeds
    bad_sweep = tmp_path / "bad.yaml"
    bad_sweep.write_text(BASE + "sweeps:\n  mbpo: {ensemble_sise: [3, 5]}\n")
    for args in (["run", str(good), "--set", "seeds=two"], ["run", str(bad_sweep)], ["validate", str(bad_sweep)]):
        proc = cli(*args, "--out", str(out))
        assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0, proc.stderr
        assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_old_spellings_of_renamed_settings_still_load_with_one_deprecation_line(tmp_path):
    text = """\
    name: t
    tasks: [inverted_pendulum]
    algorithms: [trpo, ppo, mg]
    seeds: 1
    env_steps: 1000
    overrides:
      trpo: {all: {max_kl: 0.02, cg_iters: 7}}
      ppo: {inverted_pendulum: {ppo_lr: 0.001, ppo_minibatch: 32}}
      mg: {all: {init_std: 0.5}}
    sweeps:
      trpo: {cg_damping: [0.001, 0.01]}
    """
    path = _write(tmp_path, text)
    with pytest.warns(RenamedSetting, match="is now called"):
        runs = load_suite(path).runs
    trpo = [r.config for r in runs if r.variant.startswith("trpo")]
    assert {c.trpo_damping for c in trpo} == {0.001, 0.01}
    assert all(c.trpo_max_kl == 0.02 and c.trpo_cg_iters == 7 for c in trpo)
    ppo = next(r.config for r in runs if r.variant == "ppo")
    assert ppo.policy_lr == 0.001 and ppo.ppo_minibatch_size == 32
    assert next(r.config for r in runs if r.variant == "mg").policy_init_std == 0.5
    proc = cli("validate", str(path), "--out", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("deprecated:")]
    assert len(lines) == 6 and any("max_kl is now called trpo_max_kl" in line for line in lines)  # once per key
    both = _write(
        tmp_path,
        BASE.replace("algorithms: [mbpo, sac]", "algorithms: [trpo]")
        + "overrides:\n  trpo: {all: {max_kl: 0.02, trpo_max_kl: 0.03}}\n",
    )
    with pytest.raises(SuiteError, match="old name of trpo_max_kl"):
        load_suite(both)
