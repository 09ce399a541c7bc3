"""``wandbkit sync`` uploads the writer's runs with wandb's own sync — to a local stand-in of
W&B's API (no W&B is reachable here), which counts the history rows it receives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from wandb_records import history_items, wandb_records

import wandbkit
from wandbkit.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from wandb_stand_in import start_in_thread  # noqa: E402

KILLED = r'''
import wandbkit
run = wandbkit.init(project="crash", mode="offline", flush_interval=0.02)
print("ID", run.id, flush=True)
step = 0
while True:
    run.log({"loss": 1.0 / (step + 1), "acc": step * 1e-3}, step=step)
    if step == 1500 and run.flush(10):
        print("FLUSHED", flush=True)
    step += 1
'''


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """W&B's API on 127.0.0.1, logged in with a dummy key; yields what it has received."""
    server, url = start_in_thread()
    monkeypatch.setenv("WANDB_BASE_URL", url)
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    try:
        yield server.RequestHandlerClass.counts  # type: ignore[attr-defined]
    finally:
        server.shutdown()


def _sync(*refs: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wandbkit", "sync", *refs], capture_output=True,
                          text=True, timeout=300)


def test_wandbkit_sync_uploads_every_row_the_writer_wrote(offline_env: Path,
                                                         stand_in: dict[str, int]) -> None:
    with wandbkit.init(project="p", mode="offline", config={"lr": 0.1}) as run:
        for step in range(300):
            run.log({"loss": 1.0 / (step + 1), "acc": step / 300}, step=step)
        run.summary["best"] = 1.0
    done = _sync()
    assert done.returncode == 0, done.stderr
    assert f"synced {run.id}" in done.stderr
    assert stand_in["history_rows"] == 300 and stand_in["complete"] == 1
    assert Store.open(offline_env).synced_at(run.id) is not None
    assert _sync().returncode == 0 and stand_in["history_rows"] == 300  # nothing uploaded twice


def test_after_sigkill_wandbkit_sync_uploads_what_was_written(offline_env: Path, tmp_path: Path,
                                                              stand_in: dict[str, int]) -> None:
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    env = {k: v for k, v in os.environ.items() if k not in ("WANDB_API_KEY", "WANDB_BASE_URL")}
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                            env={**env, "WANDBKIT_QUIET": "1"})
    assert proc.stdout is not None
    run_id = proc.stdout.readline().split()[1]
    assert proc.stdout.readline().strip() == "FLUSHED"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    record = Store.open(offline_env).get_run(run_id)
    assert record.wandb_dir is not None
    written = len(history_items(record.wandb_dir))
    assert written >= 1500
    done = _sync(run_id)
    assert done.returncode == 0, done.stderr
    assert stand_in["history_rows"] == written


LIVE_KILLED = KILLED.replace('mode="offline"', 'mode="online"')


def _wait_for(condition: object, timeout: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


def test_online_live_design_uploads_while_the_writer_writes(offline_env: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            stand_in: dict[str, int]) -> None:
    monkeypatch.setenv("WANDBKIT_WANDB_ONLINE", "live")
    monkeypatch.delenv("WANDB_MODE")
    with wandbkit.init(project="p", mode="online") as run:
        for step in range(300):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
    assert run.wandb["mode"] == "online"
    report = next(s for s in run.report.sinks if s.name == "wandb")  # type: ignore[union-attr]
    assert report.rows_delivered == 300 and report.error is None, report
    assert stand_in["history_rows"] == 300 and stand_in["complete"] == 1


def test_online_live_design_survives_a_sigkill_of_the_writer(offline_env: Path, tmp_path: Path,
                                                            stand_in: dict[str, int]) -> None:
    script = tmp_path / "killed.py"
    script.write_text(LIVE_KILLED)
    env = {k: v for k, v in os.environ.items() if k != "WANDB_MODE"}
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                            env={**env, "WANDBKIT_QUIET": "1", "WANDBKIT_WANDB_ONLINE": "live"})
    assert proc.stdout is not None
    run_id = proc.stdout.readline().split()[1]
    assert proc.stdout.readline().strip() == "FLUSHED"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    # the watchdog closes the file with an exit record, so wandb's live uploader ends the run
    assert _wait_for(lambda: stand_in["complete"] == 1), stand_in
    record = Store.open(offline_env).get_run(run_id)
    assert record.wandb_dir is not None
    records = wandb_records(record.wandb_dir)
    assert records[-1]["type"] == "exit" and records[-1]["exit"]["exit_code"] == 1
    written = sum(1 for r in records if r["type"] == "history")
    assert written >= 1500 and stand_in["history_rows"] == written
