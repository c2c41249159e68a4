"""Clean stops: the first SIGTERM / SIGINT / SIGUSR2 asks every run to checkpoint at its next safe point."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR2)  # SIGUSR2: Slurm's preemption warning


class StopFlag:
    """Set by signal handlers; checked by algorithms at every env step (a safe point)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reason = ""
        self.listeners: list[Callable[[], None]] = []

    def set(self, reason: str) -> None:
        self.reason = reason
        self.event.set()
        for listener in self.listeners:  # e.g. the run's lock says "stopping", so a rerun waits for it
            try:
                listener()
            except OSError:
                pass

    def __bool__(self) -> bool:
        return self.event.is_set()


@contextlib.contextmanager
def stop_on_signals(stop: StopFlag, forward: Callable[[], None] | None = None, chain: bool = False) -> Iterator[None]:
    """Sets ``stop`` on a stop signal and calls ``forward`` (e.g. to pass SIGTERM on to child processes).
    A second Ctrl-C aborts at once. ``chain``: also call the handler that was installed before (submitit's
    requeue handler on Slurm)."""
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: FrameType | None) -> None:
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
        for signum, old in previous.items():
            signal.signal(signum, old)
