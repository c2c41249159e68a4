"""One lock per run folder that works on shared filesystems: an exclusively created ``lock.json`` whose
holder refreshes a heartbeat. A lock is stale (and taken over) when its heartbeat is old, or at once when
its holder was a process on this host that no longer exists (a SIGKILLed run resumes without waiting)."""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from pathlib import Path

from mbrlbench.rundir import LOCK, atomic_write_text, read_json

HEARTBEAT_SECONDS = 15.0
STALE_SECONDS = 90.0
STOPPING_WAIT_SECONDS = 120.0  # how long a rerun waits for a holder that is stopping (checkpointing) to let go


class RunLocked(Exception):
    """Another live process holds the run; the caller skips it."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def holder_is_live(holder: dict | None, path: Path) -> bool:
    if holder is None:  # unreadable: trust the file's age instead
        try:
            return time.time() - path.stat().st_mtime < STALE_SECONDS
        except FileNotFoundError:
            return False
    age = time.time() - float(holder.get("heartbeat_unix", 0))
    if age > STALE_SECONDS:
        return False
    if holder.get("host") == socket.gethostname():
        return _pid_alive(int(holder.get("pid", -1)))
    return True


class RunLock:
    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK
        self.token = uuid.uuid4().hex
        self.held = False
        self.stopping = False

    def _record(self) -> dict:
        record = {"host": socket.gethostname(), "pid": os.getpid(), "token": self.token, "heartbeat_unix": time.time()}
        return {**record, "stopping": True} if self.stopping else record

    def acquire(self, wait: float = STOPPING_WAIT_SECONDS) -> RunLock:
        """Take the lock. A live holder that says it is stopping (its launcher died or was stopped, and it is
        writing its checkpoint) is waited for, at most ``wait`` seconds; any other live holder: ``RunLocked``."""
        deadline = time.time() + wait
        while True:
            holder = read_json(self.path)
            if not (holder or {}).get("stopping") or not holder_is_live(holder, self.path) or time.time() > deadline:
                break
            time.sleep(0.5)
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = read_json(self.path)
            if holder_is_live(holder, self.path):
                if (holder or {}).get("stopping"):
                    raise RunLocked(
                        f"{self.path.parent}: still held by {(holder or {}).get('host', '?')} pid "
                        f"{(holder or {}).get('pid', '?')}, stopping for over {wait:.0f}s; rerun when it has let go"
                    ) from None
                age = time.time() - float((holder or {}).get("heartbeat_unix", time.time()))
                who = f"{(holder or {}).get('host', '?')} pid {(holder or {}).get('pid', '?')}"
                raise RunLocked(f"{self.path.parent}: locked by {who} (heartbeat {age:.0f}s ago)") from None
            atomic_write_text(self.path, json.dumps(self._record()))  # take over the stale lock
            time.sleep(0.05)  # two takers at once: the last rename wins, the other sees a foreign token
            if (read_json(self.path) or {}).get("token") != self.token:
                raise RunLocked(f"{self.path.parent}: lock taken over by another process") from None
        else:
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(self._record()))
                f.flush()
                os.fsync(f.fileno())
        self.held = True
        return self

    def heartbeat(self) -> None:
        if self.held and (read_json(self.path) or {}).get("token") == self.token:
            atomic_write_text(self.path, json.dumps(self._record()))

    def mark_stopping(self) -> None:
        """Say in the lock that this holder is stopping: a rerun started meanwhile waits for it to let go."""
        self.stopping = True
        self.heartbeat()

    def release(self) -> None:
        if self.held and (read_json(self.path) or {}).get("token") == self.token:
            self.path.unlink(missing_ok=True)
        self.held = False

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
