"""``CheckpointRequest.files`` and ``LoadRequest.resolve_only`` through the real caller
(``wandbkit.checkpointing``) and the real checkpoint plugin (wandbkit-artifacts)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hf_helpers import read_run, run_dir_of

import wandbkit
from wandbkit.checkpointing import load_checkpoint, save_checkpoint
from wandbkit.errors import UserError


def _trainer_like_folder(path: Path, seed: int) -> Path:
    path.mkdir(parents=True)
    (path / "model.safetensors").write_bytes(os.urandom(4096))
    (path / "trainer_state.json").write_text(f'{{"global_step": {seed}}}')
    (path / "sub").mkdir()
    (path / "sub" / "extra.bin").write_bytes(b"x" * 100)
    return path


def test_hook_checkpoint_save_files(tmp_path: Path, offline_env: Path) -> None:
    """Existing files become a version in place: hard links, digests, aliases, retention, W&B."""
    from wandbkit_artifacts.index import Index
    from wandbkit_artifacts.layout import read_manifest
    from wandbkit_artifacts.loader import verify_folder

    with wandbkit.init(project="files", mode="offline") as run:
        folders = [_trainer_like_folder(tmp_path / f"checkpoint-{s}", s) for s in (10, 20, 30)]
        results = [save_checkpoint(s, files=str(f), name="hf", run=run, keep_last=2,
                                   metrics={"eval/loss": 1.0 / s}, aliases=["best"] if s == 20
                                   else [])
                   for s, f in zip((10, 20, 30), folders, strict=True)]
        versions = [r.wait() for r in results]
        # a mapping names the files explicitly
        only = save_checkpoint(40, files={"weights.safetensors": folders[2] / "model.safetensors"},
                               name="picked", run=run).wait()
    for version, folder in zip(versions, folders, strict=True):
        for name in ("model.safetensors", "trainer_state.json", "sub/extra.bin"):
            assert os.stat(version.path / name).st_ino == os.stat(folder / name).st_ino, name
    manifest = read_manifest(versions[2].path)
    assert manifest["registered_in_place"] is True and manifest["copied"] == []
    assert set(manifest["files"]) == {"model.safetensors", "trainer_state.json", "sub/extra.bin"}
    assert manifest["size"] == 4096 + 100 + len('{"global_step": 30}')
    assert verify_folder(versions[2].path) == []
    assert sorted(os.listdir(only.path)) == ["manifest.json", "weights.safetensors"]

    index = Index.open(offline_env)
    aliases = index.aliases("hf")
    assert aliases["latest"] == versions[2].version and aliases["best"] == versions[1].version
    # keep_last=2 keeps v1 and v2 (v1 also holds best); v0 is unlisted
    assert [v.step for v in index.versions("hf")] == [20, 30]

    # the originals can go (HF's rotation): the version keeps the bytes
    original = (folders[2] / "model.safetensors").read_bytes()
    for f in folders:
        for p in sorted(f.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
    assert (versions[2].path / "model.safetensors").read_bytes() == original

    # W&B got one artifact per version, with the aliases
    arts = read_run(run_dir_of(offline_env, run.id))["artifacts"]
    assert [sorted(a["aliases"]) for a in arts if a["name"] == "hf"] == [
        ["latest", "step-10"], ["best", "latest", "step-20"], ["latest", "step-30"]]


def test_hook_checkpoint_load_resolve_only(tmp_path: Path, offline_env: Path) -> None:
    """``resolve_only`` finds and verifies the folder, loads nothing."""
    with wandbkit.init(project="files", mode="offline") as run:
        folder = _trainer_like_folder(tmp_path / "checkpoint-5", 5)
        save_checkpoint(5, files=folder, name="hf", run=run, aliases=["best"]).wait()
    found = load_checkpoint("hf:best", resolve_only=True)
    assert found.step == 5 and found.model_state is None and found.states == {}
    assert (Path(found.path) / "trainer_state.json").read_text() == '{"global_step": 5}'
    # a corrupted file is caught
    target = Path(found.path) / "sub" / "extra.bin"
    target.unlink()
    target.write_bytes(b"y" * 100)
    with pytest.raises(UserError, match="digest"):
        load_checkpoint("hf:best", resolve_only=True)


def test_register_files_bad_input_is_a_clear_error(tmp_path: Path, offline_env: Path) -> None:
    with wandbkit.init(project="files", mode="offline") as run:
        with pytest.raises(UserError, match="not a folder"):
            save_checkpoint(1, files=str(tmp_path / "missing"), name="hf", run=run)
        with pytest.raises(UserError, match="no such file"):
            save_checkpoint(1, files={"a.bin": tmp_path / "nope.bin"}, name="hf", run=run)
        (tmp_path / "f.bin").write_bytes(b"1")
        with pytest.raises(UserError, match="relative path"):
            save_checkpoint(1, files={"../escape.bin": tmp_path / "f.bin"}, name="hf", run=run)
