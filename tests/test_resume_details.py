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


def test_the_wandb_summary_of_a_resumed_run_covers_every_process(offline_env: Path) -> None:
    from tests.wandb_records import wandb_records

    first = wandbkit.init(project="p", id="job-3", resume="allow", mode="offline")
    first.define_metric("loss", summary="min,max,mean")
    for loss in [1.0, 2.0, 3.0, 4.0, 5.0]:
        first.log({"loss": loss})
    first.finish(exit_code=1, quiet=True)
    second = wandbkit.init(project="p", id="job-3", resume="allow", mode="offline")
    second.define_metric("loss", summary="min,max,mean")
    for loss in [50.0, 51.0, 52.0, 53.0, 54.0]:
        second.log({"loss": loss})
    second.finish(quiet=True)
    dirs = Store.open(readonly=True).offline_dirs("job-3")
    assert len(dirs) == 2
    summary: dict = {}
    for record in wandb_records(dirs[-1]):
        if record.get("type") == "summary":
            summary.update(record["summary"].get("update", {}))
    loss = summary.get("loss") or {k[5:]: v for k, v in summary.items() if k.startswith("loss.")}
    assert loss == {"min": 1.0, "max": 54.0, "mean": pytest.approx(sum([15.0, 260.0]) / 10)}
