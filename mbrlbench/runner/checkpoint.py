"""``checkpoint.pt``: written to a temp file and renamed, so a kill or a full disk mid-save keeps the
previous checkpoint; a failed write reports the operating system's reason (e.g. "No space left on device"),
not the serializer's."""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path
from typing import IO, Any, cast

import torch

from mbrlbench.rundir import FAULT, die, fault_now, temp_beside
from mbrlbench.support.safe_torch import UnsafeFileError, load_data


class CheckpointWriteError(OSError):
    """Saving a checkpoint failed; ``strerror`` is the OS's reason. The previous checkpoint is intact."""


class _FaultyFile(io.RawIOBase):
    """Test fault ``disk_full:N``: the N-th checkpoint write fails with ENOSPC halfway, as on a full disk."""

    def __init__(self, f: io.BufferedWriter, room: int) -> None:
        self.f, self.room = f, room

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.f.write(data)


def _os_error(err: BaseException) -> OSError | None:
    """The OSError behind a failed save (torch wraps its writer's error in a RuntimeError)."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, OSError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def save_checkpoint(path: Path, state: dict[str, Any], faults: bool = True) -> None:
    """``faults``: this write counts for the crash tests' injected faults (checkpoint.pt's do, policy.pt's not)."""
    fd, tmp = temp_beside(path)
    os.close(fd)
    try:
        with open(tmp, "wb") as f:
            if faults and FAULT and fault_now("disk_full"):
                torch.save(state, cast(IO[bytes], _FaultyFile(f, room=1024)))
            else:
                torch.save(state, f)
            if faults and FAULT and fault_now("checkpoint"):  # a kill halfway through the write
                f.flush()
                os.truncate(tmp, os.path.getsize(tmp) // 2)
                die()
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except Exception as err:
        Path(tmp).unlink(missing_ok=True)  # frees the space the partial file took
        cause = _os_error(err)
        if cause is not None:
            reason = cause.strerror or str(cause)
            raise CheckpointWriteError(cause.errno, f"cannot write checkpoint {path}: {reason}") from err
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: Path, device: torch.device) -> dict[str, Any]:
    """``checkpoint.pt`` as data (see ``load_data``); ``UnsafeFileError`` or ``ValueError`` naming the file."""
    try:
        state = load_data(path, device)
    except UnsafeFileError:
        raise
    except Exception as err:  # truncated or foreign: torch raises many kinds
        raise ValueError(f"{path}: unreadable checkpoint ({type(err).__name__}: {str(err).splitlines()[0]})") from None
    if not isinstance(state, dict) or "algorithm" not in state:
        raise ValueError(f"{path}: not an mbrlbench checkpoint")
    return state
