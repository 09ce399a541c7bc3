"""Small helpers shared by the checks that train: rounding curves for reports."""

from __future__ import annotations

import math


def rounded(curve: list[float], digits: int = 5) -> list[float | str]:
    """The curve with each value to ``digits`` significant digits; NaN/Inf kept as strings."""
    out: list[float | str] = []
    for v in curve:
        out.append(float(f"{v:.{digits}g}") if math.isfinite(v) else str(v))
    return out


def finite(curve: list[float]) -> bool:
    """True when every value is a finite number."""
    return all(math.isfinite(v) for v in curve)
