"""The W&B writer sink: crash safety, the version guard's fallback, and its encoding."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from wandb.proto import wandb_internal_pb2 as pb
from wandb_records import history_items, wandb_records

import wandbkit
from wandbkit.sinks import wandb_proto as proto
from wandbkit.sinks import wandb_writer
from wandbkit.sinks.wandb_logfile import BLOCK, LogWriter, read_records
from wandbkit.sinks.wandb_sink import WandbSink
from wandbkit.sinks.wandb_writer import WandbWriterSink, choose_wandb_sink
from wandbkit.store import Store

KILLED = r'''
import sys, time
import wandbkit
run = wandbkit.init(project="crash", mode="offline", flush_interval=0.02)
print("DIR", run.id, flush=True)
step = 0
while True:
    run.log({"loss": 1.0 / (step + 1), "text": "x" * (step % 50)}, step=step)
    if step % 200 == 0 and run.flush(5):
        print("FLUSHED", step, flush=True)
    step += 1
    time.sleep(0.0002)
'''


def test_after_sigkill_wandb_reads_every_complete_record(offline_env: Path, tmp_path: Path) -> None:
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "WANDBKIT_QUIET": "1"})
    assert proc.stdout is not None
    run_id, flushed = "", -1
    for line in proc.stdout:
        if line.startswith("DIR"):
            run_id = line.split()[1]
        elif line.startswith("FLUSHED"):
            flushed = int(line.split()[1])
            if flushed >= 2_000:
                break
    proc.send_signal(signal.SIGKILL)  # mid-run: no finish, no exit record
    proc.wait(timeout=30)
    record = Store.open(offline_env).get_run(run_id)
    assert record.wandb_mode == "offline" and record.wandb_dir  # what `wandbkit sync` uploads
    records = wandb_records(record.wandb_dir)
    assert [r["type"] for r in records[:2]] == ["header", "run"]
    assert records[-1]["type"] != "exit"
    steps = [r["history"]["item"]["_step"] for r in records if r["type"] == "history"]
    # every row handed to the sink before the flush is there, in order, none twice; the last
    # flushed step's row is held by the writer (it may still get values at that step)
    assert steps == list(range(len(steps))) and len(steps) >= flushed
    # wandb's own sync takes the run as it is
    out = subprocess.run([str(Path(sys.executable).parent / "wandb"), "sync", "--dry-run",
                          record.wandb_dir], capture_output=True, text=True, timeout=120)
    assert "Would sync 1 run" in out.stdout + out.stderr


def test_a_torn_last_record_is_skipped_by_wandbs_reader(offline_env: Path) -> None:
    with wandbkit.init(project="p", mode="offline") as run:
        for step in range(50):
            run.log({"loss": float(step), "pad": "y" * 2_000}, step=step)  # crosses blocks
    path = next(Path(run.wandb["dir"]).glob("run-*.wandb"))
    full = path.read_bytes()
    assert len(full) > 2 * BLOCK
    path.write_bytes(full[:-20])  # the exit record cut in the middle, as a crash would
    records = wandb_records(run.wandb["dir"])
    assert [i["_step"] for i in (r["history"]["item"] for r in records if r["type"] == "history")
            ] == list(range(50))
    assert records[-1]["type"] != "exit"
    assert len(list(read_records(path))) == len(records)


def test_outside_the_tested_wandb_versions_the_sdk_worker_takes_over(
        offline_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(wandb_writer, "wandb_version", lambda: "0.30.2")
    sink = choose_wandb_sink("offline", offline_env)
    assert isinstance(sink, WandbSink)
    choose_wandb_sink("offline", offline_env)
    notices = [line for line in capsys.readouterr().err.splitlines() if "0.30.2" in line]
    assert len(notices) == 1 and "outside the versions" in notices[0]
    monkeypatch.setattr(wandb_writer, "wandb_version", lambda: "0.31.0")
    assert isinstance(choose_wandb_sink("offline", offline_env), WandbWriterSink)
    assert isinstance(choose_wandb_sink("online", offline_env), WandbSink)


def test_the_forced_fallback_logs_through_the_sdk_worker(offline_env: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDBKIT_WANDB_WRITER", "worker")
    with wandbkit.init(project="p", mode="offline") as run:
        for step in range(5):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
    header = wandb_records(run.wandb["dir"])[0]["header"]["version_info"]
    assert "+" in header["producer"]  # written by wandb-core itself (version+commit)
    assert [i["_step"] for i in history_items(run.wandb["dir"])] == list(range(5))
    assert run.report is not None and run.report.complete


def _pb_history(num: int, step: int, values: dict[str, object]) -> bytes:
    rec = pb.Record(num=num)
    for key, value in values.items():
        if isinstance(value, dict):
            for sub, leaf in value.items():
                item = rec.history.item.add()
                item.nested_key.extend([key, sub])
                item.value_json = proto.value_json(leaf)
            continue
        item = rec.history.item.add()
        item.nested_key.append(key)
        item.value_json = proto.value_json(value)
    rec.history.step.num = step
    rec.history.SetInParent()
    rec.history.step.SetInParent()
    return rec.SerializeToString()


@pytest.mark.parametrize("values", [
    {"loss": 0.5, "acc": 1, "ok": True, "s": "text"},
    {"ключ/λ": 1e-300, "x" * 200: -3, "long": "z" * 300, "nan": math.nan, "inf": -math.inf},
    {"img": {"_type": "image-file", "path": "media/images/a.png", "width": 4}, "n": 2 ** 40},
    {f"k{i}": i * 0.1 for i in range(120)},
    {"x": 0.1, "y": -7, "z": 1e300, "w": -2.5e-300},  # numbers only: the fast path
    {"x": 0.1, "huge": 10 ** 70},  # a 71-character value: the fast path falls back
    {"x": 0.1, "y" * 150: 2.0},  # a head longer than one varint byte
])
@pytest.mark.parametrize("step", [0, 1, 127, 128, 16383, 16384, 10 ** 9, -1])
def test_hand_encoded_history_is_the_bytes_protobuf_makes(values: dict[str, object],
                                                          step: int) -> None:
    encoded = proto.ItemEncoder().history(300, step, values)
    assert encoded == _pb_history(300, step, values)
    parsed = pb.Record()
    parsed.ParseFromString(encoded)
    assert parsed.history.step.num == step and len(parsed.history.item) >= len(values)


def test_other_records_parse_with_wandbs_classes() -> None:
    rec = pb.Record()
    rec.ParseFromString(proto.record(3, proto.REC_RUN, proto.run_record(
        run_id="abc", project="p", entity="team", config={"lr": 0.1, "opt": {"b": [1, 2]}},
        group="g", job_type="train", name="n", notes="hi", tags=["a", "b"], host="h",
        start_time=1_700_000_000.25, resume=True)))
    assert rec.num == 3 and rec.run.run_id == "abc" and rec.run.entity == "team"
    assert rec.run.start_time.seconds == 1_700_000_000 and rec.run.start_time.nanos == 250_000_000
    assert {i.key: json.loads(i.value_json) for i in rec.run.config.update} == {
        "lr": 0.1, "opt": {"b": [1, 2]}}
    assert list(rec.run.tags) == ["a", "b"] and rec.run.resume
    rec.ParseFromString(proto.record(4, proto.REC_ALERT, proto.alert("t", "x", "WARN", 60_000)))
    assert (rec.alert.title, rec.alert.level, rec.alert.wait_duration) == ("t", "WARN", 60_000)
    rec.ParseFromString(proto.record(5, proto.REC_EXIT, proto.exit_record(0, 12)))
    assert rec.WhichOneof("record_type") == "exit" and rec.exit.runtime == 12


def test_records_larger_than_a_block_are_split_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "x.wandb"
    log = LogWriter(path)
    payloads = [bytes([i % 256]) * size for i, size in
                enumerate([10, BLOCK - 20, 5, 3 * BLOCK + 7, BLOCK - 7 - 7, 1, 70_000])]
    for data in payloads:
        log.append(data)
    log.close()
    assert list(read_records(path)) == payloads


@pytest.mark.parametrize(("interval", "expect_samples"), [("0.05", True), ("0", False)])
def test_system_metrics_are_sampled_at_their_interval(offline_env: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      interval: str, expect_samples: bool) -> None:
    monkeypatch.setenv("WANDBKIT_WANDB_STATS_S", interval)
    with wandbkit.init(project="p", mode="offline", flush_interval=0.02) as run:
        for step in range(30):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
            time.sleep(0.02)
    stats = [r["stats"] for r in wandb_records(run.wandb["dir"]) if r["type"] == "stats"]
    if not expect_samples:
        assert stats == []
        return
    assert len(stats) >= 3
    assert all(0 <= s["item"]["memory_percent"] <= 100 and s["item"]["proc.memory.rssMB"] > 0
               for s in stats)
    assert all("timestamp" in s for s in stats)


@pytest.mark.parametrize("sink", ["writer", "worker"])
def test_wandb_dir_set_by_the_user_holds_the_run_folder(offline_env: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        sink: str) -> None:
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "mine"))
    (tmp_path / "mine").mkdir()
    if sink == "worker":
        monkeypatch.setenv("WANDBKIT_WANDB_WRITER", "worker")
    with wandbkit.init(project="p", mode="offline") as run:
        run.log({"loss": 1.0})
    run_dir = Path(run.wandb["dir"])
    assert run_dir.parent == tmp_path / "mine" / "wandb"
    assert run_dir.name == f"offline-run-{run_dir.name.split('-')[2]}-{run.id}"
    assert [i["_step"] for i in history_items(run_dir)] == [0]


def test_a_row_whose_step_goes_backwards_is_dropped_with_its_media(offline_env: Path) -> None:
    import numpy as np

    with wandbkit.init(project="p", mode="offline") as run:
        run.log({"loss": 1.0}, step=5)
        run.log({"loss": 2.0, "img": wandbkit.Image(np.zeros((4, 4, 3), np.uint8))}, step=3)
        run.log({"loss": 3.0}, step=6)
    assert [i["_step"] for i in history_items(run.wandb["dir"])] == [5, 6]
    assert not (Path(run.wandb["dir"]) / "files" / "media").exists()
    report = next(s for s in run.report.sinks if s.name == "wandb")  # type: ignore[union-attr]
    assert report.rows_delivered == 2 and report.rows_missed == 1
    assert "first at step 3" in (report.error or "")
