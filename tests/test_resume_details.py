"""A resumed run's processes table and ``define_metric`` aggregates continue the earlier ones."""

from __future__ import annotations

from pathlib import Path

import pytest

import wandbkit
from wandbkit.store import Store


def test_a_restarted_process_is_listed_with_the_first_step_it_logged(offline_env: Path) -> None:
    first = wandbkit.init(project="p", id="job-1", resume="allow", mode="disabled")
    for step in range(10):
        first.log({"loss": 1.0}, step=step)
    first.finish(exit_code=1, quiet=True)
    # The job restarts from its checkpoint of step 6, not from after the last stored step.
    second = wandbkit.init(project="p", id="job-1", resume="allow", mode="disabled")
    assert second.settings.start_step == 10
    for step in range(6, 12):
        second.log({"loss": 0.5}, step=step)
    second.finish(quiet=True)
    fragments = Store.open(readonly=True).fragments("job-1")
    assert [(f["fragment"], f["start_step"]) for f in fragments] == [(0, 0), (1, 6)]


def test_define_metric_aggregates_continue_from_earlier_processes(offline_env: Path) -> None:
    first = wandbkit.init(project="p", id="job-2", resume="allow", mode="disabled")
    first.define_metric("loss", summary="min,max,mean,first,last")
    first.define_metric("acc", summary="max")
    for step, loss in enumerate([4.0, 1.0, 3.0]):
        first.log({"loss": loss, "acc": float(step)})
    first.finish(exit_code=1, quiet=True)

    second = wandbkit.init(project="p", id="job-2", resume="allow", mode="disabled")
    second.define_metric("loss", summary="min,max,mean,first,last")
    second.define_metric("acc", summary="max")
    for loss in [2.0, 2.0]:
        second.log({"loss": loss, "acc": 0.5})
    second.finish(quiet=True)
    summary = Store.open(readonly=True).get_run("job-2").summary
    assert summary["loss"] == {"min": 1.0, "max": 4.0, "mean": pytest.approx(12.0 / 5),
                               "first": 4.0, "last": 2.0}
    assert summary["acc"] == {"max": 2.0}
