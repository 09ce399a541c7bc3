"""wandb calls that behave as in wandb and reach both sinks: log() with no data, renames, tags and
notes set after init, save(), resume from WANDB_RUN_ID / WANDB_RESUME."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import wandbkit
import wandbkit as wandb
from tests.wandb_records import history_items, wandb_records
from wandbkit.errors import UserError
from wandbkit.plugins import reset_plugins
from wandbkit.store import Store


@pytest.fixture(autouse=True)
def no_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("WANDBKIT_PLUGINS", "none")
    monkeypatch.setenv("WANDBKIT_QUIET", "1")
    reset_plugins()
    yield
    wandbkit.finish()
    reset_plugins()


def _run_dir(run: wandbkit.Run) -> Path:
    return Path(Store.open().get_run(run.id).wandb_dir)


def test_log_with_no_data_commits_the_gathered_step(offline_env: Path) -> None:
    run = wandb.init()
    wandb.log({"a": 1}, commit=False)
    wandb.log({"b": 2}, commit=False)
    wandb.log()                      # commits step 0
    wandb.log({"c": 3})              # step 1
    run.log({"d": 4}, commit=False)
    run.log()                        # the Run method too
    wandb.finish()
    assert list(Store.open().rows(run.id)) == [(0, {"a": 1, "b": 2}), (1, {"c": 3}), (2, {"d": 4})]
    items = history_items(_run_dir(run))
    assert [(i["_step"], {k: v for k, v in i.items() if not k.startswith("_")}) for i in items] == [
        (0, {"a": 1, "b": 2}), (1, {"c": 3}), (2, {"d": 4})]


@pytest.fixture(params=["writer", "sdk"])
def wandb_sink(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both W&B sinks: wandbkit's own writer, and the wandb SDK in its worker process."""
    if request.param == "sdk":
        monkeypatch.setenv("WANDBKIT_WANDB_WRITER", "sdk")
    return request.param


def test_name_tags_notes_after_init_reach_both_sinks(offline_env: Path, wandb_sink: str) -> None:
    run = wandb.init(name="first", tags=["a"], notes="n0")
    wandb.log({"x": 1})
    run.name = "second"              # after a log, as scripts do
    run.tags = ("b", "c")
    run.notes = "n1"
    wandb.log({"x": 2})
    wandb.finish()
    record = Store.open().get_run(run.id)
    assert (record.name, record.tags, Store.open().notes(run.id)) == ("second", ["b", "c"], "n1")
    runs = [r["run"] for r in wandb_records(_run_dir(run)) if r.get("type") == "run"]
    last = runs[-1]
    assert (last["display_name"], last["tags"], last["notes"]) == ("second", ["b", "c"], "n1")
    assert last["run_id"] == run.id
    with pytest.raises(UserError, match="list or tuple of strings"):
        run.tags = "oops"


def test_save_keeps_files_in_store_and_wandb_by_wandbs_rules(offline_env: Path, tmp_path: Path,
                                                             wandb_sink: str) -> None:
    data = tmp_path / "data" / "exp1"
    data.mkdir(parents=True)
    (data / "a.txt").write_text("A")
    (data / "b.txt").write_text("B")
    (tmp_path / "data" / "notes.md").write_text("live")
    run = wandb.init()
    saved = wandb.save(str(data / "*.txt"))                      # absolute: one folder level kept
    wandb.save("data/notes.md", policy="live")                   # relative to the working folder
    wandb.save(str(data / "a.txt"), base_path=str(tmp_path), policy="now")
    (tmp_path / "data" / "notes.md").write_text("live, later")  # live: the end's copy wins
    with pytest.raises(UserError, match="policy"):
        wandb.save("data/notes.md", policy="sometimes")
    with pytest.raises(UserError, match="not inside base_path"):
        wandb.save(str(data / "a.txt"), base_path=str(tmp_path / "elsewhere"))
    assert wandb.save("nothing-*.bin") == []
    wandb.finish()
    assert sorted(Path(p).name for p in saved) == ["a.txt", "b.txt"]
    store = Store.open()
    files = {m["key"]: m for m in store.media(run.id) if m["kind"] == "file"}
    assert set(files) == {"exp1/a.txt", "exp1/b.txt", "data/notes.md", "data/exp1/a.txt"}
    assert Path(files["data/notes.md"]["path"]).read_text() == "live, later"
    run_dir = _run_dir(run)
    assert (run_dir / "files" / "exp1" / "b.txt").read_text() == "B"  # wandb itself links
    assert (run_dir / "files" / "data" / "notes.md").read_text() == "live, later"
    listed = [item for r in wandb_records(run_dir) if r.get("type") == "files"
              for item in r["files"]["files"]]
    by_path = {i["path"]: i.get("policy", "NOW") for i in listed}
    assert by_path["exp1/a.txt"] == "LIVE" and by_path["data/exp1/a.txt"] == "NOW"
    assert by_path["data/notes.md"] == "LIVE"


def test_resume_auto_follows_wandb_run_id_and_resume(offline_env: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_RUN_ID", "fixed-id-1")
    run = wandb.init()
    assert run.id == "fixed-id-1"
    wandb.log({"x": 1})
    wandb.finish()
    monkeypatch.setenv("WANDB_RESUME", "must")
    again = wandb.init()
    assert again.id == "fixed-id-1" and again.resumed
    wandb.log({"x": 2})
    wandb.finish()
    assert [s for s, _ in Store.open().rows("fixed-id-1")] == [0, 1]
    monkeypatch.setenv("WANDB_RUN_ID", "never-seen")
    with pytest.raises(UserError, match="never-seen"):
        wandb.init()  # WANDB_RESUME=must with an id the store does not have
    assert os.environ["WANDB_RESUME"] == "must"
