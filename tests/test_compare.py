"""``mbrlbench compare`` on synthetic run folders: identical copies are equivalent (or inconclusive) and pass
the gate; a copy with MBPO's returns halved is worse for those cells and fails it; one-sided cells listed."""

import shutil

import numpy as np
import pandas as pd
import pytest
from helpers import cli, make_run

from mbrlbench.report.compare import compare
from mbrlbench.report.verdicts import against_runs

STEPS = [10_000, 20_000, 30_000]


@pytest.fixture
def results(tmp_path):
    rng = np.random.default_rng(0)
    for seed in range(5):
        for algo, level in (("mbpo", 3000.0), ("sac", 1000.0)):
            returns = level * np.array([0.3, 0.7, 1.0]) + rng.normal(0, 30, 3)
            make_run(tmp_path / "a", "hopper", algo, seed, STEPS, returns)
    make_run(tmp_path / "a", "walker2d", "mbpo", 0, STEPS, [1.0, 2.0, 3.0])  # only in A
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    return tmp_path


def _cli(*args):
    return cli(*args)  # tables 250 columns wide: one line per row


def test_identical_copies_are_equivalent_and_pass_the_gate(results):
    table = compare(results / "a", results / "b", steps=[20_000]).table.set_index(["task", "algorithm", "env_step"])
    assert table.loc[("hopper", "mbpo", 30_000), "verdict"] == "equivalent"
    assert table.loc[("hopper", "mbpo", 20_000), "diff"] == 0.0
    assert table.loc[("walker2d", "mbpo", 30_000), "verdict"] == "too few seeds"  # one seed each side
    proc = _cli("compare", str(results / "a"), str(results / "b"), "--fail-if-worse")
    assert proc.returncode == 0, proc.stderr
    assert (results / "a" / "compare" / "compare.png").exists()
    markdown = (results / "a" / "compare" / "compare.md").read_text()
    walker = [line for line in markdown.splitlines() if line.startswith("| walker2d | mbpo | 30,000")]
    assert len(walker) == 1 and "[no CI: < 3 seeds]" in walker[0] and "nan" not in markdown
    terminal = [line for line in proc.stdout.splitlines() if "walker2d" in line and "30,000" in line]
    assert len(terminal) == 1 and "[no CI: < 3 seeds]" in terminal[0]  # printed, not eaten as rich markup
    hopper = next(line for line in markdown.splitlines() if line.startswith("| hopper | mbpo | 30,000"))
    assert "**equivalent, within ±" in hopper and "seeds" not in hopper.split("|")[-2]  # detectable, seeds shown


def test_halved_mbpo_is_worse_and_fails_the_gate(results):
    for progress in (results / "a").rglob("mbpo/*/progress.csv"):
        if "hopper" in str(progress):
            df = pd.read_csv(progress)
            df["eval_return_mean"] /= 2
            df.to_csv(progress, index=False)
    shutil.rmtree(results / "b" / "syn" / "walker2d")  # now only in A
    table = compare(results / "a", results / "b").table.set_index(["task", "algorithm"])
    assert table.loc[("hopper", "mbpo"), "verdict"] == "worse"
    assert table.loc[("hopper", "sac"), "verdict"] == "equivalent"
    assert table.loc[("walker2d", "mbpo"), "verdict"] == "only in A"
    proc = _cli("compare", str(results / "a"), str(results / "b"), "--fail-if-worse", "--out", str(results / "c"))
    assert proc.returncode == 1 and "worse" in proc.stdout
    assert "worse" in pd.read_csv(results / "c" / "compare.csv")["verdict"].tolist()


def test_variants_within_one_result_set(results):
    table = compare(results / "a", results / "a", variants=("sac", "mbpo")).table
    hopper = table[table["task"] == "hopper"].iloc[-1]
    assert hopper["algorithm"] == "sac:mbpo" and hopper["verdict"] == "worse" and hopper["poi"] == 0.0


def test_compare_verdict_rule():
    base = np.array([100.0, 101.0, 99.0, 100.0, 100.0])
    assert against_runs(base, base, 0.1).label == "equivalent"
    assert against_runs(base * 1.5, base, 0.1).label == "better"
    assert against_runs(base[:2], base[:2], 0.1).label == "too few seeds"  # however close
    vague = against_runs(base * np.array([0.6, 1.4, 1.0, 0.8, 1.2]), base, 0.1)
    assert vague.label == "consistent" and vague.text().startswith("consistent, within ±")


def test_bad_input_is_one_line(results):
    for args in (
        (str(results / "a"),),
        (str(results / "a"), str(results / "nope")),
        (str(results / "a"), "--variants", "x"),
    ):
        proc = _cli("compare", *args)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, (args, proc.stderr)
