"""Clean stops: the first SIGTERM / SIGINT / SIGUSR2 asks every run to checkpoint at its next safe point."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator

from mbrlbench.runner.run_one import StopFlag

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR2)  # SIGUSR2: Slurm's preemption warning


@contextlib.contextmanager
def stop_on_signals(stop: StopFlag, forward: Callable[[], None] | None = None, chain: bool = False) -> Iterator[None]:
    """Sets ``stop`` on a stop signal and calls ``forward`` (e.g. to pass SIGTERM on to child processes).
    A second Ctrl-C aborts at once. ``chain``: also call the handler that was installed before (submitit's
    requeue handler on Slurm)."""
    previous: dict[int, object] = {}

    def handler(signum: int, frame: object) -> None:
        if stop and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set(signal.Signals(signum).name)
        if forward is not None:
            forward()
        old = previous.get(signum)
        if chain and callable(old):
            old(signum, frame)

    for sig in STOP_SIGNALS:
        previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
