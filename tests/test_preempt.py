"""Preemption: a real process gets SIGUSR1 mid-training, saves at a safe point, ends its run as
``preempted`` and exits; restarted with the same environment it continues bit-exactly, in the
same run, in the store and in W&B's records."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner
from wandb_records import wandb_records

import wandbkit
from wandbkit import preempt
from wandbkit.cli import build_app
from wandbkit.store import Store

SCRIPT = Path(__file__).parent / "scripts" / "preemptible_train.py"
STEPS = 12


@pytest.fixture(autouse=True)
def clean_preempt_state() -> Iterator[None]:
    """Each test installs its own handlers; the previous ones come back afterwards."""
    yield
    preempt.reset()


def _start(env: dict[str, str], delay: float) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(SCRIPT), str(STEPS), str(delay)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _losses(stdout: str) -> dict[int, str]:
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return {d["step"]: d["loss"] for d in lines if "step" in d}


def _header(stdout: str) -> dict:
    return json.loads(stdout.splitlines()[0])


def test_sigusr1_mid_training_then_restart_continues_bit_exactly_in_the_same_run(
        offline_env: Path, tmp_path: Path) -> None:
    env = dict(os.environ, SLURM_JOB_ID="4242", OMP_NUM_THREADS="1")
    # the same training, never interrupted, in a store of its own
    straight_env = dict(env, WANDBKIT_DIR=str(tmp_path / "straight"), SLURM_JOB_ID="1")
    straight = _start(straight_env, 0.0)

    proc = _start(env, 0.25)
    try:
        assert proc.stdout is not None
        seen = []
        while len(seen) < 4:  # mid-training: a few steps done, most to come
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else ""
            if '"step"' in line:
                seen.append(line)
        proc.send_signal(signal.SIGUSR1)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signal.SIGUSR1, err  # 138: Slurm sees the signal's code
    first = {**_losses("".join(seen)), **_losses(out)}
    stopped = max(first)
    assert 4 <= stopped < STEPS
    assert "SIGUSR1 received" in err and "not requeueing Slurm job 4242" in err

    store = Store.open()
    assert store.get_run("4242").state == "preempted"
    from wandbkit_artifacts import list_versions

    preempt_versions = [v for v in list_versions("model") if "preempt" in v.aliases]
    assert [v.step for v in preempt_versions] == [stopped]

    restarted = subprocess.run([sys.executable, str(SCRIPT), str(STEPS), "0"], capture_output=True,
                               text=True, timeout=180, env=env)
    assert restarted.returncode == 0, restarted.stderr
    head = _header(restarted.stdout)
    assert head == {"resumed": True, "start": stopped + 1, "id": "4242"}
    second = _losses(restarted.stdout)
    assert sorted(second) == list(range(stopped + 1, STEPS + 1))

    out_straight, err_straight = straight.communicate(timeout=180)
    assert straight.returncode == 0, err_straight
    reference = _losses(out_straight)
    assert {**first, **second} == reference  # float.hex(): bit-identical, every step
    assert len(set(reference.values())) == STEPS  # losses differ step to step: it has teeth

    # the store: one run, one continuous history, two processes
    assert [r.id for r in store.runs()] == ["4242"]
    record = store.get_run("4242")
    assert record.state == "finished" and record.resumed == 1
    history = store.history("4242")["train/loss"]
    assert [s for s, _ in history] == list(range(1, STEPS + 1))
    assert [float.hex(v) for _, v in history] == [reference[s] for s in range(1, STEPS + 1)]
    assert [(f["state"], f["exit_code"], f["start_step"]) for f in store.fragments("4242")] == [
        ("preempted", 138, 1), ("finished", 0, stopped + 1)]  # each process's first logged step

    # W&B's records: both fragments, same run id, in order; the first says it was preempted
    dirs = store.offline_dirs("4242")
    assert len(dirs) == 2
    records = [wandb_records(d) for d in dirs]
    starts = []
    for recs in records:
        run = next(r["run"] for r in recs if r.get("type") == "run")
        assert run["run_id"] == "4242"
        starts.append(run["start_time"])
    assert starts == sorted(starts)
    steps = [[r["history"]["item"]["_step"] for r in recs if r.get("type") == "history"]
             for recs in records]
    assert steps == [list(range(1, stopped + 1)), list(range(stopped + 1, STEPS + 1))]
    types = [r.get("type") for r in records[0]]
    assert "preempting" in types and types.index("preempting") < types.index("exit")
    exit_record = next(r["exit"] for r in records[0] if r.get("type") == "exit")
    assert exit_record["exit_code"] == 138

    # what a person sees
    runner = CliRunner()
    shown = runner.invoke(build_app(), ["show", "4242"], env={"COLUMNS": "250"})
    assert shown.exit_code == 0, shown.output
    assert "preempted" in shown.output and "processes" in shown.output
    listed = json.loads(runner.invoke(build_app(), ["runs", "--json"]).output)
    assert [(r["id"], r["state"], r["resumed"]) for r in listed] == [("4242", "finished", 1)]


def test_on_preempt_saves_through_the_checkpoint_hook_at_the_next_log(
        offline_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    # Slurm, and an scontrol that records how it was called
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "scontrol-calls"
    (bin_dir / "scontrol").write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    (bin_dir / "scontrol").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SLURM_JOB_ID", "55")

    model = torch.nn.Linear(3, 2)
    wandbkit.on_preempt(lambda run: {"model": model, "name": "net"}, exit=False)
    run = wandbkit.init(project="p", mode="offline")
    for step in range(10):
        run.log({"loss": 1.0 / (step + 1)})
        if step == 3:
            os.kill(os.getpid(), signal.SIGUSR1)  # the handler only sets a flag...
            assert preempt.requested() and run.final_state is None
        if wandbkit.preempted():  # ...the next log() did the work
            break
    assert step == 4 and run.final_state == "preempted" and run.report is not None
    from wandbkit_artifacts import list_versions, resume

    [version] = list_versions("net")
    assert "preempt" in version.aliases and version.step == 4
    restored = torch.nn.Linear(3, 2)
    assert resume("net", restored).step == 4
    assert torch.equal(restored.weight, model.weight)
    assert Store.open().get_run(run.id).state == "preempted"
    assert calls.read_text().split() == ["requeue", "55"]  # SIGUSR1 under Slurm: requeued
    types = [r.get("type") for r in wandb_records(run.wandb["dir"])]
    assert "preempting" in types


def test_a_second_sigterm_ends_the_run_at_once_when_no_safe_point_comes(offline_env: Path) -> None:
    script = (
        "import sys, time, wandbkit\n"
        "wandbkit.on_preempt()\n"
        "run = wandbkit.init(project='p', id='stuck', mode='offline', sinks=['store'])\n"
        "run.log({'loss': 1.0}); run.flush()\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)  # e.g. a long evaluation: no safe point\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)
        proc.stderr.readline()  # "SIGTERM received: ... at the next safe point"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGTERM  # then the signal did what it did before
    record = Store.open().get_run("stuck")
    assert record.state == "preempted" and record.exit_code == 128 + signal.SIGTERM


def test_check_preempt_is_a_no_op_without_a_signal(offline_env: Path) -> None:
    from wandbkit.errors import UserError

    for bad, message in (("SIGKILL", "cannot be handled"), ("BOGUS", "unknown signal")):
        with pytest.raises(UserError, match=message):
            wandbkit.on_preempt(signals=(bad,))
    with pytest.raises(UserError, match="requeue="):
        wandbkit.on_preempt(requeue="sometimes")
    wandbkit.on_preempt()
    with wandbkit.init(project="p", mode="offline", sinks=["store"]) as run:
        run.log({"loss": 1.0})
        assert wandbkit.check_preempt() is False and run.preempt_point() is False
    assert Store.open().get_run(run.id).state == "finished"


def test_the_example_stops_on_sigusr1_and_its_restart_continues_the_run(offline_env: Path) -> None:
    example = Path(__file__).parents[1] / "examples" / "preemptible.py"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env.pop("WANDBKIT_RUN_ID", None)  # outside Slurm: the id goes through .wandbkit-run-id
    args = [sys.executable, str(example), "--steps", "60", "--every", "20"]
    proc = subprocess.Popen([*args, "--delay", "0.1"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("step 0 "), proc.stderr.read()
        proc.send_signal(signal.SIGUSR1)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 138, err
    run_id = (Path.cwd() / ".wandbkit-run-id").read_text().strip()
    assert Store.open().get_run(run_id).state == "preempted"

    again = subprocess.run(args, capture_output=True, text=True, timeout=180, env=env)
    assert again.returncode == 0, again.stderr
    assert f"resumed run {run_id} at step" in again.stdout
    record = Store.open().get_run(run_id)
    assert record.state == "finished" and record.resumed == 1
    assert [s for s, _ in Store.open().history(run_id)["train/loss"]] == list(range(60))
    assert not (Path.cwd() / ".wandbkit-run-id").exists()  # finished: a new start is a new run


def test_resume_picks_the_newer_of_preempt_and_latest(offline_env: Path) -> None:
    torch = pytest.importorskip("torch")
    from wandbkit_artifacts import CheckpointManager, resume
    from wandbkit_artifacts.index import Index

    model = torch.nn.Linear(2, 2)
    ckpt = CheckpointManager(None, "m", async_save=False)
    assert resume("m", model, missing_ok=True) is None  # a first start: nothing to resume
    ckpt.save(4, model, aliases=["preempt"])
    assert resume("m", model).step == 4
    ckpt.save(8, model)  # a regular save after the preempted one: latest is newer
    assert resume("m", model).ref == "m:v1"
    ckpt.save(12, model, aliases=["preempt"])
    Index.open().set_alias("m", "latest", 1)  # latest moved back (by hand): preempt is newer
    assert resume("m", model).ref == "m:v2"
    assert resume("m:latest", model).step == 8  # an explicit alias is taken as it is
    ckpt.finish()


def test_the_sdk_worker_resumes_and_marks_preempting_as_online_runs_do(
        offline_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Online runs go through the SDK worker (wandb.init(id=, resume=), run.mark_preempting());
    # offline it can be forced, and wandb's own files show what it did.
    monkeypatch.setenv("WANDBKIT_WANDB_WRITER", "worker")
    wandbkit.on_preempt(exit=False)
    run = wandbkit.init(project="p", id="sdk-1", resume="allow", mode="offline")
    for step in range(3):
        run.log({"loss": float(step)})
    os.kill(os.getpid(), signal.SIGTERM)
    wandbkit.check_preempt()
    assert run.final_state == "preempted" and run.report is not None
    resumed = wandbkit.init(project="p", id="sdk-1", resume="must", mode="offline")
    for step in range(2, 5):  # step 2 again: W&B's rule drops it, the store keeps it
        resumed.log({"loss": float(step)}, step=step)
    report = resumed.finish()
    first, second = Store.open().offline_dirs("sdk-1")
    assert "preempting" in [r.get("type") for r in wandb_records(first)]
    records = wandb_records(second)
    assert [r["history"]["item"]["_step"] for r in records if r.get("type") == "history"] == [3, 4]
    assert next(r["run"] for r in records if r.get("type") == "run")["run_id"] == "sdk-1"
    wandb_report = next(s for s in report.sinks if s.name == "wandb")
    assert wandb_report.rows_delivered == 2 and "1 rows" in (wandb_report.error or "")
