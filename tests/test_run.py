"""The run API end to end: real wandb offline and the real SQLite store, read back."""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from wandb_records import history_items, wandb_records

import wandbkit
from wandbkit.errors import UserError
from wandbkit.store import Store


def test_every_row_reaches_wandb_and_the_store_with_its_step(offline_env: Path) -> None:
    run = wandbkit.init(project="p", config={"lr": 0.1}, tags=["t"], mode="offline")
    for step in range(200):
        run.log({"train/loss": 1.0 / (step + 1), "train/step_i": step}, step=step)
    report = run.finish()

    assert report.complete, report.lines()
    assert report.rows_logged == 200
    history = Store.open().history(run.id)
    assert [s for s, _ in history["train/loss"]] == list(range(200))
    assert history["train/loss"][9][1] == pytest.approx(0.1)

    items = history_items(run.wandb["dir"])
    assert [i["_step"] for i in items] == list(range(200))
    assert items[4]["train/loss"] == pytest.approx(0.2)
    assert run.wandb["id"] == run.id and run.wandb["mode"] == "offline"


def test_values_of_every_accepted_type_are_converted(offline_env: Path) -> None:
    torch = pytest.importorskip("torch")
    with wandbkit.init(project="p", mode="offline") as run:
        run.log({
            "f": 1.5, "i": 3, "b": True, "np_f": np.float32(2.5), "np_i": np.int64(7),
            "nested": {"a": 1.0, "deeper": {"b": 2.0}},
            "t0": torch.tensor(4.25), "t_int": torch.tensor(9),
            "t_grad": torch.ones((), requires_grad=True) * 2,
            "nan": math.nan, "inf": math.inf, "t_nan": torch.tensor(float("nan")),
        })
    assert run.report is not None and run.report.complete
    assert run.report.nonfinite_values == 3
    history = Store.open().history(run.id)
    last = {k: v[-1][1] for k, v in history.items()}
    assert last["f"] == 1.5 and last["i"] == 3 and last["b"] == 1.0
    assert last["np_f"] == 2.5 and last["np_i"] == 7
    assert last["nested/a"] == 1.0 and last["nested/deeper/b"] == 2.0
    assert last["t0"] == 4.25 and last["t_int"] == 9 and last["t_grad"] == 2.0
    assert math.isnan(last["nan"]) and last["inf"] == math.inf and math.isnan(last["t_nan"])
    item = history_items(run.wandb["dir"])[0]
    assert item["nested/deeper/b"] == 2.0 and item["t0"] == 4.25 and item["inf"] == "Infinity"


def test_media_reach_both_sinks(offline_env: Path) -> None:
    with wandbkit.init(project="p", mode="offline") as run:
        run.log({"img": wandbkit.Image(np.random.rand(8, 8, 3), caption="noise"),
                 "hist": wandbkit.Histogram(np.arange(100.0), num_bins=10),
                 "table": wandbkit.Table(["a", "b"], [[1, "x"], [2, "y"]])})
    media = {m["key"]: m for m in Store.open().media(run.id)}
    assert Path(media["img"]["path"]).read_bytes()[:4] == b"\x89PNG"
    assert media["hist"]["meta"]["counts"] == [10.0] * 10
    assert media["table"]["meta"]["rows"] == 2
    item = history_items(run.wandb["dir"])[0]
    assert item["img._type"] == "image-file" and item["img.caption"] == "noise"
    assert item["hist._type"] == "histogram" and item["hist.values"] == [10] * 10
    assert item["table._type"] == "table-file"


def test_summary_and_config_updates_reach_both_sinks(offline_env: Path) -> None:
    with wandbkit.init(project="p", mode="offline", config={"lr": 0.1}) as run:
        run.log({"acc": 0.5})
        run.summary["best_acc"] = 0.9
        run.config.update({"batch_size": 32})
    record = Store.open().get_run(run.id)
    assert record.summary == {"acc": 0.5, "best_acc": 0.9}
    assert record.config == {"lr": 0.1, "batch_size": 32}
    text = str(wandb_records(run.wandb["dir"]))
    assert "best_acc" in text and "batch_size" in text


def test_an_exception_inside_the_context_marks_the_run_failed(offline_env: Path) -> None:
    with pytest.raises(RuntimeError):
        with wandbkit.init(project="p", mode="offline") as run:
            run.log({"x": 1})
            raise RuntimeError("boom")
    record = Store.open().get_run(run.id)
    assert (record.state, record.exit_code) == ("failed", 1)
    assert Store.open().row_count(run.id) == 1


def test_runs_one_after_another_and_log_after_finish(
        offline_env: Path,
        capfd: pytest.CaptureFixture[str],
) -> None:
    first = wandbkit.init(project="p", mode="disabled")
    first.log({"x": 1})
    second = wandbkit.init(project="p", mode="disabled")  # finishes the first one
    assert first.report is not None and first.report.rows_logged == 1
    first.log({"x": 2})
    second.log({"x": 3})
    second.finish()
    assert "is finished; log() is ignored" in capfd.readouterr().err
    store = Store.open()
    assert store.row_count(first.id) == 1 and store.row_count(second.id) == 1
    assert wandbkit.get_run() is None


def test_a_full_queue_blocks_instead_of_dropping(offline_env: Path) -> None:
    run = wandbkit.init(project="p", mode="offline", queue_size=8, flush_interval=0.5)
    for step in range(500):
        run.log({"x": float(step)})
    report = run.finish()
    assert report.complete and report.rows_logged == 500
    assert len(history_items(run.wandb["dir"])) == 500


def test_threads_logging_at_once_lose_nothing(offline_env: Path) -> None:
    run = wandbkit.init(project="p", mode="offline")

    def worker(k: int) -> None:
        for _ in range(250):
            run.log({f"thread{k}": 1.0})

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = run.finish()
    assert report.complete and report.rows_logged == 1000
    steps = [i["_step"] for i in history_items(run.wandb["dir"])]
    assert steps == list(range(1000))


def test_decreasing_steps_are_reported_not_hidden(offline_env: Path) -> None:
    run = wandbkit.init(project="p", mode="offline")
    run.log({"x": 1}, step=10)
    run.log({"x": 2}, step=5)
    report = run.finish()
    wandb_report = next(s for s in report.sinks if s.name == "wandb")
    assert wandb_report.rows_delivered == 1 and wandb_report.rows_missed == 1
    assert "step went backwards" in (wandb_report.error or "")
    assert not report.complete
    assert Store.open().row_count(run.id) == 2


def test_forked_child_does_not_log_into_the_parents_run(offline_env: Path) -> None:
    run = wandbkit.init(project="p", mode="disabled")
    run.log({"x": 1.0})
    pid = os.fork()
    if pid == 0:  # child: its log is ignored and its exit must not finish the parent's run
        run.log({"x": 99.0})
        os._exit(0 if wandbkit.get_run() is None else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    run.log({"x": 2.0})
    run.finish()
    values = [v for _, v in Store.open().history(run.id)["x"]]
    assert values == [1.0, 2.0]


def test_alerts_are_kept_in_the_store(offline_env: Path) -> None:
    with wandbkit.init(project="p", mode="offline") as run:
        run.log({"loss": math.nan}, step=3)
        run.alert("NaN loss", "loss became NaN at step 3", level="error")
    alerts = Store.open().alerts(run.id)
    assert [(a["level"], a["title"], a["step"]) for a in alerts] == [("error", "NaN loss", 3)]


def test_log_artifact_is_recorded_by_wandb_offline(offline_env: Path, tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "weights.bin").write_bytes(b"\0" * 1024)
    with wandbkit.init(project="p", mode="offline") as run:
        run.log({"x": 1})
        run.log_artifact(ckpt, name="model", aliases=["best"], metadata={"step": 1})
    assert run.report is not None and run.report.complete
    records = wandb_records(run.wandb["dir"])
    artifacts = [r for r in records if r.get("type") == "artifact"]
    assert artifacts, [r.get("type") for r in records]
    assert "best" in str(artifacts[0])


def test_bad_arguments_are_user_errors(offline_env: Path) -> None:
    with pytest.raises(UserError, match="mode='cloud' is not one of"):
        wandbkit.init(project="p", mode="cloud")
    with pytest.raises(UserError, match="unknown sink"):
        wandbkit.init(project="p", mode="offline", sinks=["tensorboard"])
    with pytest.raises(UserError, match="config must be"):
        wandbkit.init(project="p", mode="offline", config=42)
