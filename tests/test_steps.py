"""Steps that go backwards, are negative or are not whole numbers: one warning (or one error) at
``log`` time that names the step, the rule and what W&B does — and then that is what happens.

wandb 0.31, measured: a step below the current one prints "Tried to log to step 3 that is less
than the current step 5. Steps must be monotonically increasing, so this data will be ignored"
and drops the row (a negative first step too); ``log(step=7.5)`` raises TypeError.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from wandb_records import history_items

import wandbkit
from wandbkit.errors import UserError
from wandbkit.store import Store


def test_a_lower_step_is_named_at_log_time_and_w_and_b_drops_it(
        offline_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = wandbkit.init(project="p", mode="offline")
    run.log({"x": 1.0}, step=5)
    run.log({"x": 2.0}, step=3)
    err = capsys.readouterr().err  # at log time, before any flush or finish
    assert "log(step=3)" in err and "below step 5" in err
    assert "only increase" in err and "W&B ignores this row" in err and "store keeps" in err
    assert "resumed" not in err and "preempt" not in err
    run.log({"x": 3.0}, step=2)
    assert "log(step=" not in capsys.readouterr().err  # one warning per run
    run.log({"x": 4.0}, step=6)
    report = run.finish(quiet=True)
    assert [s for s, _ in Store.open().history(run.id)["x"]] == [5, 3, 2, 6]  # the store keeps
    assert [i["_step"] for i in history_items(run.wandb["dir"])] == [5, 6]  # W&B drops
    wandb_report = next(s for s in report.sinks if s.name == "wandb")
    assert wandb_report.rows_missed == 2


def test_a_negative_step_in_a_new_run_says_so_without_talk_of_resuming(
        offline_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = wandbkit.init(project="p", mode="offline")
    run.log({"x": 1.0}, step=-5)
    err = capsys.readouterr().err
    assert "log(step=-5): the step is negative" in err and "W&B ignores this row" in err
    assert "resumed" not in err and "preempt" not in err
    run.log({"x": 2.0}, step=0)
    run.finish(quiet=True)
    assert [i["_step"] for i in history_items(run.wandb["dir"])] == [0]


def test_a_fractional_step_is_refused_and_whole_numbers_of_any_type_are_steps(
        offline_env: Path) -> None:
    run = wandbkit.init(project="p", mode="disabled")
    with pytest.raises(UserError, match=r"log\(step=2.5\): a step must be a whole number"):
        run.log({"x": 1.0}, step=2.5)
    with pytest.raises(UserError, match="whole number"):
        run.log({"x": 1.0}, step="3")
    run.log({"x": 1.0}, step=3.0)
    run.log({"x": 2.0}, step=np.int64(4))
    run.log({"x": 3.0}, step=np.float32(5.0))
    run.finish(quiet=True)
    assert [s for s, _ in Store.open().history(run.id)["x"]] == [3, 4, 5]
