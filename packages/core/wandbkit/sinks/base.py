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
    from wandbkit.saved_files import SavedFiles


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


SUMMARY_KINDS = ("min", "max", "mean", "last", "first", "none")
GOALS = ("minimize", "maximize")


@dataclass
class MetricDefinition:
    """How a metric is summarised and plotted (``run.define_metric``, W&B's ``define_metric``).

    :attr name: a key, or a glob ending in ``*`` (``val/*``).
    :attr step_metric: the key used as this metric's x-axis.
    :attr summary: aggregates kept in the summary (``min``, ``max``, ``mean``, ``last``,
        ``first``); ``none`` keeps none; empty keeps the last value (the default).
    :attr goal: ``minimize`` or ``maximize``.
    """

    name: str
    step_metric: str | None = None
    summary: list[str] = field(default_factory=list)
    goal: str | None = None
    hidden: bool | None = None
    step_sync: bool | None = None

    @classmethod
    def build(cls, name: str, step_metric: str | None = None, summary: str | None = None,
              goal: str | None = None, hidden: bool | None = None,
              step_sync: bool | None = None) -> MetricDefinition:
        """Validate the arguments of ``define_metric``.

        :raises UserError: for an empty name, an unknown summary or goal.
        """
        from wandbkit.errors import UserError

        if not isinstance(name, str) or not name:
            raise UserError(f"define_metric: name must be a non-empty string, got {name!r}")
        kinds = [k.strip().lower() for k in (summary or "").split(",") if k.strip()]
        unknown = [k for k in kinds if k not in SUMMARY_KINDS]
        if unknown:
            raise UserError(f"define_metric({name!r}): summary {unknown[0]!r} is not one of "
                            f"{', '.join(SUMMARY_KINDS)}")
        if goal is not None and goal not in GOALS:
            raise UserError(f"define_metric({name!r}): goal must be minimize or maximize, "
                            f"got {goal!r}")
        return cls(name, step_metric, kinds, goal, hidden, step_sync)

    def matches(self, key: str) -> bool:
        """True when this definition applies to ``key`` (exact name or ``prefix*`` glob)."""
        if self.name.endswith("*"):
            return key.startswith(self.name[:-1])
        return key == self.name

    def wandb_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``wandb.define_metric`` for this definition."""
        # No ``goal``: wandb 0.31's define_metric has no such argument (a TypeError there);
        # the goal still reaches the store and the transaction-log writer's metric record.
        kwargs: dict[str, Any] = {"step_metric": self.step_metric, "hidden": self.hidden,
                                  "step_sync": self.step_sync}
        if self.summary:
            kwargs["summary"] = ",".join(self.summary)
        return {k: v for k, v in kwargs.items() if v is not None}


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

    def define_metric(self, definition: MetricDefinition) -> None:
        """Receive a metric definition (``run.define_metric``), in order with the rows: apply
        it to the rows that follow (summary aggregates, x-axis)."""

    def on_link(self, source: str, info: dict[str, Any]) -> None:
        """Learn where another sink keeps this run (the W&B sink reports its id, path, URL)."""

    def update_run(self, info: dict[str, Any]) -> None:
        """The run's ``name``, ``tags`` or ``notes`` changed after ``init`` (only the keys given)."""

    def save_files(self, saved: SavedFiles) -> None:
        """Keep files with the run (``run.save``): each ``(source, name)`` under the run's
        files, by ``saved.policy`` (``now``, ``live``: again at the end, ``end``)."""

    def mark_preempting(self, _: None = None) -> None:
        """The run is being preempted (a Slurm or spot signal): it ends next, in the state
        ``preempted`` (``run.final_state``), and a later process may resume it. Resumed runs
        carry ``run.settings.fragment`` (0 for the first process) and ``start_step``."""

    def heartbeat(self) -> None:
        """Called every ``$WANDBKIT_HEARTBEAT_S`` seconds (30) while the run lives: say so
        where other machines can see it (the store's ``runs.heartbeat_at``)."""

    def finish(self, exit_code: int) -> dict[str, Any]:
        """Flush and close. Return facts for the run report: ``where`` is shown; ``delivered``,
        if present, is the number of rows the destination confirmed (it overrides the count of
        rows handed to ``write``)."""
        return {}
