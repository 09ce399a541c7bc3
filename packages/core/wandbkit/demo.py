"""``wandbkit demo``: stages that installed plugins contribute, run in order.

Core does not know what a demo trains: each plugin registers the stage it owns through
``wandbkit_register_demo_stages`` (the toy model, its smoke test and training, a sweep, an HF
fine-tune) and core runs them in ``order``, each under its own progress line, then prints a
summary of what they made. A stage of a plugin that is not installed is skipped with a one-line
note; a stage that raises stops the demo, which names it and exits non-zero.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandbkit.errors import WandbkitError


@dataclass(frozen=True)
class DemoStage:
    """One step of ``wandbkit demo``.

    :param name: a short id (``"sweep"``), used in messages and as the key of its results.
    :param title: one line that says what the stage does, shown while it runs.
    :param order: stages run by ascending order (toy model 5, smoke 10, train 20, sweep 30,
        preempt 35, hf 40, dashboard 80).
    :param run: ``run(ctx)`` does the work and returns a dict of facts for the summary
        (run ids, best values, paths), or None; it raises to fail the demo.
    """

    name: str
    title: str
    order: int
    run: Callable[[DemoContext], dict[str, Any] | None]


@dataclass
class DemoContext:
    """What every stage gets: where to write, how big to be, and what earlier stages made.

    :param store_dir: the local store the demo's runs go to.
    :param project: the project name of every demo run.
    :param mode: the W&B mode of demo runs (``offline`` unless asked otherwise).
    :param quick: tests ask for a tiny version of every stage.
    :param work_dir: a scratch folder for files a stage writes (inside the store).
    :param shared: objects a stage publishes for later ones (``shared["demo_model"]``).
    :param results: the facts each finished stage returned, by stage name.
    :param progress: a ``rich.progress.Progress`` on which a stage may add its own bars.
    """

    store_dir: Path
    project: str = "wandbkit-demo"
    mode: str = "offline"
    quick: bool = False
    work_dir: Path = Path(".")
    shared: dict[str, Any] = field(default_factory=dict)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    progress: Any = None

    @contextlib.contextmanager
    def in_store(self) -> Iterator[None]:
        """While inside, references that default to ``$WANDBKIT_DIR`` (``resolve("NAME:best")``,
        a new run's store) resolve in the demo's store; the variable is restored after."""
        before = os.environ.get("WANDBKIT_DIR")
        os.environ["WANDBKIT_DIR"] = str(self.store_dir)
        try:
            yield
        finally:
            if before is None:
                os.environ.pop("WANDBKIT_DIR", None)
            else:
                os.environ["WANDBKIT_DIR"] = before


# Stages the demo shows when their plugin is installed: name -> (what it does, the package).
# Only used to tell a user what they are missing; the stages themselves come from the plugins.
KNOWN_STAGES: dict[str, tuple[str, str]] = {
    "toy-model": ("the toy ARR-COC vision-language model and its metrics", "wandbkit-vlm"),
    "smoke": ("smoke-validate the toy model", "wandbkit-torch"),
    "train": ("train the toy model with the tracker and checkpoints", "wandbkit-torch"),
    "sweep": ("a small local sweep with hyperband", "wandbkit-sweeps"),
    "preempt": ("a preempted job resumes its run bit-exactly", "wandbkit-artifacts"),
    "hf": ("fine-tune a tiny HF model through the Trainer callback", "wandbkit-hf"),
    "lightning": ("train a tiny LightningModule with WandbkitLogger", "wandbkit-lightning"),
    "dashboard": ("the dashboard serves the demo's runs", "wandbkit-gradio"),
}


class DemoStageFailed(WandbkitError):
    """A demo stage raised; the message names the stage and what went wrong."""

    def __init__(self, stage: str, exc: BaseException) -> None:
        super().__init__(f"demo stage {stage!r} failed: {type(exc).__name__}: {exc}")
        self.stage = stage


def collect_demo_stages() -> list[DemoStage]:
    """Every stage registered by installed plugins, sorted by ``order``, then name."""
    from wandbkit.plugins import collect

    stages = collect("wandbkit_register_demo_stages")
    names = [s.name for s in stages]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise WandbkitError(f"two plugins registered demo stages with the same name: {dupes}")
    return sorted(stages, key=lambda s: (s.order, s.name))


def missing_stages(stages: list[DemoStage]) -> list[str]:
    """One line per known stage whose plugin is not installed."""
    present = {s.name for s in stages}
    return [f"skipped {name}: {what} (pip install {package})"
            for name, (what, package) in KNOWN_STAGES.items() if name not in present]


@dataclass
class StageOutcome:
    """How one stage went."""

    name: str
    title: str
    seconds: float
    facts: dict[str, Any]


def run_stages(stages: list[DemoStage], ctx: DemoContext,
               on_start: Callable[[DemoStage], None] | None = None) -> list[StageOutcome]:
    """Run ``stages`` in order; the first that raises stops the demo with :class:`DemoStageFailed`."""
    outcomes: list[StageOutcome] = []
    for stage in stages:
        if on_start is not None:
            on_start(stage)
        started = time.monotonic()
        try:
            facts = stage.run(ctx) or {}
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit from a stage is a failure too
            raise DemoStageFailed(stage.name, exc) from exc
        ctx.results[stage.name] = dict(facts)
        outcomes.append(StageOutcome(stage.name, stage.title, time.monotonic() - started,
                                     dict(facts)))
    return outcomes
