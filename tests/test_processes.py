"""Runs across real processes: SIGTERM, interpreter exit, concurrent writers, W&B unreachable."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from wandb_records import history_items

from wandbkit.store import Store


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "train.py"
    path.write_text(textwrap.dedent(body))
    return path


def test_sigterm_finishes_the_run_with_everything_flushed(offline_env: Path, tmp_path: Path) -> None:
    script = _script(tmp_path, """
        import sys, time, wandbkit
        run = wandbkit.init(project="p", mode="offline")
        for step in range(50):
            run.log({"loss": 1.0 / (step + 1)})
        print(run.id, flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=240) == -signal.SIGTERM  # the process still dies of SIGTERM

    record = Store.open().get_run(run_id)
    assert (record.state, record.exit_code) == ("failed", 143)
    assert Store.open().row_count(run_id) == 50
    assert record.wandb_dir is not None
    assert len(history_items(record.wandb_dir)) == 50


def test_interpreter_exit_finishes_an_unfinished_run(offline_env: Path, tmp_path: Path) -> None:
    script = _script(tmp_path, """
        import wandbkit
        run = wandbkit.init(project="p", mode="offline")
        for step in range(30):
            run.log({"loss": float(step)})
        print(run.id)
    """)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    record = Store.open().get_run(out.stdout.strip())
    assert (record.state, record.exit_code) == ("finished", 0)
    assert Store.open().row_count(record.id) == 30


def test_an_uncaught_exception_marks_the_run_failed(offline_env: Path, tmp_path: Path) -> None:
    script = _script(tmp_path, """
        import wandbkit
        run = wandbkit.init(project="p", mode="disabled")
        run.log({"loss": 1.0})
        print(run.id, flush=True)
        raise SystemError("training blew up")
    """)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    record = Store.open().get_run(out.stdout.strip())
    assert (record.state, record.exit_code) == ("failed", 1)


def test_an_exception_before_a_run_does_not_fail_it(offline_env: Path, tmp_path: Path) -> None:
    """In a REPL an uncaught exception goes through sys.excepthook and the session goes on: a
    run finished at exit later is not failed because of it; one active at the time is."""
    script = _script(tmp_path, """
        import sys, wandbkit
        first = wandbkit.init(project="p", mode="disabled")
        try:
            raise ValueError("a typo at the prompt")
        except ValueError:
            sys.excepthook(*sys.exc_info())  # what the interactive loop does, then goes on
        first.finish(quiet=True)
        try:
            raise ValueError("another one, between runs")
        except ValueError:
            sys.excepthook(*sys.exc_info())
        second = wandbkit.init(project="p", mode="disabled")
        second.log({"loss": 1.0})
        print(first.id, second.id, flush=True)
    """)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ValueError: a typo at the prompt" in out.stderr  # the hook still prints them
    assert "ValueError: another one, between runs" in out.stderr
    first, second = (Store.open().get_run(i) for i in out.stdout.split())
    assert (first.state, first.exit_code) == ("finished", 0)  # finished by hand, code 0
    assert (second.state, second.exit_code) == ("finished", 0)  # finished at exit, not failed


def test_four_processes_writing_one_store_lose_nothing(offline_env: Path, tmp_path: Path) -> None:
    script = _script(tmp_path, """
        import sys, wandbkit
        run = wandbkit.init(project="concurrent", mode="disabled", name=sys.argv[1])
        for step in range(1000):
            run.log({"loss": step * 0.001, "worker": int(sys.argv[1])})
        run.finish(quiet=True)
    """)
    procs = [subprocess.Popen([sys.executable, str(script), str(k)]) for k in range(4)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0, 0]
    store = Store.open()
    runs = store.runs(project="concurrent")
    assert sorted(r.name for r in runs) == ["0", "1", "2", "3"]
    for r in runs:
        history = store.history(r.id)
        assert [s for s, _ in history["loss"]] == list(range(1000))
        assert {v for _, v in history["worker"]} == {float(r.name)}


def test_online_with_wandb_unreachable_falls_back_to_offline(offline_env: Path, tmp_path: Path) -> None:
    script = _script(tmp_path, """
        import wandbkit
        run = wandbkit.init(project="p", mode="online")
        for step in range(20):
            run.log({"loss": float(step)})
        report = run.finish()
        print(run.id, report.complete)
    """)
    env = {**__import__("os").environ, "WANDB_API_KEY": "x" * 40,
           "WANDB_BASE_URL": "http://127.0.0.1:9", "WANDBKIT_WANDB_INIT_TIMEOUT": "10"}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=240, env=env)
    assert out.returncode == 0, out.stderr
    run_id, complete = out.stdout.split()
    assert complete == "True"
    assert "W&B unreachable" in out.stderr and f"wandbkit sync {run_id}" in out.stderr
    assert "x" * 40 not in out.stdout + out.stderr  # the key is never printed
    record = Store.open().get_run(run_id)
    assert record.wandb_mode == "offline"
    assert len(history_items(record.wandb_dir)) == 20


def test_processes_opening_a_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    """DDP ranks and sweep workers create the store together; switching it to WAL can answer
    SQLITE_BUSY without waiting, which used to kill a rank."""
    go = tmp_path / "go"
    code = textwrap.dedent("""
        import os, sys, time
        from wandbkit.store import Store
        open(sys.argv[3], "w").close()  # imported, at the starting line
        while not os.path.exists(sys.argv[2]):
            time.sleep(0.001)
        Store.open(sys.argv[1]).runs()
    """)
    for attempt in range(5):
        root = tmp_path / f"store{attempt}"
        ready = [tmp_path / f"ready{attempt}-{k}" for k in range(8)]
        procs = [subprocess.Popen([sys.executable, "-c", code, str(root), str(go), str(r)],
                                  stderr=subprocess.PIPE, text=True) for r in ready]
        # Start them together only once every one is waiting at the line (polled, with a
        # deadline), so the race on creating the store really happens.
        deadline = time.monotonic() + 120
        while not all(r.exists() for r in ready):
            assert time.monotonic() < deadline, "the processes never reached the starting line"
            assert all(p.poll() is None for p in procs), [p.communicate()[1] for p in procs]
            time.sleep(0.005)
        assert not root.exists()  # nobody opened the store before the start
        go.touch()
        errors = [p.communicate(timeout=120)[1] for p in procs]
        go.unlink()
        assert [p.returncode for p in procs] == [0] * 8, [e for e in errors if e]


def test_a_wandb_sink_error_is_one_line_unless_debugging(offline_env: Path, tmp_path: Path) -> None:
    """The W&B worker's first error reaches the training process's stderr as one line; the
    traceback only under WANDBKIT_DEBUG=1. The run goes on and keeps its rows."""
    script = _script(tmp_path, """
        import pathlib, wandbkit
        weights = pathlib.Path("weights.bin")
        weights.write_bytes(b"0" * 16)
        run = wandbkit.init(project="p", mode="offline")
        run.log({"loss": 1.0})
        run.log_artifact(weights, name="no spaces allowed/here")  # W&B rejects the name
        run.log_artifact(weights, name="nor here either!")
        run.log({"loss": 0.5})
        report = run.finish(quiet=True)
        print(run.id, report.rows_logged, flush=True)
    """)
    env = {k: v for k, v in __import__("os").environ.items() if k != "WANDBKIT_DEBUG"}
    env["WANDBKIT_WANDB_WRITER"] = "worker"  # the SDK worker (online runs use it)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=180, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if "W&B sink error" in ln]
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("wandbkit: W&B sink error (further ones are counted; "
                               "WANDBKIT_DEBUG=1 shows the traceback): artifact: ")
    assert "Traceback" not in out.stderr, out.stderr
    run_id, rows = out.stdout.split()
    assert rows == "2" and Store.open().row_count(run_id) == 2

    debug = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                           timeout=180, env={**env, "WANDBKIT_DEBUG": "1"}, cwd=tmp_path)
    assert debug.returncode == 0, debug.stderr
    assert debug.stderr.count("Traceback (most recent call last)") == 1, debug.stderr
