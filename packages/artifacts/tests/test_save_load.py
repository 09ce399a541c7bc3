"""Saving and loading: format, digests, tied weights, safe loading, policies, async."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from conftest import Tiny, train_step
from wandbkit_artifacts import CheckpointError, CheckpointManager, list_versions, load
from wandbkit_artifacts.errors import VerificationError


def test_version_format_is_safetensors_weights_only_and_manifest(tiny):
    model, opt = tiny
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2)
    ckpt = CheckpointManager(None, "fmt", async_save=False, digest="sha256")
    version = ckpt.save(7, model, opt, sched, extra={"epoch": 3, "best": torch.tensor(0.5)},
                        metrics={"val/loss": torch.tensor(1.25)}).version
    ckpt.finish()
    folder = version.path
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["step"] == 7 and manifest["metrics"] == {"val/loss": 1.25}
    assert manifest["digest_algorithm"] == "sha256"
    assert set(manifest["files"]) == {"model.safetensors", "optimizer.pt", "scheduler.pt",
                                      "extra.pt", "rng.pt"}
    for fname, entry in manifest["files"].items():
        data = (folder / fname).read_bytes()
        assert entry == {"digest": hashlib.sha256(data).hexdigest(), "size": len(data)}
    assert manifest["packages"]["torch"] == torch.__version__
    assert {"id", "created", "size", "git_commit", "run_id", "project", "config"} <= set(manifest)
    # Weights load with the safetensors library itself; tied weights are stored once.
    weights = load_file(str(folder / "model.safetensors"))
    assert "head.weight" not in weights and manifest["tied"] == {"head.weight": "embed.weight"}
    torch.testing.assert_close(weights["embed.weight"], model.embed.weight.detach(), rtol=0, atol=0)
    # Every other file loads with weights_only=True.
    for fname in ("optimizer.pt", "scheduler.pt", "extra.pt", "rng.pt"):
        torch.load(folder / fname, weights_only=True)
    assert torch.load(folder / "extra.pt", weights_only=True)["epoch"] == 3


def test_load_restores_model_optimizer_and_ties(tiny):
    model, opt = tiny
    CheckpointManager(None, "rt", async_save=False).save(2, model, opt)
    torch.manual_seed(99)
    fresh = Tiny()
    fresh_opt = torch.optim.Adam(fresh.parameters(), lr=1e-2)
    out = load("rt:latest", fresh, fresh_opt)
    assert out.step == 2 and out.ref == "rt:v0"
    assert fresh.head.weight is fresh.embed.weight
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    # The optimizers now take identical steps.
    torch.manual_seed(5)
    la = train_step(model, opt)
    torch.manual_seed(5)
    lb = train_step(fresh, fresh_opt)
    assert la == lb
    pairs = zip(model.parameters(), fresh.parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)


def test_async_save_writes_the_state_as_of_the_call(tiny):
    model, opt = tiny
    expected = {k: v.clone() for k, v in model.state_dict().items()}
    ckpt = CheckpointManager(None, "snap", async_save=True, max_in_flight=2)
    result = ckpt.save(1, model, opt)
    with torch.no_grad():  # training goes on while the writer thread works
        for p in model.parameters():
            p.mul_(-3.0)
    version = result.wait()
    ckpt.finish()
    saved = load_file(str(version.path / "model.safetensors"))
    assert set(saved) == set(expected) - {"head.weight"}  # every weight (the tied one once)
    for k, v in saved.items():
        assert torch.equal(v, expected[k])


def test_background_failure_surfaces_at_next_save_and_at_finish(tiny):
    model, opt = tiny
    Path("blocker").write_text("a file where the checkpoint folder should go")
    ckpt = CheckpointManager(None, "fail", async_save=True, dir="blocker")
    first = ckpt.save(1, model, opt)  # returns at once: the write fails on the writer thread
    assert first.saved
    failed = "background save of 'fail' failed: (NotADirectory|FileExists)Error"
    with pytest.raises(CheckpointError, match=failed):
        ckpt.save(2, model, opt)
    ckpt.save(3, model, opt)
    with pytest.raises(CheckpointError, match="background save"):
        ckpt.finish()
    assert list_versions("fail") == []


def test_extra_that_weights_only_cannot_load_is_refused_at_save(tiny):
    model, opt = tiny
    ckpt = CheckpointManager(None, "extra", async_save=True)
    with pytest.raises(CheckpointError, match=r"extra\['cb'\] is a function"):
        ckpt.save(1, model, opt, extra={"epoch": 1, "cb": lambda: 1})
    ckpt.finish()


def test_policy_every_n_steps_retention_and_aliases(tiny):
    model, opt = tiny
    ckpt = CheckpointManager(None, "pol", every_n_steps=2, keep_last_k=2, metric="loss",
                             mode="min", keep_best_k=1, async_save=False)
    losses = {2: 5.0, 4: 1.0, 6: 3.0, 8: 4.0, 10: 2.0}
    results = {}
    for step in range(1, 11):
        results[step] = ckpt.save(step, model, opt, metrics={"loss": losses.get(step, 9.0)},
                                  aliases=["pinned"] if step == 2 else ())
    assert not results[3].saved and "every_n_steps=2" in results[3].reason
    assert all(results[s].saved for s in losses)
    ckpt.finish()
    by_step = {v.step: v for v in list_versions("pol")}
    # kept: the pinned one (user alias), the best (loss 1.0), the last two
    assert sorted(by_step) == [2, 4, 8, 10]
    assert "pinned" in by_step[2].aliases and "best" in by_step[4].aliases
    assert "latest" in by_step[10].aliases
    assert load("pol:best").step == 4 and load("pol:step-8").step == 8
    assert load("pol:v1").step == 4 and load("pol:pinned").step == 2
    # unlisted versions are gone from disk (never logged to W&B)
    assert sorted(p.name for p in by_step[2].path.parent.glob("v*")) == ["v0", "v1", "v3", "v4"]


def test_save_best_only_and_save_on_finish(tiny):
    model, opt = tiny
    ckpt = CheckpointManager(None, "best", metric="acc", mode="max", save_best_only=True,
                             async_save=False)
    saved = [ckpt.save(s, model, opt, metrics={"acc": a}).saved
             for s, a in enumerate([0.1, 0.3, 0.2, 0.5, 0.4], start=1)]
    assert saved == [True, True, False, True, False]
    final = ckpt.finish()  # step 5 was skipped: finish saves the last state seen
    assert final is not None and final.step == 5
    assert [v.step for v in list_versions("best")] == [1, 2, 4, 5]
    assert load("best:best").step == 4


def test_bad_arguments_are_clear():
    with pytest.raises(CheckpointError, match="keep_last_k=0"):
        CheckpointManager(None, "x", keep_last_k=0)
    with pytest.raises(CheckpointError, match="need metric"):
        CheckpointManager(None, "x", keep_best_k=2)
    with pytest.raises(CheckpointError, match="checkpoint name"):
        CheckpointManager(None, "a b")
    with pytest.raises(CheckpointError, match="mode="):
        CheckpointManager(None, "x", mode="up")


def test_corrupt_file_names_file_and_digests_and_fallback_walks_back(tiny):
    model, opt = tiny
    ckpt = CheckpointManager(None, "cor", async_save=False)  # default digest: xxh3_128
    for step in (1, 2, 3):
        ckpt.save(step, model, opt)
    ckpt.finish()
    latest = load("cor:latest").path
    middle = load("cor:v1").path
    for folder in (latest, middle):
        path = folder / "model.safetensors"
        data = bytearray(path.read_bytes())
        data[-1] ^= 0xFF
        path.write_bytes(bytes(data))
    manifest = json.loads((latest / "manifest.json").read_text())
    with pytest.raises(VerificationError) as err:
        load("cor:latest", model)
    message = str(err.value)
    assert str(latest / "model.safetensors") in message
    assert manifest["files"]["model.safetensors"]["digest"] in message
    assert "xxh3_128 digest" in message
    out = load("cor:latest", model, opt, fallback=True)
    assert out.ref == "cor:v0" and out.step == 1 and "fell back past" in out.skipped[0]


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_pickle_that_weights_only_refuses_is_a_clear_error(tiny):
    model, opt = tiny
    ckpt = CheckpointManager(None, "evil", async_save=False, digest="sha256")
    version = ckpt.save(1, model, opt).version
    target = version.path / "optimizer.pt"
    torch.save({"state": Evil()}, target)
    # re-sign the manifest so the digest passes and weights_only is what stops it
    manifest = json.loads((version.path / "manifest.json").read_text())
    data = target.read_bytes()
    manifest["files"]["optimizer.pt"] = {"digest": hashlib.sha256(data).hexdigest(),
                                         "size": len(data)}
    (version.path / "manifest.json").write_text(json.dumps(manifest))
    refused = r"optimizer\.pt cannot be loaded with weights_only=True"
    with pytest.raises(VerificationError, match=refused):
        load("evil:v0", model, opt)


def test_load_by_folder_path_and_name_beside_a_same_named_folder(tiny):
    model, opt = tiny
    version = CheckpointManager(None, "model", async_save=False).save(4, model, opt).version
    Path("model").mkdir()  # a folder named like the checkpoint does not shadow the name
    assert load("model").ref == "model:v0"
    by_path = load(str(version.path), model, opt)
    assert by_path.step == 4 and by_path.version is None
