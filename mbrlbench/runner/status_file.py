"""A run's ``status.json`` (rewritten atomically from two threads) and the heartbeat thread that keeps it and
the folder's lock fresh while one long phase runs."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mbrlbench.rundir import json_safe, read_status, write_json
from mbrlbench.runner.lock import HEARTBEAT_SECONDS
from mbrlbench.runner.run_config import now


class StatusFile:
    """``status.json``, rewritten atomically. The main thread and the heartbeat thread both write it, so
    every change and write happens under one lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = read_status(path.parent)
        self._lock = threading.Lock()

    def write(self, **changes: Any) -> None:
        with self._lock:
            self.data.update(changes, heartbeat=now(), heartbeat_unix=time.time())
            try:
                write_json(self.path, self.data)
            except OSError:
                # a full disk: the atomic write needs a second file; overwriting the old one in place may
                # still fit in its blocks (the caller's next write retries the atomic way)
                with contextlib.suppress(OSError), open(self.path, "r+") as f:
                    f.write(json.dumps(json_safe(self.data), indent=2, allow_nan=False) + "\n")
                    f.truncate()

    def update(self, **changes: Any) -> None:
        """Changes seen by the next write (the heartbeat's or the main thread's)."""
        with self._lock:
            self.data.update(changes)


class Heartbeat:
    """Refreshes the lock's and ``status.json``'s heartbeat from a thread, so that launchers and locks on
    shared filesystems see the run alive while one long phase (a model fit) runs."""

    def __init__(self, beat: Callable[[], None]) -> None:
        self._beat, self._stop = beat, threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            with contextlib.suppress(OSError):
                self._beat()

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
