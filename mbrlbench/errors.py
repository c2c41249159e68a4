"""Errors the CLI reports as bad input: one line naming what to change, exit status 2, no traceback."""

from __future__ import annotations


class UserInputError(ValueError):
    """Raised at the source of a problem the user must fix (a flag, a file, a missing extra); the CLI prints
    its message as one line and exits 2 before any run starts."""
