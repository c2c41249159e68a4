"""Which stretch of training a throughput figure comes from: the timing window of ``benchmarks/run.py`` and
``benchmarks/side_by_side.py``, kept free of torch and of any algorithm so that it runs on a fake clock
(``tests/test_benchmark_window.py``) and inside mbrl-lib's own virtual environment.

A ``Window`` is fed ticks: ``begin`` when the warm-up is over, ``fit`` at the end of every model fit, and
``finish`` when training returns. Each tick carries the env steps taken so far, a clock reading and optional
``meters``, cumulative counters (seconds per phase, CPU time, SAC updates) that the window turns into the
amounts spent inside it.

- ``steady`` (default) with model fits: the window opens at the end of the first fit after ``begin`` (the fit
  from scratch stays out) and closes at the end of the first fit that ends at least ``steps`` env steps later.
  Both ends sit at the same point of the fit period, so the window holds whole periods: with a fit every 250
  steps, 1,000 steps hold 4 fits, whichever side of its env step a code base puts the fit on.
- ``steady`` without model fits (model-free learners) and ``first``: from ``begin`` to ``finish`` (the harness
  trains ``steps`` env steps; iteration-based learners finish the iteration they are in). ``first`` is the
  old timing: the stretch right after the warm-up, first model fit (from scratch) included.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["steady", "first"]
MODES: tuple[str, ...] = ("steady", "first")


@dataclass(frozen=True)
class Tick:
    env_steps: int
    time: float
    meters: Mapping[str, float] = field(default_factory=dict)


@dataclass
class WindowResult:
    mode: str
    steps: int  # env steps inside the window
    seconds: float
    fits: int  # model fits that ended inside the window (the opening fit excluded)
    fit_epochs: list[float]  # epochs of each of them, in order (NaN where the algorithm reports none)
    opening_fit_epochs: float  # epochs of the fit that opened a steady window (NaN otherwise)
    start_step: int
    end_step: int
    meters: dict[str, float]  # each meter's increase over the window

    @property
    def env_steps_per_s(self) -> float:
        return self.steps / self.seconds if self.seconds > 0 else math.nan

    @property
    def mean_fit_epochs(self) -> float:
        known = [e for e in self.fit_epochs if e == e]
        return sum(known) / len(known) if known else math.nan


class WindowError(RuntimeError):
    """The window was read before it closed, or its ticks came out of order."""


class Window:
    def __init__(self, steps: int, mode: str = "steady", fits_expected: bool = True) -> None:
        if mode not in MODES:
            raise ValueError(f"window mode {mode!r}: one of {MODES}")
        if steps < 1:
            raise ValueError("a window needs at least one env step")
        self.steps, self.mode = steps, mode
        self.by_fits = mode == "steady" and fits_expected  # opens and closes at fit ends
        self.begun: Tick | None = None
        self.start: Tick | None = None
        self.end: Tick | None = None
        self.opening_fit_epochs = math.nan
        self.fit_epochs: list[float] = []  # fits inside the window
        self.fits_seen = 0  # every fit after begin
        self.last: Tick | None = None  # the latest tick, for the order check

    @property
    def done(self) -> bool:
        return self.end is not None

    def begin(self, env_steps: int, time: float, meters: Mapping[str, float] | None = None) -> None:
        """The warm-up is over."""
        if self.begun is not None:
            raise WindowError("begin twice")
        self.begun = self.last = Tick(env_steps, time, dict(meters or {}))
        if not self.by_fits:
            self.start = self.begun

    def fit(
        self, env_steps: int, time: float, epochs: float | None = None, meters: Mapping[str, float] | None = None
    ) -> None:
        """A model fit has just ended (``epochs``: how many it ran, None if the algorithm does not say)."""
        if self.begun is None or self.done:
            return  # a fit of the warm-up, or after the window: not ours
        self.fits_seen += 1
        tick = Tick(env_steps, time, dict(meters or {}))
        self._check_order(tick)
        value = math.nan if epochs is None else float(epochs)
        if self.start is None:  # steady: the first fit after the warm-up opens the window
            self.start, self.opening_fit_epochs = tick, value
            return
        self.fit_epochs.append(value)
        if self.by_fits and env_steps - self.start.env_steps >= self.steps:
            self.end = tick

    def finish(self, env_steps: int, time: float, meters: Mapping[str, float] | None = None) -> None:
        """Training returned. Closes a window that ends with training; a steady window on fits must have closed."""
        if self.begun is None:
            raise WindowError("finish before begin")
        if self.by_fits:
            if not self.done:
                raise WindowError(
                    f"the steady window did not close: {self.fits_seen} fit(s) after the warm-up, "
                    f"{env_steps - self.begun.env_steps} env steps (needs a fit to open it and one "
                    f">= {self.steps} steps later)"
                )
            return
        tick = Tick(env_steps, time, dict(meters or {}))
        self._check_order(tick)
        self.end = tick

    def _check_order(self, tick: Tick) -> None:
        last = self.last
        assert last is not None
        if tick.env_steps < last.env_steps or tick.time < last.time:
            raise WindowError(f"tick out of order: {tick} after {last}")
        self.last = tick

    def result(self) -> WindowResult:
        if self.start is None or self.end is None:
            raise WindowError("the window is not closed")
        start, end = self.start, self.end
        meters = {k: end.meters[k] - start.meters[k] for k in end.meters if k in start.meters}
        return WindowResult(
            mode=self.mode,
            steps=end.env_steps - start.env_steps,
            seconds=end.time - start.time,
            fits=len(self.fit_epochs),
            fit_epochs=list(self.fit_epochs),
            opening_fit_epochs=self.opening_fit_epochs,
            start_step=start.env_steps,
            end_step=end.env_steps,
            meters=meters,
        )
