"""How a script ends is how its run is recorded, as wandb 0.31 records it: real processes.

The table was measured with real wandb 0.31 offline scripts (``wandb.init`` then the same
ending; the exit record read back with ``wandb leet inspect --json``);
``test_the_table_is_what_real_wandb_records`` checks part of it against wandb itself each run.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from wandb_records import wandb_records

from wandbkit.store import Store

ENDINGS = {
    "sys.exit(3)": "sys.exit(3)",
    "sys.exit(255)": "sys.exit(255)",
    "sys.exit('msg')": "sys.exit('fatal: bad data')",
    "sys.exit(0)": "sys.exit(0)",
    "sys.exit(None)": "sys.exit(None)",
    "exception": "raise ValueError('boom')",
    "ctrl-c": "raise KeyboardInterrupt",
    "normal end": "pass",
}
# (ending, inside `with`) -> (process exit status, exit code wandb records); Ctrl-C ends the
# process by SIGINT (-2 here, 130 in a shell)
EXPECTED = {
    ("sys.exit(3)", False): (3, 3), ("sys.exit(255)", False): (255, 255),
    ("sys.exit('msg')", False): (1, 1),
    ("sys.exit(0)", False): (0, 0), ("sys.exit(None)", False): (0, 0),
    ("exception", False): (1, 1), ("ctrl-c", False): (-2, 255), ("normal end", False): (0, 0),
    # wandb's Run.__exit__ records 1 for any exception leaving the block, SystemExit included
    ("sys.exit(3)", True): (3, 1), ("sys.exit(255)", True): (255, 1),
    ("sys.exit('msg')", True): (1, 1),
    ("sys.exit(0)", True): (0, 1), ("sys.exit(None)", True): (0, 1),
    ("exception", True): (1, 1), ("ctrl-c", True): (-2, 1), ("normal end", True): (0, 0),
}


def _script(tmp_path: Path, module: str, ending: str, inside_with: bool) -> Path:
    init = "wandbkit.init(project='p', mode='offline')" if module == "wandbkit" else \
        "wandb.init(project='p', mode='offline')"
    if inside_with:
        body = f"""
            with {init} as run:
                print(run.id, flush=True)
                run.log({{"loss": 1.0}})
                {ENDINGS[ending]}
        """
    else:
        body = f"""
            run = {init}
            print(run.id, flush=True)
            run.log({{"loss": 1.0}})
            {ENDINGS[ending]}
        """
    path = tmp_path / "train.py"
    path.write_text(f"import sys, {module}\n" + textwrap.dedent(body))
    return path


def _exit_record(run_dir: str | Path) -> int:
    exits = [r["exit"] for r in wandb_records(run_dir) if r.get("type") == "exit"]
    assert len(exits) == 1
    return int(exits[0].get("exit_code", 0))


@pytest.mark.parametrize("inside_with", [False, True], ids=["plain", "with"])
@pytest.mark.parametrize("ending", list(ENDINGS))
def test_store_and_wandb_record_the_exit_as_wandb_does(
        offline_env: Path, tmp_path: Path, ending: str, inside_with: bool) -> None:
    script = _script(tmp_path, "wandbkit", ending, inside_with)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180)
    status, recorded = EXPECTED[(ending, inside_with)]
    assert out.returncode == status, out.stderr
    record = Store.open().get_run(out.stdout.split()[0])
    assert (record.state, record.exit_code) == ("finished" if recorded == 0 else "failed", recorded)
    assert record.wandb_dir is not None
    assert _exit_record(record.wandb_dir) == recorded


@pytest.mark.parametrize("ending, inside_with", [("sys.exit(3)", False), ("ctrl-c", False),
                                                 ("sys.exit(0)", True)])
def test_the_table_is_what_real_wandb_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              ending: str, inside_with: bool) -> None:
    wandb_dir = tmp_path / "wandb-dir"
    wandb_dir.mkdir()
    monkeypatch.setenv("WANDB_DIR", str(wandb_dir))
    script = _script(tmp_path, "wandb", ending, inside_with)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180)
    status, recorded = EXPECTED[(ending, inside_with)]
    assert out.returncode == status, out.stderr
    (run_dir,) = (wandb_dir / "wandb").glob("offline-run-*")
    assert _exit_record(run_dir) == recorded


def test_a_real_ctrl_c_is_recorded_as_wandb_records_it(offline_env: Path, tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""
        import time, wandbkit
        run = wandbkit.init(project='p', mode='offline')
        run.log({"loss": 1.0})
        print(run.id, flush=True)
        while True:  # training (short sleeps: the signal is noticed within one)
            time.sleep(0.05)
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=180) == -signal.SIGINT  # still ends as Ctrl-C ends a script
    record = Store.open().get_run(run_id)
    assert (record.state, record.exit_code) == ("failed", 255)
    assert record.wandb_dir is not None and _exit_record(record.wandb_dir) == 255
