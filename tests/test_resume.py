"""Resuming a run by id: W&B's resume= modes, ids from the environment, the step rule, crashed
runs, heartbeats and the sync of fragments. Real runs, the real store, real wandb files."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner
from wandb_records import history_items, wandb_records

import wandbkit
from wandbkit.cli import build_app
from wandbkit.cli.sync import fragments_to_sync, runs_to_sync, wandb_sync_command
from wandbkit.errors import UserError
from wandbkit.resume import plan
from wandbkit.store import Store


def _train(run: wandbkit.Run, steps: range) -> None:
    for step in steps:
        run.log({"train/loss": 1.0 / (step + 1)}, step=step)


def _steps(records: list[dict]) -> list[int]:
    return [r["history"]["item"]["_step"] for r in records if r.get("type") == "history"]


def _cli(*args: str) -> str:
    result = CliRunner().invoke(build_app(), list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_allow_continues_the_stored_run_in_the_store_and_in_wandb(offline_env: Path) -> None:
    first = wandbkit.init(project="p", id="job-1", resume="allow", config={"lr": 0.1, "bs": 8},
                          mode="offline")
    assert not first.resumed and first.settings.fragment == 0
    _train(first, range(5))
    first.finish(exit_code=1)
    assert Store.open().get_run("job-1").state == "failed"

    second = wandbkit.init(project="p", id="job-1", resume="allow", config={"lr": 0.05},
                           mode="offline")
    assert second.resumed and second.settings.fragment == 1 and second.settings.start_step == 5
    assert dict(second.config) == {"lr": 0.05, "bs": 8}  # merged: the new value wins
    for _ in range(3):
        second.log({"train/loss": 0.01})  # no step given: continues after the stored ones
    assert second.step == 7
    second.flush()
    assert Store.open().get_run("job-1").state == "running"
    second.finish()

    store = Store.open()
    assert [r.id for r in store.runs()] == ["job-1"]
    record = store.get_run("job-1")
    assert record.state == "finished" and record.resumed == 1
    assert record.config == {"lr": 0.05, "bs": 8}
    assert [s for s, _ in store.history("job-1")["train/loss"]] == list(range(8))
    frags = store.fragments("job-1")
    assert [(f["fragment"], f["state"], f["start_step"]) for f in frags] == [
        (0, "failed", 0), (1, "finished", 5)]
    # W&B: two fragments of one run, same id, each with its own steps
    dirs = store.offline_dirs("job-1")
    assert len(dirs) == 2 and dirs[0] != dirs[1]
    for d, steps in zip(dirs, (range(5), range(5, 8)), strict=True):
        records = wandb_records(d)
        runs = [r["run"] for r in records if r.get("type") == "run"]
        assert runs[0]["run_id"] == "job-1"
        assert _steps(records) == list(steps)


def test_resume_modes_follow_wandb(offline_env: Path) -> None:
    with pytest.raises(UserError, match="no run 'nope'"):
        wandbkit.init(project="p", id="nope", resume="must", mode="offline")
    run = wandbkit.init(project="p", id="r1", mode="offline", sinks=["store"])
    run.finish()
    for mode in (None, "never"):
        with pytest.raises(UserError, match="already exists"):
            wandbkit.init(project="p", id="r1", resume=mode, mode="offline", sinks=["store"])
    with pytest.raises(UserError, match="resume='maybe' is not one of"):
        wandbkit.init(project="p", id="r1", resume="maybe")
    with pytest.raises(UserError, match="not a usable run id"):
        wandbkit.init(project="p", id="a/b", resume="allow")
    again = wandbkit.init(project="p", id="r1", resume="must", mode="offline", sinks=["store"])
    assert again.resumed
    again.log({"loss": 1.0})
    again.flush()
    with pytest.raises(UserError, match="still running \\(this process\\)"):
        plan("r1", "allow", again.store_dir, lambda: "x")  # two writers on one live run
    again.finish()
    assert Store.open().get_run("r1").resumed == 1


def test_auto_takes_the_id_from_wandbkit_run_id_then_slurm(offline_env: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLURM_JOB_ID", "777")
    monkeypatch.setenv("WANDBKIT_RUN_ID", "mine")
    with wandbkit.init(project="p", resume="auto", mode="offline", sinks=["store"]) as run:
        assert run.id == "mine" and run.settings.id_source == "WANDBKIT_RUN_ID"
    monkeypatch.delenv("WANDBKIT_RUN_ID")
    monkeypatch.setenv("WANDBKIT_RESUME", "auto")  # the environment asks for auto
    with wandbkit.init(project="p", mode="offline", sinks=["store"]) as run:
        assert run.id == "777" and not run.resumed
        _train(run, range(3))
    with wandbkit.init(project="p", mode="offline", sinks=["store"]) as run:  # the requeued job
        assert run.id == "777" and run.resumed and run.settings.start_step == 3
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "900")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "4")
    with wandbkit.init(project="p", mode="offline", sinks=["store"]) as run:
        assert run.id == "900_4"
    assert not (Path.cwd() / ".wandbkit-run-id").exists()  # ids from the environment need no file


def test_auto_without_an_id_in_the_environment_keeps_one_in_the_run_id_file(
        offline_env: Path) -> None:
    id_file = Path.cwd() / ".wandbkit-run-id"
    run = wandbkit.init(project="p", resume="auto", mode="offline", sinks=["store"])
    assert id_file.read_text().strip() == run.id and run.settings.id_source == "file"
    _train(run, range(4))
    run.finish(exit_code=1)  # did not end cleanly: the file stays for the restart
    restarted = wandbkit.init(project="p", resume="auto", mode="offline", sinks=["store"])
    assert restarted.id == run.id and restarted.resumed and restarted.settings.start_step == 4
    restarted.finish()
    assert not id_file.exists()  # a clean end: the next start is a new run
    with wandbkit.init(project="p", resume="auto", mode="offline", sinks=["store"]) as fresh:
        assert fresh.id != run.id and not fresh.resumed


def test_a_step_at_or_below_the_stored_ones_is_kept_locally_with_a_warning(
        offline_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with wandbkit.init(project="p", id="back", resume="allow", mode="offline") as run:
        _train(run, range(10))
    run = wandbkit.init(project="p", id="back", resume="allow", mode="offline")
    _train(run, range(7, 12))  # restarted from an older checkpoint: steps 7-9 come again
    report = run.finish()
    err = capsys.readouterr().err
    assert "resumed after step 9, but step 7 was logged" in err
    assert "W&B ignores them" in err
    history = Store.open().history("back")["train/loss"]
    assert [s for s, _ in history] == [*range(10), *range(7, 12)]  # nothing lost locally
    wandb_report = next(s for s in report.sinks if s.name == "wandb")
    assert "3 rows" in (wandb_report.error or "")
    second = Store.open().offline_dirs("back")[1]
    assert [i["_step"] for i in history_items(second)] == [10, 11]  # W&B's rule, said aloud


CRASHER = """
import sys, time, wandbkit
run = wandbkit.init(project="p", id="crash-1", resume="allow", mode="offline", sinks=["store"])
for step in range(3):
    run.log({"loss": float(step)})
run.flush()
print("logged", flush=True)
time.sleep(60)
"""


def test_a_killed_run_shows_crashed_until_a_resume_makes_it_running(offline_env: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", CRASHER], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ))
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "logged"
        assert Store.open().get_run("crash-1").state == "running"  # alive: running
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    store = Store.open()
    assert store.get_run("crash-1").state == "crashed"
    assert "crashed" in _cli("runs")
    details = json.loads(_cli("show", "crash-1", "--json"))
    assert details["state"] == "crashed" and details["fragments"][0]["state"] == "crashed"
    assert "processes" in _cli("show", "crash-1")
    if importlib.util.find_spec("wandbkit_gradio") is not None:  # the dashboard's Runs table
        from wandbkit_gradio.views import runs_frame

        assert list(runs_frame(store.runs())["state"]) == ["crashed"]

    with wandbkit.init(project="p", id="crash-1", resume="allow", mode="offline",
                       sinks=["store"]) as run:
        assert run.settings.start_step == 3
        run.log({"loss": 9.0})
        run.flush()
        assert Store.open().get_run("crash-1").state == "running"
    assert [f["state"] for f in Store.open().fragments("crash-1")] == ["crashed", "finished"]
    listed = json.loads(_cli("runs", "--json"))
    assert [(r["id"], r["state"], r["resumed"]) for r in listed] == [("crash-1", "finished", 1)]


def test_a_run_on_another_host_is_crashed_when_its_heartbeat_is_stale(offline_env: Path) -> None:
    with wandbkit.init(project="p", id="far", mode="offline", sinks=["store"]) as run:
        run.log({"loss": 1.0})
    store = Store.open()
    conn = store.connect()
    # what a process on another machine sharing this store (NFS) leaves behind
    conn.execute("UPDATE runs SET state='running', host='gpu-node-7', pid=1, heartbeat_at=?"
                 " WHERE id='far'", (time.time(),))
    assert store.get_run("far").state == "running"
    conn.execute("UPDATE runs SET heartbeat_at=? WHERE id='far'", (time.time() - 3600,))
    assert store.get_run("far").state == "crashed"
    conn.close()


def test_the_heartbeat_keeps_a_quiet_run_alive(offline_env: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("wandbkit.flusher.HEARTBEAT_S", 0.05)
    run = wandbkit.init(project="p", mode="offline", sinks=["store"], flush_interval=0.02)
    run.log({"loss": 1.0})
    run.flush()
    store = Store.open()
    first = store.get_run(run.id).heartbeat_at
    time.sleep(0.5)  # nothing logged meanwhile
    later = store.get_run(run.id).heartbeat_at
    run.finish()
    assert first is not None and later is not None and later > first
    assert store.get_run(run.id).host == socket.gethostname()


def test_sync_uploads_the_fragments_of_a_run_in_order_to_one_wandb_run(offline_env: Path) -> None:
    for _ in range(3):
        with wandbkit.init(project="p", id="frag", resume="allow", mode="offline") as run:
            run.log({"loss": 1.0})
    store = Store.open()
    record = store.get_run("frag")
    dirs = fragments_to_sync(store, record)
    started = [f["started_at"] for f in store.fragments("frag")]
    assert len(dirs) == 3 and started == sorted(started)
    assert [r.id for r in runs_to_sync(store, [])] == ["frag"]
    command = wandb_sync_command(store, record, dirs)
    assert command[3:] == ["sync", "--id", "frag", "--project", "p", *dirs]
    # wandb itself accepts that command line (a dry run needs no login)
    dry = subprocess.run([*command[:4], "--dry-run", *command[4:]], capture_output=True, text=True,
                         timeout=120, env=dict(os.environ))
    assert dry.returncode == 0, dry.stderr
    # after an upload, a new fragment is the only one left to sync (to the same W&B run)
    store.mark_synced("frag", time.time())
    assert fragments_to_sync(store, record) == []
    with wandbkit.init(project="p", id="frag", resume="allow", mode="offline") as run:
        run.log({"loss": 0.5})
    left = fragments_to_sync(store, store.get_run("frag"))
    assert left == [store.offline_dirs("frag")[-1]]
    assert wandb_sync_command(store, record, left)[4:6] == ["--id", "frag"]
