"""The unit of logged data that flows from ``run.log`` to every sink."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Row:
    """One ``run.log`` call after conversion: a step, a wall-clock time and flat values.

    ``values`` maps ``a/b`` keys to ``int``, ``float`` (NaN and Inf kept), ``bool``, ``str`` or a
    media object from :mod:`wandbkit.media`.
    """

    step: int
    time: float
    values: dict[str, Any] = field(default_factory=dict)
