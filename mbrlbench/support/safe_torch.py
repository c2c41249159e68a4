"""``.pt`` files from run folders, loaded as data. Run folders travel between labs and ``mbrlbench eval`` exists
to load policies someone else trained, so a pickle that names code (``os.system`` in a ``__reduce__``) must be
refused before any of it runs: ``torch.load(weights_only=True)``, whose restricted unpickler builds tensors,
numbers, strings, lists and mappings only, plus an explicit allow-list for numpy arrays of plain dtypes."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy._core.multiarray import _reconstruct as np_reconstruct

# What a checkpoint may hold beyond tensors and plain data: numpy arrays of plain dtypes (env states, RNG
# states, unfinished episodes). The restricted unpickler builds nothing else; an array's items go through it too.
NUMPY_ARRAYS: list[Any] = [
    np.ndarray,
    np.dtype,
    np_reconstruct,
    *(
        getattr(np.dtypes, name)
        for name in (
            "Float64DType",
            "Float32DType",
            "Float16DType",
            "Int64DType",
            "Int32DType",
            "Int16DType",
            "Int8DType",
            "UInt64DType",
            "UInt32DType",
            "UInt16DType",
            "UInt8DType",
            "BoolDType",
        )
    ),
]


class UnsafeFileError(ValueError):
    """A file from a run folder asks to build something other than tensors, plain data and numpy arrays."""


def load_data(path: Path, device: torch.device | str = "cpu") -> Any:
    """A ``.pt`` file of a run folder, loaded as data: ``torch.load(weights_only=True)`` with numpy arrays
    allowed and nothing else; a file that names any other code is refused before any of it runs
    (``UnsafeFileError`` naming the file)."""
    try:
        with torch.serialization.safe_globals(NUMPY_ARRAYS):
            return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as err:
        detail = next((line for line in str(err).splitlines() if "GLOBAL" in line or "allowlisted" in line), "")
        if not detail:  # not a refusal of code: a truncated or foreign file (the caller says "unreadable")
            raise
        raise UnsafeFileError(
            f"{path}: refused: it asks to build objects beyond tensors, numbers, strings and arrays; files from run "
            f"folders are loaded as data only ({detail.strip()[:160]})"
        ) from None
