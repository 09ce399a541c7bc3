"""What a finished run reports: rows logged, rows each sink received, and what failed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SinkReport:
    """Delivery figures for one sink."""

    name: str
    rows_delivered: int = 0
    rows_missed: int = 0
    first_missed_step: int | None = None
    error: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the sink received every row and never failed."""
        return self.rows_missed == 0 and self.error is None


@dataclass
class RunReport:
    """The outcome of ``run.finish()``."""

    run_id: str
    rows_logged: int
    nonfinite_values: int
    sinks: list[SinkReport]
    exit_code: int = 0
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        """True when every sink received every row."""
        return all(s.ok and s.rows_delivered == self.rows_logged for s in self.sinks)

    def lines(self) -> list[str]:
        """Human-readable summary, one line per sink."""
        out = [f"run {self.run_id}: {self.rows_logged} rows logged"
               + (f", {self.nonfinite_values} NaN/Inf values" if self.nonfinite_values else "")]
        for s in self.sinks:
            line = f"  {s.name}: {s.rows_delivered}/{self.rows_logged} rows"
            if s.rows_missed:
                line += f", MISSED {s.rows_missed} from step {s.first_missed_step}"
            if s.error:
                line += f" (error: {s.error})"
            where = s.info.get("where")
            if where:
                line += f" -> {where}"
            out.append(line)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "run_id": self.run_id,
            "rows_logged": self.rows_logged,
            "nonfinite_values": self.nonfinite_values,
            "exit_code": self.exit_code,
            "complete": self.complete,
            "sinks": [
                {"name": s.name, "rows_delivered": s.rows_delivered, "rows_missed": s.rows_missed,
                 "first_missed_step": s.first_missed_step, "error": s.error, **s.info}
                for s in self.sinks
            ],
        }
