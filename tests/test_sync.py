"""``wandbkit sync``: wandb's own progress per run, a time limit, the decision taken from the exit
status and wandb's synced markers, and runs still being written left alone.

The failure path runs the real ``wandb sync`` against an address where no W&B server listens
(what a machine with no network sees); the decisions are plain functions, tested as such."""

from __future__ import annotations

from pathlib import Path

import pytest

import wandbkit
from wandbkit.cli import main
from wandbkit.cli.sync import still_running, sync_outcome, synced_marker, wandb_files, wandb_line
from wandbkit.store import Store

FAKE_KEY = "x" * 40


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Logged in, as far as anyone can tell, to a W&B server that is not there."""
    monkeypatch.setenv("WANDB_API_KEY", FAKE_KEY)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")


def _offline_run(project: str = "p") -> wandbkit.Run:
    run = wandbkit.init(project=project, mode="offline")
    for step in range(3):
        run.log({"loss": 1.0 / (step + 1)})
    run.finish(quiet=True)
    return run


def test_with_no_network_sync_shows_wandbs_progress_and_stops_at_the_time_limit(
        offline_env: Path, no_server: None, capsys: pytest.CaptureFixture[str]) -> None:
    run = _offline_run(project="error-analysis")
    assert main(["sync", run.id, "--timeout", "8"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and FAKE_KEY not in err
    assert f"{run.id}: Syncing 1 run(s)" in err  # wandb's own words, as they came
    left = [line for line in err.splitlines() if line.startswith("left offline:")]
    assert len(left) == 1 and run.id in left[0] and "did not finish within 8 s" in left[0]
    assert Store.open().synced_at(run.id) is None


def test_a_run_still_running_is_skipped_with_one_line_and_not_marked_synced(
        offline_env: Path, no_server: None, capsys: pytest.CaptureFixture[str]) -> None:
    live = wandbkit.init(project="p", mode="offline")
    live.log({"loss": 1.0})
    live.flush()
    try:
        store = Store.open()
        assert "still running" in (still_running(store, store.get_run(live.id)) or "")
        assert main(["sync", live.id]) == 1
        err = capsys.readouterr().err
        assert err.count(live.id) == 1 and f"skipped {live.id} (p): still running" in err
        assert store.synced_at(live.id) is None
        assert main(["sync", "--dry-run"]) == 0
        assert f"would skip {live.id}" in capsys.readouterr().out
    finally:
        live.finish(quiet=True)
    assert still_running(store, store.get_run(live.id)) is None


def test_success_needs_exit_0_and_wandbs_synced_marker_on_every_file(tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "run-a.wandb", tmp_path / "b" / "run-b.wandb"
    for f in (first, second):
        f.parent.mkdir()
        f.write_bytes(b":W&B")
    files = wandb_files([str(first.parent), str(second.parent)])
    assert files == [first, second]
    # "Not authenticated." and exit 0: wandb uploaded nothing and marked nothing
    assert not sync_outcome(0, files, "Not authenticated.", 60).ok
    synced_marker(first).touch()
    outcome = sync_outcome(0, files, "", 60)
    assert not outcome.ok and "run-b.wandb" in outcome.reason
    synced_marker(second).touch()
    # words are never read for failure: "error" in a project name or a message is no failure
    assert sync_outcome(0, files, "Syncing error-analysis/abc: errors=0", 60).ok
    assert not sync_outcome(1, files, "", 60).ok
    timed_out = sync_outcome(None, files, "setting up run abc", 60)
    assert not timed_out.ok and "within 60 s" in timed_out.reason and "setting up run" in timed_out.reason
    assert not sync_outcome(0, [], "", 60).ok


def test_wandb_lines_lose_only_their_prefix() -> None:
    assert wandb_line("wandb: [x/abc] setting up run abc\n") == "[x/abc] setting up run abc"
    assert wandb_line("  plain words  ") == "plain words"
