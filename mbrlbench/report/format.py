"""How numbers look in every table of the report (one place, so the tables agree)."""

from __future__ import annotations

import math
from pathlib import Path


def fmt(x: float | None, digits: int = 0) -> str:
    """``1,234`` (``digits`` decimals); ``–`` for a missing or non-finite number."""
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:,.{digits}f}"


def pct(value: float) -> str:
    """``±23%`` of a reference mean; ``–`` where undefined."""
    return f"±{value:.0f}%" if isinstance(value, float | int) and math.isfinite(value) else "–"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
