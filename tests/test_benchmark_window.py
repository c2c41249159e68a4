"""The benchmark timing window (benchmarks/window.py) on a fake clock: which stretch a rate comes from, the fits in
it and their epochs, the phase meters over it. No training: a simulated loop feeds the ticks."""

import importlib.util
import math
import sys
from pathlib import Path

import pytest

WINDOW = Path(__file__).resolve().parents[1] / "benchmarks" / "window.py"


@pytest.fixture(scope="module")
def window_module():
    spec = importlib.util.spec_from_file_location("benchmark_window", WINDOW)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module while the class is built
    spec.loader.exec_module(module)
    return module


STEP_S, FIT_S_PER_EPOCH, FREQ = 0.1, 0.05, 250


def simulate(window, total_steps, epochs_of_fit, fit_after_step=False, warmup=5000):
    """A loop on a fake clock: ``warmup`` free exploration steps, then a model fit every ``FREQ`` policy steps
    (before the step, as ours and the official MBPO; after it, as mbrl-lib), ``STEP_S`` per step and
    ``FIT_S_PER_EPOCH`` per epoch of fit. Meters: seconds in fits and in steps. Stops when the window closes."""
    clock, steps, fits = 0.0, 0, 0
    meters = {"model": 0.0, "env": 0.0}

    def do_fit():
        nonlocal clock, fits
        epochs = epochs_of_fit(fits)
        clock += epochs * FIT_S_PER_EPOCH
        meters["model"] += epochs * FIT_S_PER_EPOCH
        fits += 1
        window.fit(steps, clock, epochs, dict(meters))

    def do_step():
        nonlocal clock, steps
        clock += STEP_S
        meters["env"] += STEP_S
        steps += 1

    for _ in range(warmup):
        clock += 0.001
        steps += 1
    window.begin(steps, clock, dict(meters))
    for since in range(total_steps):
        if window.done:
            break
        if not fit_after_step and since % FREQ == 0:
            do_fit()
        do_step()
        if fit_after_step and (since + 1) % FREQ == 0:
            do_fit()
    window.finish(steps, clock, dict(meters))
    return window.result()


def first_long(fit):
    return 176 if fit == 0 else 60 + fit  # the fit from scratch runs long, the later ones 61, 62, ...


@pytest.mark.parametrize("fit_after_step", [False, True])
def test_steady_window_holds_whole_fit_periods_after_the_first_fit(window_module, fit_after_step):
    result = simulate(window_module.Window(1000, "steady"), 5000, first_long, fit_after_step)
    assert result.steps == 1000
    assert result.fits == 4  # 1,000 steps at a fit every 250: four fits, whichever side of the step they sit
    assert result.fit_epochs == [61, 62, 63, 64]
    assert result.opening_fit_epochs == 176  # the fit from scratch opened the window, outside it
    expected = 1000 * STEP_S + (61 + 62 + 63 + 64) * FIT_S_PER_EPOCH
    assert result.seconds == pytest.approx(expected)
    assert result.env_steps_per_s == pytest.approx(1000 / expected)
    assert result.meters["model"] == pytest.approx((61 + 62 + 63 + 64) * FIT_S_PER_EPOCH)
    assert result.meters["env"] == pytest.approx(1000 * STEP_S)
    assert result.mean_fit_epochs == pytest.approx(62.5)


def test_steady_window_rounds_up_to_the_next_fit(window_module):
    result = simulate(window_module.Window(900, "steady"), 5000, lambda fit: 10)
    assert result.steps == 1000 and result.fits == 4  # at least 900 steps: up to the end of the next fit


def test_first_window_is_the_stretch_right_after_the_warm_up(window_module):
    window = window_module.Window(250, "first")
    result = simulate(window, 250, first_long)
    assert result.steps == 250 and result.start_step == 5000
    assert result.fit_epochs == [176]  # the old timing: the fit from scratch inside the window
    assert math.isnan(result.opening_fit_epochs)
    assert result.seconds == pytest.approx(250 * STEP_S + 176 * FIT_S_PER_EPOCH)


def test_model_free_steady_window_runs_from_the_warm_up(window_module):
    window = window_module.Window(1000, "steady", fits_expected=False)
    assert not window.by_fits
    window.begin(5000, 10.0, {"policy": 1.0})
    window.finish(6000, 110.0, {"policy": 31.0})
    result = window.result()
    assert (result.steps, result.seconds, result.fits) == (1000, 100.0, 0)
    assert result.meters == {"policy": 30.0} and result.env_steps_per_s == pytest.approx(10.0)


def test_fits_before_begin_and_after_the_close_are_ignored(window_module):
    window = window_module.Window(10, "steady")
    window.fit(100, 1.0, 50)  # a fit of the warm-up
    window.begin(100, 2.0)
    window.fit(100, 3.0, 40)  # opens
    window.fit(105, 4.0, 7)
    window.fit(110, 5.0, None)  # closes; an algorithm that reports no epochs
    window.fit(120, 6.0, 9)  # after the close
    window.finish(121, 7.0)
    result = window.result()
    assert result.opening_fit_epochs == 40 and result.fits == 2 and result.seconds == 2.0
    assert result.fit_epochs[0] == 7 and math.isnan(result.fit_epochs[1]) and result.mean_fit_epochs == 7


def test_an_unclosed_window_is_an_error(window_module):
    window = window_module.Window(1000, "steady")
    with pytest.raises(window_module.WindowError):
        simulate(window, 900, lambda fit: 5)  # only 900 steps trained: no fit 1,000 steps after the first
    with pytest.raises(window_module.WindowError):
        window_module.Window(10, "first").result()
    with pytest.raises(ValueError):
        window_module.Window(10, "middle")


def test_ticks_out_of_order_are_an_error(window_module):
    window = window_module.Window(10, "steady")
    window.begin(0, 5.0)
    with pytest.raises(window_module.WindowError):
        window.fit(0, 4.0, 3)  # the clock went back


def test_the_harness_uses_this_window(window_module):
    """benchmarks/run.py imports the module by name; its CLI offers the same modes."""
    text = (WINDOW.parent / "run.py").read_text()
    assert "from window import MODES, Window, WindowResult" in text
    assert window_module.MODES == ("steady", "first")
