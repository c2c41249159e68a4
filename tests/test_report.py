"""The report on synthetic run folders with known statistics: verdict rule, CIs, loading of bad files,
figures rendered as images of the expected size, and the CLI's handling of bad input."""

import subprocess
import sys

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from helpers import cli, make_run

from mbrlbench.report import plots, stats, tables, writers
from mbrlbench.report.build import build_report
from mbrlbench.report.load import load_runs
from mbrlbench.report.references import paper_results
from mbrlbench.rundir import REQUIRED_COLUMNS


def test_band_is_the_student_t_interval_of_the_mean():
    rng = np.random.default_rng(3)
    data = rng.normal(100, 20, size=(6, 1))
    low, high = stats.mean_band(data)
    assert low[0] == pytest.approx(stats.mean_ci(data[:, 0])[0]) and high[0] == pytest.approx(
        stats.mean_ci(data[:, 0])[1]
    )
    assert np.isnan(stats.mean_band(data[:2])[0]).all()  # fewer than 3 seeds: no band
    const_low, const_high = stats.mean_band(np.full((5, 2), 1000.0))
    assert np.allclose(const_low, 1000) and np.allclose(const_high, 1000)  # no spread, no NaN


def test_probability_of_improvement():
    assert stats.probability_of_improvement([3, 4], [1, 2]) == 1.0
    assert stats.probability_of_improvement([1, 2], [1, 2]) == 0.5
    assert stats.probability_of_improvement([1], [2, 0]) == 0.5


# ------------------------------------------------------------------------------------------ loading
def test_paper_metric_named_in_config_is_the_compared_return(tmp_path):
    """MB-MPO's paper plots the stochastic pre-update return: a run whose config.yaml names that column
    (``paper_metric``) is compared through it; the deterministic evaluation stays under its own name; runs
    without the setting, and old runs lacking the column (with a warning), keep the deterministic one."""
    metric = "mbmpo/pre_update_return"
    named = {"paper_metric": metric}
    make_run(
        tmp_path, "hopper_h200", "mbmpo", 0, [5000, 9000], [10.0, 20.0], extra={metric: [-3.0, 7.0]}, config_extra=named
    )
    make_run(tmp_path, "hopper_h200", "trpo", 0, [5000, 9000], [1.0, 2.0])
    make_run(tmp_path, "hopper_h200", "me_trpo", 0, [5000], [4.0], config_extra=named)  # written before the column
    loaded = load_runs(tmp_path)
    curves = loaded.curves.set_index("algorithm")
    assert curves.loc["mbmpo", "eval_return_mean"].tolist() == [-3.0, 7.0]
    assert curves.loc["mbmpo", "eval/deterministic_return"].tolist() == [10.0, 20.0]
    assert curves.loc["trpo", "eval_return_mean"].tolist() == [1.0, 2.0]
    assert curves.loc["me_trpo", "eval_return_mean"] == 4.0
    runs = loaded.runs.set_index("algorithm")
    assert runs.loc["mbmpo", "last_return"] == 7.0 and runs.loc["mbmpo", "metric"] == metric
    assert runs.loc["me_trpo", "metric"] == runs.loc["trpo", "metric"] == "eval_return_mean"
    assert any("me_trpo" in w and metric in w for w in loaded.warnings)
    returns = tables.returns_table(loaded.curves, loaded.runs, paper_results(), [], 0.1)
    text = writers.returns_markdown(returns)
    assert "| mbmpo¹ |" in text and "| trpo |" in text and f"`mbmpo`: `{metric}`" in text
    assert plots.curve_label(loaded.curves[loaded.curves["algorithm"] == "mbmpo"], "mbmpo") == f"mbmpo [{metric}]"


def test_loader_skips_bad_files_with_warnings_and_keeps_states(tmp_path):
    make_run(tmp_path, "hopper", "mbpo", 0, [1000, 2000], [10, 20])
    make_run(tmp_path, "hopper", "mbpo", 1, [1000], [12], state="running")
    make_run(tmp_path, "hopper", "mbpo", 2, [1000], [11], state="failed")
    torn = make_run(tmp_path, "hopper", "mbpo", 3, [1000, 2000], [10, 20])
    with open(torn / "progress.csv", "a") as f:
        f.write("3000,4")  # half-written last row
    empty = tmp_path / "syn" / "hopper" / "sac" / "seed0"
    empty.mkdir(parents=True)
    (empty / "progress.csv").write_text("")
    garbage = tmp_path / "syn" / "hopper" / "sac" / "seed1"
    garbage.mkdir(parents=True)
    (garbage / "progress.csv").write_text("not,a\ncsv,\x00\x01 file\n")
    loaded = load_runs(tmp_path)
    assert set(loaded.runs["state"]) == {"completed", "running", "failed"}
    assert len(loaded.runs) == 4
    assert loaded.runs.set_index("seed").loc[3, "last_step"] == 2000  # torn row dropped... or kept whole
    assert any("sac/seed0" in w for w in loaded.warnings) and any("sac/seed1" in w for w in loaded.warnings)
    assert any("malformed" in w for w in loaded.warnings)


def test_values_at_step_takes_last_evaluation_not_after():
    curves = load_runs_frame([(0, [1000, 2000, 3000], [1, 2, 3]), (1, [1000, 2000], [5, 6])])
    at = stats.values_at_step(curves, 2500).set_index("seed")
    assert at.loc[0, "value"] == 2 and at.loc[1, "value"] == 6
    assert at.loc[0, "reached"] and not at.loc[1, "reached"]


def load_runs_frame(runs):
    frames = []
    for seed, steps, returns in runs:
        frames.append(
            pd.DataFrame(
                {
                    "run_dir": f"r{seed}",
                    "task": "t",
                    "algorithm": "a",
                    "seed": seed,
                    "env_step": steps,
                    "eval_return_mean": returns,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------------------------------ end to end
@pytest.fixture
def synthetic(tmp_path):
    root = tmp_path / "results"
    steps = list(range(10_000, 130_000, 10_000))
    rng = np.random.default_rng(0)
    for seed in range(5):
        make_run(
            root,
            "hopper",
            "mbpo",
            seed,
            [*steps, 125000],
            [s / 125_000 * 3000 + rng.normal(0, 5) for s in steps] + [3000 + rng.normal(0, 5)],
        )
        make_run(
            root,
            "hopper",
            "sac",
            seed,
            steps[:6],
            [s / 125_000 * 1000 + rng.normal(0, 50) for s in steps[:6]],
            fidelity="paper-text",
            state="running" if seed == 4 else "completed",
        )
    make_run(root, "inverted_pendulum", "mbpo", 0, [1000, 2000], [500.0, float("nan")])  # NaN value, 1 seed
    paper = tmp_path / "paper.csv"
    paper.write_text(
        "algorithm,task,env_in_source,env_steps,return_mean,return_std,n_seeds,source,confidence\n"
        "mbpo,hopper,Hopper-v2,125000,3000,10,5,synthetic,high\n"
        "mbpo,hopper,Hopper-v2,60000,2000,10,5,synthetic,high\n"
        "sac,hopper,Hopper-v2,50000,900,,,digitized,low\n"
    )
    return root, paper


def test_report_end_to_end(synthetic, tmp_path):
    root, paper = synthetic
    out = tmp_path / "report"
    result = build_report(root, out, reference=paper, steps=[200_000])
    points = result.returns[result.returns["window"] == ""]
    returns = points.set_index(["task", "algorithm", "env_step"])
    assert returns.loc[("hopper", "mbpo", 125_000), "verdict"] == "reproduced"
    windows = result.returns[result.returns["window"] != ""]
    assert windows[["algorithm", "env_step"]].values.tolist() == [["mbpo", 125_000]]  # the official curve's end
    assert returns.loc[("hopper", "mbpo", 60_000), "verdict"] == "below"  # ours ~1440 there
    assert returns.loc[("hopper", "mbpo", 200_000), "verdict"] == "no reference"
    assert returns.loc[("hopper", "sac", 50_000), "verdict"] == "below"  # ~400 vs 900, spread unknown: t interval
    assert returns.loc[("hopper", "mbpo", 125_000), "seeds"] == 5
    claims = pd.read_csv(out / "claims.csv")
    mbpo_vs_sac = claims[(claims["ours"] == "mbpo") & (claims["task"] == "hopper")].iloc[0]
    assert mbpo_vs_sac["env_step"] == 60_000 and mbpo_vs_sac["verdict"] == "supported"
    assert set(claims.loc[claims["ours"] == "tom", "verdict"]) == {"not run"}
    aggregate = pd.read_csv(out / "aggregate.csv").set_index("algorithm")
    assert aggregate.loc["mbpo", "tasks"] == 2
    index = (out / "index.md").read_text()
    for name in ("curves.png", "wallclock.png", "aggregate.png", "profiles.png", "returns.md", "reproduced"):
        assert name in index
    assert "running" in index  # the running sac seed is shown as such
    for stem, min_width in (("curves", 800), ("wallclock", 800), ("aggregate", 600), ("profiles", 600)):
        image = mpimg.imread(out / f"{stem}.png")
        assert image.ndim == 3 and image.shape[1] >= min_width and image.shape[0] >= 300, (stem, image.shape)
        assert (out / f"{stem}.pdf").read_bytes()[:4] == b"%PDF"
    assert r"\toprule" in (out / "returns.tex").read_text()


def test_report_formats_subset(synthetic, tmp_path):
    root, _ = synthetic
    out = tmp_path / "md_only"
    build_report(root, out, formats=("md",))
    assert (out / "index.md").exists() and not list(out.glob("*.png")) and not list(out.glob("*.csv"))


BLOCK_HEAVY_IMPORTS = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "gymnasium", "mujoco"):
            raise ImportError(f"{name} is blocked: the report must not need it")
sys.meta_path.insert(0, Block())
from mbrlbench.cli import app
app(sys.argv[1:])
"""


def test_report_runs_without_torch(synthetic, tmp_path):
    """``mbrlbench report`` needs only the run-folder module, pandas and matplotlib: with torch, gymnasium
    and mujoco unimportable it still writes its tables."""
    root, paper = synthetic
    out = tmp_path / "report"
    cmd = [sys.executable, "-c", BLOCK_HEAVY_IMPORTS, "report", str(root), "--out", str(out), "--format", "md,csv"]
    proc = subprocess.run([*cmd, "--reference", str(paper)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (out / "returns.csv").exists() and (out / "index.md").exists()
    blocked = subprocess.run(
        [sys.executable, "-c", BLOCK_HEAVY_IMPORTS, "list"], capture_output=True, text=True, timeout=300
    )
    assert blocked.returncode != 0 and "is blocked" in blocked.stderr  # the blocker does block


def test_cli_report_empty_folder_and_bad_format(tmp_path):
    proc = cli("report", str(tmp_path))
    assert proc.returncode == 2 and "no readable run" in proc.stderr and "Traceback" not in proc.stderr
    bad = cli("report", str(tmp_path), "--format", "gif")
    assert bad.returncode == 2 and "allowed: png, pdf, md, tex, csv" in bad.stderr


def test_required_columns_missing_are_filled(tmp_path):
    run_dir = tmp_path / "s" / "hopper" / "mbpo" / "seed0"
    run_dir.mkdir(parents=True)
    (run_dir / "progress.csv").write_text("env_step,eval_return_mean\n1000,5\n2000,7\n")
    loaded = load_runs(tmp_path)
    assert set(REQUIRED_COLUMNS) <= set(loaded.curves.columns)
    assert loaded.runs.iloc[0]["algorithm"] == "mbpo" and loaded.runs.iloc[0]["seed"] == 0


def test_metric_figures_draw_the_mean_over_seeds(tmp_path):
    """``--metrics`` and the default diagnostics figure: one panel row per metric, each algorithm's line is
    the mean over its seeds of that column; an unknown column is a one-line error naming the logged ones."""
    steps = [1000, 2000, 3000]
    for seed, scale in enumerate((1.0, 2.0, 3.0)):
        kstep = {"model/kstep_error_1": [0.1 * scale] * 3, "model/kstep_error_5": [0.5 * scale, 0.4 * scale, 0.3]}
        make_run(tmp_path, "hopper", "mbpo", seed, steps, [100.0, 200.0, 300.0], extra={**kstep, "sac/alpha": 0.2})
    curves = load_runs(tmp_path).curves
    assert plots.default_diagnostics(list(curves.columns)) == [
        "model/kstep_error_1",
        "model/kstep_error_5",
        "sac/alpha",
    ]
    fig = plots.metric_figure(curves, ["model/kstep_error_5"])
    (line,) = fig.axes[0].lines
    np.testing.assert_allclose(line.get_xdata(), steps)
    np.testing.assert_allclose(line.get_ydata(), [1.0, 0.8, 0.3])  # means of (0.5, 1, 1.5), (0.4, .8, 1.2), .3
    out = tmp_path / "report"
    build_report(tmp_path / "syn", out, formats=("png", "md"), metrics=["sac/alpha"])
    assert mpimg.imread(out / "diagnostics.png").shape[0] > mpimg.imread(out / "metric-sac-alpha.png").shape[0]
    index = (out / "index.md").read_text()
    assert "diagnostics.png" in index and "metric-sac-alpha.png" in index
    proc = cli("report", str(tmp_path / "syn"), "--metrics", "sac/nope")
    assert proc.returncode == 2 and "sac/nope" in proc.stderr and "model/kstep_error_5" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_band_where_some_seeds_have_no_value_uses_the_seeds_that_do():
    """At a step where 3 of 4 seeds logged the value (a diagnostic NaN in one seed), the band is the bootstrap
    band of those 3; this path once raised "setting an array element with a sequence" on numpy 2."""
    rows = []
    for seed, values in enumerate(([1.0, 2.0], [2.0, 4.0], [3.0, 6.0], [4.0, float("nan")])):
        rows += [
            {"run_dir": f"s{seed}", "env_step": step, "eval_return_mean": v}
            for step, v in zip((1, 2), values, strict=True)
        ]
    fig, ax = plt.subplots()
    plots.draw_mean_band(ax, pd.DataFrame(rows), "mbpo", (0.0, 0.0, 1.0))
    (line,) = ax.lines
    np.testing.assert_allclose(line.get_ydata(), [2.5, 4.0])  # nanmean per step
    (band,) = ax.collections
    low, high = stats.mean_band(np.array([[2.0], [4.0], [6.0]]))
    top = band.get_paths()[0].vertices[:, 1]
    assert np.isclose(top, high[0]).any() and np.isclose(top, low[0]).any()
    plt.close(fig)
