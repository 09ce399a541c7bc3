"""W&B Artifacts through a real offline wandbkit run, the core hooks, pending deletions, gc."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import wandbkit
from conftest import Tiny
from wandbkit.checkpointing import load_checkpoint, save_checkpoint
from wandbkit_artifacts import CheckpointManager, apply_pending_deletions, gc, list_versions
from wandbkit_artifacts.errors import UnknownReference
from wandbkit_artifacts.index import Index
from wandbkit_artifacts.loader import load

WANDB_BIN = Path(sys.executable).with_name("wandb")


def artifact_records(store: Path) -> list[dict]:
    """The ``artifact`` records of the offline W&B run under ``store``."""
    (run_dir,) = (store / "wandb").glob("offline-run-*")
    out = subprocess.run([str(WANDB_BIN), "leet", "inspect", "--json", str(run_dir)],
                         capture_output=True, text=True, check=True, timeout=60)
    return [r["artifact"] for r in map(json.loads, out.stdout.splitlines())
            if r.get("type") == "artifact"]


def test_versions_are_logged_as_wandb_artifacts_with_aliases_and_manifest(offline_env, tiny):
    model, opt = tiny
    with wandbkit.init(project="ck", mode="offline") as run:
        ckpt = CheckpointManager(run, "net", keep_last_k=1, metric="loss", mode="min")
        for step, loss in ((1, 3.0), (2, 1.0), (3, 2.0)):
            ckpt.save(step, model, opt, metrics={"loss": loss},
                      aliases=["pin"] if step == 1 else ())
        ckpt.finish()
    records = artifact_records(offline_env)
    assert [r["name"] for r in records] == ["net"] * 3 and {r["type"] for r in records} == {"model"}
    assert [sorted(r["aliases"]) for r in records] == [
        ["best", "latest", "pin", "step-1"], ["best", "latest", "step-2"], ["latest", "step-3"]]
    meta = records[1]["metadata"]
    meta = json.loads(meta) if isinstance(meta, str) else meta
    assert meta["step"] == 2 and meta["run_id"] == run.id and meta["version"] == 1
    files = {e["path"]: e for e in records[1]["manifest"]["contents"]}
    assert set(files) == {"manifest.json", "model.safetensors", "optimizer.pt", "rng.pt"}
    # Retention: v0 (user alias) and v1 (best) stay; nothing else went: step 3 is latest.
    assert [v.version for v in list_versions("net")] == [0, 1, 2]


def test_offline_retention_keeps_files_for_sync_and_remembers_wandb_deletions(offline_env, tiny):
    model, opt = tiny
    with wandbkit.init(project="ck", mode="offline") as run:
        ckpt = CheckpointManager(run, "ret", keep_last_k=1)
        for step in (1, 2, 3):
            ckpt.save(step, model, opt)
        ckpt.finish()
    assert [v.step for v in list_versions("ret")] == [3]
    pending = Index.open().pending_deletions()
    assert [(p.name, p.version) for p in pending] == [("ret", 0), ("ret", 1)]
    # the unlisted folders stay for the offline upload: wandb reads them in place at sync
    assert all(Path(p.trash_path).is_dir() for p in pending)
    with pytest.raises(UnknownReference, match="ret has versions v2"):
        load("ret:v0")
    # offline: nothing can be deleted on W&B yet; the deletions stay pending
    result = apply_pending_deletions()
    assert result["applied"] == 0 and result["kept"] == 2
    assert "WANDB_MODE=offline" in result["error"]
    # a sync of another run applies none of them: these files must wait for their own run
    assert apply_pending_deletions(run_id="another") == {"applied": 0, "kept": 0, "error": None}
    report = gc()
    assert sorted(report.kept_for_sync) == sorted(p.trash_path for p in pending)
    report = gc(purge_unsynced=True)
    assert not any(Path(p.trash_path).exists() for p in pending)
    assert [v.step for v in list_versions("ret")] == [3]


def test_core_hooks_save_and_load_through_this_plugin(offline_env, tiny):
    model, opt = tiny
    with wandbkit.init(project="ck", mode="disabled") as run:
        configured = CheckpointManager(run, "hooked", every_n_steps=2, async_save=False)
        skipped = save_checkpoint(1, model, optimizer=opt, name="hooked", run=run)
        saved = save_checkpoint(2, model, optimizer=opt, name="hooked", run=run,
                                metrics={"loss": 0.5})
        assert not skipped.saved and saved.saved and saved.version.ref == "hooked:v0"
        default = save_checkpoint(1, model, name="other", run=run)  # default policy: saves
        assert default.wait().ref == "other:v0"
        configured.finish()
    fresh = Tiny()
    out = load_checkpoint("hooked:latest", fresh)
    assert out.step == 2 and torch.equal(fresh.embed.weight, model.embed.weight)
    with pytest.raises(UnknownReference, match="checkpoints in .*: hooked, other"):
        load_checkpoint("nope:latest", fresh)


def test_unknown_remote_sources_say_why_offline(monkeypatch):
    monkeypatch.setenv("WANDBKIT_CKPT_HF_REPO", "someone/ckpts")
    with pytest.raises(UnknownReference) as err:
        load("missing:best")
    message = str(err.value)
    assert "WANDB_MODE=offline" in message
    assert "HF Hub repo someone/ckpts not queried: HF_HUB_OFFLINE is set" in message


def test_gc_trims_wandb_artifact_cache_to_cap(offline_env):
    cache = offline_env / ".wandb-cache" / "artifacts" / "obj"
    cache.mkdir(parents=True)
    import os
    import time

    for i in range(5):
        f = cache / f"blob{i}"
        f.write_bytes(b"x" * 1000)
        stamp = time.time() - 100 + i  # blob0 is the least recently used
        os.utime(f, (stamp, stamp))
    dry = gc(cache_cap=2500, dry_run=True)
    assert sorted(Path(p).name for p in dry.removed) == ["blob0", "blob1", "blob2"]
    assert len(list(cache.iterdir())) == 5
    report = gc(cache_cap=2500)
    assert sorted(p.name for p in cache.iterdir()) == ["blob3", "blob4"]
    assert report.cache_size == 2000


def test_checkpointing_example_resumes_bit_identically():
    example = Path(__file__).parents[3] / "examples" / "checkpointing.py"
    out = subprocess.run([sys.executable, str(example)], capture_output=True, text=True,
                         timeout=180, check=False)
    assert out.returncode == 0, out.stderr
    assert "resumed at step 30: remaining 30 losses bit-identical: True" in out.stdout
    assert "halfway" in out.stdout


def test_finish_trims_wandb_cache_to_the_managers_cap(offline_env, tiny):
    cache = offline_env / ".wandb-cache" / "artifacts" / "obj"
    cache.mkdir(parents=True)
    for i in range(4):
        (cache / f"blob{i}").write_bytes(b"x" * 1000)
    model, _ = tiny
    ckpt = CheckpointManager(None, "capped", async_save=False, wandb_cache_cap=2000)
    ckpt.save(1, model)
    ckpt.finish()
    assert sum(f.stat().st_size for f in cache.iterdir()) <= 2000


def test_run_finish_finishes_a_manager_the_user_left_open(offline_env, tiny):
    model, opt = tiny
    with wandbkit.init(project="ck", mode="offline") as run:
        ckpt = CheckpointManager(run, "open", every_n_steps=2)
        for step in (1, 2, 3):
            ckpt.save(step, model, opt)
        ckpt.wait()
    # wandbkit_run_finishing saved the skipped last step while the sinks were still open,
    # so that version reached W&B too
    assert [v.step for v in list_versions("open")] == [2, 3]
    assert [sorted(r["aliases"]) for r in artifact_records(offline_env)] == [
        ["latest", "step-2"], ["latest", "step-3"]]


def test_loading_inside_a_run_uses_that_runs_store(tmp_path, tiny):
    model, opt = tiny
    elsewhere = tmp_path / "elsewhere"
    with wandbkit.init(project="ck", mode="disabled", dir=elsewhere) as run:
        CheckpointManager(run, "here", async_save=False).save(1, model, opt)
        assert load("here").path.is_relative_to(elsewhere)
        assert [v.ref for v in list_versions("here")] == ["here:v0"]
    assert list_versions("here", store_dir=elsewhere)[0].step == 1


def test_a_failing_wandb_log_is_reported_not_a_failed_save(tiny, capfd):
    import wandb

    model, opt = tiny
    wandb_run = wandb.init(project="p", mode="offline")  # a plain wandb run is accepted too
    wandb_run.finish()  # ... and a finished one refuses log_artifact
    ckpt = CheckpointManager(wandb_run, "logfail", async_save=True)
    version = ckpt.save(1, model, opt).wait()
    ckpt.finish()
    assert version.ref == "logfail:v0" and load("logfail:v0").step == 1
    assert "logging logfail:v0 to W&B failed" in capfd.readouterr().err


def _blobs(folder: Path, n: int) -> Path:
    import os
    import time

    folder.mkdir(parents=True)
    for i in range(n):
        f = folder / f"blob{i}"
        f.write_bytes(b"x" * 1000)
        stamp = time.time() - 100 + i  # blob0 is the least recently used
        os.utime(f, (stamp, stamp))
    return folder


def test_a_wandb_cache_dir_the_user_set_is_trimmed_only_when_named(offline_env, tiny,
                                                                   monkeypatch, tmp_path):
    shared = tmp_path / "cluster-cache"
    monkeypatch.setenv("WANDB_CACHE_DIR", str(shared))
    blobs = _blobs(shared / "artifacts" / "obj", 4)
    model, _ = tiny
    ckpt = CheckpointManager(None, "polite", async_save=False, wandb_cache_cap=0)
    ckpt.save(1, model)
    ckpt.finish()
    report = gc(cache_cap=0)
    assert len(list(blobs.iterdir())) == 4  # neither finish() nor gc() touched the user's cache
    assert list(report.caches) == [str(offline_env / ".wandb-cache" / "artifacts")]
    # named explicitly: trimmed like the store's own
    report = gc(cache_cap=2500, cache_dir=shared / "artifacts")
    assert sorted(p.name for p in blobs.iterdir()) == ["blob2", "blob3"]
    assert report.caches[str(shared / "artifacts")] == 2000
    ckpt = CheckpointManager(None, "opted", async_save=False, wandb_cache_cap=1000,
                             trim_cache_dir=shared / "artifacts")
    ckpt.save(1, model)
    ckpt.finish()
    assert [p.name for p in blobs.iterdir()] == ["blob3"]


def test_index_transactions_are_fsynced_at_commit(offline_env):
    # synchronous=FULL (2): the WAL is fsynced by every COMMIT; the store's default NORMAL (1)
    # can lose the last commits to a power cut.
    index = Index.open()
    with index._conn() as c:
        assert c.execute("PRAGMA synchronous").fetchone()[0] == 2
    with index.store.connect() as other:
        assert other.execute("PRAGMA synchronous").fetchone()[0] == 1


def test_gc_lists_again_a_complete_version_whose_index_row_was_lost(offline_env, tiny):
    import shutil
    import sqlite3

    model, opt = tiny
    ckpt = CheckpointManager(None, "lost", async_save=False)
    for step in (1, 2, 3):
        ckpt.save(step, model, opt, metrics={"loss": 1.0 / step})
    ckpt.finish()
    v2 = Index.open().get("lost", 2)
    assert v2 is not None
    # What a power cut between the rename and the COMMIT reaching the disk leaves: the folder,
    # no row, no alias, the counter not advanced.
    db = Index.open().store.db_path
    with sqlite3.connect(db) as c:
        c.execute("DELETE FROM artifacts_versions WHERE name='lost' AND version=2")
        c.execute("DELETE FROM artifacts_run_aliases WHERE name='lost' AND version=2")
        c.execute("UPDATE artifacts_run_aliases SET version=1 WHERE name='lost' AND alias='latest'")
        c.execute("UPDATE artifacts_counters SET next_version=2 WHERE name='lost'")
    # and a broken unlisted folder: a copy whose weights were cut short
    broken = v2.path.parent / "v7"
    shutil.copytree(v2.path, broken)
    with open(broken / "model.safetensors", "r+b") as fh:
        fh.truncate(100)
    assert [v.version for v in list_versions("lost")] == [0, 1]

    dry = gc(dry_run=True)
    assert dry.reindexed == [str(v2.path)] and str(broken) in dry.removed
    assert [v.version for v in list_versions("lost")] == [0, 1]
    report = gc()
    assert report.reindexed == [str(v2.path)]
    assert str(broken) in report.removed and not broken.exists()
    assert str(v2.path) not in report.removed and v2.path.is_dir()
    listed = {v.version: v for v in list_versions("lost")}
    assert sorted(listed) == [0, 1, 2]
    assert set(listed[2].aliases) == {"latest", "step-3"} and listed[2].step == 3
    fresh = Tiny()
    assert load("lost:latest", fresh).step == 3
    assert torch.equal(fresh.embed.weight, model.embed.weight)
    # the next save continues after it
    ckpt = CheckpointManager(None, "lost", async_save=False)
    assert ckpt.save(4, model).wait().version == 3
    ckpt.finish()
