"""The core CLI as a user drives it: runs, show, export, sync, demo, and user mistakes."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import wandbkit
from wandbkit.cli import main
from wandbkit.store import CORE_MIGRATIONS, Store


def _finished_run(steps: int = 20, project: str = "p", mode: str = "disabled") -> wandbkit.Run:
    run = wandbkit.init(project=project, name="baseline", config={"lr": 0.01}, mode=mode)
    for step in range(steps):
        run.log({"train/loss": 2.0 / (step + 1), "train/acc": step / steps})
    run.log({"val/loss": math.nan}, step=steps - 1)
    run.finish(quiet=True)
    return run


def test_runs_json_lists_runs_with_the_documented_keys(
        offline_env: Path,
        capsys: pytest.CaptureFixture[str],
) -> None:
    run = _finished_run()
    _finished_run(project="other")
    assert main(["runs", "--json", "--project", "p"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == [run.id]
    assert {"id", "project", "name", "state", "started_at"} <= rows[0].keys()
    assert (rows[0]["project"], rows[0]["name"], rows[0]["state"]) == ("p", "baseline", "finished")
    assert main(["runs"]) == 0
    assert run.id in capsys.readouterr().out


def test_show_prints_config_summary_and_the_loss_curve(
        offline_env: Path,
        capsys: pytest.CaptureFixture[str],
) -> None:
    run = _finished_run()
    assert main(["show", run.id[:5], "--json"]) == 0
    details = json.loads(capsys.readouterr().out)
    assert details["config"] == {"lr": 0.01}
    assert details["loss_key"] == "train/loss" and details["loss_first"] == 2.0
    assert details["loss_last"] == pytest.approx(0.1)
    assert details["sparkline"][0] == "█" and details["sparkline"][-1] == "▁"
    assert details["steps"] == 20
    assert main(["show", "baseline"]) == 0  # by name
    out = capsys.readouterr().out
    assert "train/loss" in out and "lr" in out and details["sparkline"] in out


def test_export_writes_one_csv_row_per_step(offline_env: Path, tmp_path: Path) -> None:
    run = _finished_run()
    target = tmp_path / "out.csv"
    assert main(["export", run.id, "--format", "csv", "--output", str(target)]) == 0
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == 20
    assert rows[0]["step"] == "0" and float(rows[0]["train/loss"]) == 2.0
    assert rows[-1]["val/loss"] == "nan" and rows[0]["val/loss"] == ""


@pytest.mark.parametrize("args, message", [
    (["show", "nope"], "no run 'nope'"),
    (["export", "RUN", "--format", "parquet"], "--format 'parquet' is not supported"),
    (["runs", "--limit", "0"], "Invalid value"),
    (["runs", "--colour"], "No such option"),
])
def test_user_mistakes_exit_2_with_one_clear_line(offline_env: Path, capsys: pytest.CaptureFixture[str],
                                                   args: list[str], message: str) -> None:
    _finished_run()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_missing_or_unreadable_store_is_a_user_error(offline_env: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--dir", str(tmp_path / "empty")]) == 2
    assert "no wandbkit store at" in capsys.readouterr().err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "wandbkit.db").write_bytes(b"this is not sqlite" * 100)
    assert main(["runs", "--dir", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "cannot read the wandbkit store" in err and "Traceback" not in err


def test_sync_without_a_login_says_so_and_exits_nonzero(
        offline_env: Path,
        capsys: pytest.CaptureFixture[str],
) -> None:
    run = _finished_run(mode="offline")
    assert main(["sync", run.id]) == 1
    err = capsys.readouterr().err
    assert "not logged in to W&B" in err and "nothing was uploaded" in err
    assert Store.open().synced_at(run.id) is None


def test_sync_of_a_run_without_wandb_files_is_a_user_error(
        offline_env: Path,
        capsys: pytest.CaptureFixture[str],
) -> None:
    run = _finished_run(mode="disabled")
    assert main(["sync", run.id]) == 2
    assert "has no W&B files to sync" in capsys.readouterr().err


def test_demo_runs_offline_and_shows_the_curve(offline_env: Path) -> None:
    # Core alone (no plugin entry points): the demo is core's own numpy run. The full tour
    # with every plugin's stage is tested in test_demo_tour.py.
    out = subprocess.run([sys.executable, "-m", "wandbkit", "demo", "--steps", "60"],
                         capture_output=True, text=True, timeout=180,
                         env={**os.environ, "WANDBKIT_PLUGINS": ""})
    assert out.returncode == 0, out.stderr
    run = Store.open().runs(project="wandbkit-demo")[0]
    assert run.state == "finished" and run.wandb_mode == "offline"
    history = Store.open().history(run.id)
    assert len(history["train/loss"]) == 60 and "val/acc" in history
    assert {m["kind"] for m in Store.open().media(run.id)} == {"image", "histogram", "table"}
    assert run.id in out.stdout and "train/loss" in out.stdout


def test_store_schema_migrates_and_refuses_newer_versions(offline_env: Path, tmp_path: Path) -> None:
    root = tmp_path / "old"
    root.mkdir()
    Store(root).ensure_schema("core", CORE_MIGRATIONS[:1])  # a v1 store from an older wandbkit
    store = Store.open(root)
    with sqlite3.connect(store.db_path) as conn:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(runs)")]
        conn.execute("UPDATE schema_versions SET version=99 WHERE component='core'")
    assert "synced_at" in columns
    with pytest.raises(wandbkit.errors.UserError, match="newer than this wandbkit knows"):
        Store.open(root)


def test_run_references_match_id_prefixes_literally(offline_env: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # "_" and "%" are SQL LIKE wildcards: "a_c1" must not find abc123
    for run_id in ("abc123", "a_c999"):
        wandbkit.init(project="p", id=run_id, mode="disabled").finish(quiet=True)
    assert Store.open().get_run("a_c").id == "a_c999"
    assert main(["show", "a_c1"]) == 2
    assert "no run 'a_c1'" in capsys.readouterr().err
    assert main(["show", "a%", "--json"]) == 2
    assert main(["show", "ab", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["id"] == "abc123"


def test_export_quotes_cells_a_spreadsheet_would_run_as_formulas(offline_env: Path,
                                                                  tmp_path: Path) -> None:
    run = wandbkit.init(project="p", mode="disabled")
    run.log({"=HYPERLINK(\"http://x\")": 1.0, "note": "@SUM(A1)", "delta": -2.5}, step=0)
    run.finish(quiet=True)
    target = tmp_path / "out.csv"
    assert main(["export", run.id, "--output", str(target)]) == 0
    header, row = list(csv.reader(io.StringIO(target.read_text())))
    cells = dict(zip(header, row, strict=True))
    assert cells["'=HYPERLINK(\"http://x\")"] == "1.0"
    assert cells["note"] == "'@SUM(A1)" and cells["delta"] == "-2.5"  # numbers stay numbers


def test_show_of_a_loss_logged_as_text_prints_it(offline_env: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    run = wandbkit.init(project="p", mode="disabled")
    run.log({"loss": "diverged [at] 5%"})
    run.finish(quiet=True)
    assert main(["show", run.id]) == 0
    assert "loss: diverged [at] 5% → diverged [at] 5%" in capsys.readouterr().out
