"""Quick-validation checks contributed through ``wandbkit_register_smoke_checks``.

The runner (``wandbkit smoke``) lives in the plugin that knows the framework (torch-manual);
core only defines what a check and its verdict are, so any plugin can add checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["pass", "warn", "fail", "skip"]


@dataclass
class Verdict:
    """The outcome of one check: a status, a one-line reason and the numbers behind it."""

    name: str
    status: Status
    reason: str
    numbers: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"name": self.name, "status": self.status, "reason": self.reason,
                "numbers": self.numbers, "seconds": round(self.seconds, 4)}


@dataclass(frozen=True)
class SmokeCheck:
    """A named check: ``fn(ctx) -> Verdict``, run in ``order``."""

    name: str
    fn: Callable[[Any], Verdict]
    description: str = ""
    order: int = 100


def collect_smoke_checks() -> list[SmokeCheck]:
    """Every check registered by installed plugins, sorted by ``order``."""
    from wandbkit.plugins import collect

    return sorted(collect("wandbkit_register_smoke_checks"), key=lambda c: (c.order, c.name))
