"""What a sink is: a destination for a run's rows, summary, config, alerts and artifacts.

Sinks run on the run's background flusher thread, never on the training thread. A sink that
raises is isolated by the run (reported once, the others go on); it never has to catch its own
errors to protect training. A sink that is slow holds back delivery, not training, until the
bounded queue fills: keep ``write`` fast or move the work to your own thread or process, as the
W&B sink does.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wandbkit.rows import Row
    from wandbkit.run import Run


@dataclass
class ArtifactRecord:
    """A file or folder to keep as a versioned artifact (W&B Artifact in the W&B sink)."""

    path: str
    name: str
    type: str = "model"
    aliases: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    step: int | None = None


@dataclass
class AlertRecord:
    """An event worth a person's attention (NaN loss, exploding gradients, ...)."""

    title: str
    text: str
    level: str = "warn"
    step: int | None = None
    time: float = 0.0


class Sink(ABC):
    """Base class for sinks; override what you need (``write`` at least).

    :attr name: unique short name, used in reports and in ``wandbkit.init(sinks=[...])``.
    """

    name: str = "sink"

    def start(self, run: Run) -> None:
        """Prepare to receive data for ``run`` (open files, connect). Runs on the flusher."""

    @abstractmethod
    def write(self, rows: list[Row]) -> None:
        """Receive a batch of rows, in the order they were logged."""

    def update_summary(self, summary: dict[str, Any]) -> None:
        """Receive explicit summary values (``run.summary[k] = v``)."""

    def update_config(self, config: dict[str, Any]) -> None:
        """Receive config updates (``run.config.update(...)``)."""

    def alert(self, alert: AlertRecord) -> None:
        """Receive an alert raised with ``run.alert``."""

    def log_artifact(self, artifact: ArtifactRecord) -> None:
        """Receive an artifact logged with ``run.log_artifact``."""

    def on_link(self, source: str, info: dict[str, Any]) -> None:
        """Learn where another sink keeps this run (the W&B sink reports its id, path, URL)."""

    def finish(self, exit_code: int) -> dict[str, Any]:
        """Flush and close. Return facts for the run report: ``where`` is shown; ``delivered``,
        if present, is the number of rows the destination confirmed (it overrides the count of
        rows handed to ``write``)."""
        return {}
