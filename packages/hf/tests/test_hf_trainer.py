"""The real Trainer with WandbkitCallback, offline, read back from what W&B recorded."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch
from hf_helpers import read_run, run_dir_of, tiny_args, tiny_trainer, wandb_run_dirs

import wandbkit
import wandbkit_hf
from wandbkit import hookimpl
from wandbkit.metrics import Metric
from wandbkit.plugins import get_plugin_manager
from wandbkit_hf import WandbkitCallback
from wandbkit_hf.tiny import synthetic_dataset


class TokenAccuracy:
    """A throwaway metrics plugin: next-token accuracy, as an installed plugin would add."""

    @hookimpl
    def wandbkit_register_metrics(self, register: Any) -> None:
        def accuracy(outputs: Any, batch: Any) -> dict[str, Any]:
            pred = outputs.logits[:, :-1].argmax(-1)
            return {"tok/accuracy": (pred == batch.labels[:, 1:]).float().mean()}

        register(Metric(name="tok-accuracy", fn=accuracy))


@pytest.fixture
def token_accuracy() -> Any:
    pm = get_plugin_manager()
    plugin = TokenAccuracy()
    pm.register(plugin, name="test-token-accuracy")
    try:
        yield plugin
    finally:
        pm.unregister(plugin)


@pytest.fixture(autouse=True)
def one_thread() -> Any:
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: faster than fighting over two busy cores
    yield
    torch.set_num_threads(before)


def test_one_run_namespaced_metrics_config_and_checkpoint_versions(
        tmp_path: Path, offline_env: Path, token_accuracy: Any,
        capfd: pytest.CaptureFixture[str]) -> None:
    from wandbkit_artifacts.index import Index
    from wandbkit_artifacts.loader import verify_folder

    evals = {"a": synthetic_dataset(16, seed=1), "b": synthetic_dataset(16, seed=2)}
    trainer = tiny_trainer(
        tmp_path / "out", callbacks=[WandbkitCallback(project="hf-test")], eval_dataset=evals,
        max_steps=12, logging_steps=2, eval_strategy="steps", eval_steps=4, save_strategy="steps",
        save_steps=4, save_total_limit=1, metric_for_best_model="a_loss", greater_is_better=False,
        report_to=["wandb"], run_name="tiny")
    trainer.compute_metrics = wandbkit_hf.compute_metrics
    trainer.train()
    assert "transformers' WandbCallback is switched off" in capfd.readouterr().err

    # exactly one W&B run, though report_to named "wandb" too
    dirs = wandb_run_dirs(offline_env)
    assert len(dirs) == 1, dirs
    rec = read_run(dirs[0])
    h = rec["history"]
    assert sorted(h) == [2, 4, 6, 8, 10, 12]
    for step, row in h.items():
        assert row["train/global_step"] == step
        assert isinstance(row["train/loss"], float) and "train/learning_rate" in row
    for step in (4, 8, 12):
        assert {"eval/a/loss", "eval/b/loss", "eval/a/tok/accuracy", "eval/b/tok/accuracy"} \
            <= set(h[step]), h[step]
        assert 0 <= h[step]["eval/a/tok/accuracy"] <= 1
    assert not any(k.startswith("eval/") for k in h[2])
    assert not any(k.endswith("runtime") or "flos" in k for row in h.values() for k in row
                   if not k.startswith("_"))
    summary = rec["summary"]
    for key in ("train/runtime", "train/total_flos", "train/mean_loss", "eval/a/runtime",
                "train/samples_per_second"):
        assert key in summary, sorted(summary)
    assert summary["train/total_flos"] > 0

    config = rec["config"]
    assert config["training_args"]["learning_rate"] == 3e-3
    assert config["model_config"]["n_layer"] == 2
    n_params = sum(p.numel() for p in trainer.model.parameters())
    assert config["parameters"] == {"total": n_params, "trainable": n_params}
    data = config["data"]
    assert data["train"]["fingerprint"] == trainer.train_dataset._fingerprint
    assert data["train"]["size"] == 64 and data["eval"]["a"]["size"] == 16
    assert "input_ids" in data["train"]["features"]

    # checkpoints: one version per save, aliases latest/step-N/best/final, in W&B too
    logged = {tuple(sorted(a["aliases"])) for a in rec["artifacts"]}
    steps_logged = sorted(int(a) for al in logged for a in al if a.startswith("step-")
                          for a in [a[5:]])
    assert steps_logged == [4, 8, 12], logged
    index = Index.open(offline_env)
    aliases = index.aliases("tiny")
    best_metric = {s: h[s]["eval/a/loss"] for s in (4, 8, 12)}
    best_step = min(best_metric, key=best_metric.__getitem__)
    latest = index.resolve("tiny", "latest")
    assert latest is not None and latest.step == 12
    assert aliases["final"] == aliases["latest"]
    assert index.resolve("tiny", "best").step == best_step
    assert index.resolve("tiny", "best").metrics["eval/a/loss"] == pytest.approx(
        best_metric[best_step])
    # retention follows save_total_limit=1: the newest, plus what holds latest/best
    listed = {v.step for v in index.versions("tiny")}
    assert listed == {12, best_step}
    # registered in place: the version's files are HF's files (hard links), not copies
    hf_file = tmp_path / "out" / "checkpoint-12" / "model.safetensors"
    assert os.stat(latest.path / "model.safetensors").st_ino == os.stat(hf_file).st_ino
    assert (latest.path / "trainer_state.json").is_file()
    assert verify_folder(latest.path) == []


def test_resume_by_alias_repeats_the_uninterrupted_losses(tmp_path: Path,
                                                          offline_env: Path) -> None:
    first = WandbkitCallback(project="hf-test", checkpoint_name="resume")
    tiny_trainer(tmp_path / "a", callbacks=[first], max_steps=8, save_strategy="steps",
                 save_steps=4).train()
    folder = wandbkit_hf.resolve("resume:step-4")
    assert Path(folder, "optimizer.pt").is_file() and Path(folder, "rng_state.pth").is_file()

    second = WandbkitCallback(project="hf-test", checkpoint_name="resumed")
    trainer = tiny_trainer(tmp_path / "b", max_steps=8, save_strategy="no")
    trainer.add_callback(second)  # added after construction: it finds its trainer at train time
    trainer.train(resume_from_checkpoint=folder)
    assert second.trainer is trainer

    straight = read_run(run_dir_of(offline_env, first.run.id))["history"]
    resumed = read_run(run_dir_of(offline_env, second.run.id))["history"]
    assert sorted(resumed) == [5, 6, 7, 8]
    config = read_run(run_dir_of(offline_env, second.run.id))["config"]
    assert config["data"]["train"]["size"] == 64
    for step in (5, 6, 7, 8):
        assert resumed[step]["train/loss"] == pytest.approx(straight[step]["train/loss"],
                                                            rel=1e-5), step

    with pytest.raises(wandbkit.errors.UserError, match="resume"):
        wandbkit_hf.resolve("resume:step-99")


def test_joins_an_active_run_and_leaves_it_open(tmp_path: Path, offline_env: Path) -> None:
    with wandbkit.init(project="hf-test", mode="offline") as run:
        for step in range(5):  # the user's own logging before the Trainer runs
            run.log({"pre/x": step}, step=step)
        trainer = tiny_trainer(tmp_path / "out", max_steps=2)
        wandbkit_hf.track(trainer, checkpoints=False)
        wandbkit_hf.track(trainer)  # idempotent: one callback
        assert sum(isinstance(cb, WandbkitCallback) for cb in trainer.callback_handler.callbacks) == 1
        trainer.train()
        assert run.report is None  # the user's run: still open for more logging
        trainer.predict(synthetic_dataset(8, seed=3))  # test/ metrics (HF does not log them)
        run.log({"after/hf": 1.0})
    assert len(wandb_run_dirs(offline_env)) == 1
    h = read_run(run_dir_of(offline_env, run.id))["history"]
    # the Trainer's rows come after the run's own (none dropped), global_step as their x-axis
    assert [h[s]["train/global_step"] for s in (6, 7)] == [1, 2]
    assert "train/loss" in h[7] and h[4]["pre/x"] == 4
    assert "test/loss" in h[7] and "after/hf" in h[8]  # predict: at the model's global step


def test_hyperparameter_search_one_grouped_run_per_trial_best_marked(tmp_path: Path,
                                                                     offline_env: Path) -> None:
    pytest.importorskip("optuna")
    from transformers import Trainer

    from wandbkit_hf.tiny import tiny_gpt2

    trainer = Trainer(model_init=lambda trial=None: tiny_gpt2(),
                      args=tiny_args(tmp_path / "out", max_steps=3, eval_strategy="steps",
                                     eval_steps=3, run_name="search", report_to=["wandb"]),
                      train_dataset=synthetic_dataset(32, seed=0),
                      eval_dataset=synthetic_dataset(16, seed=1),
                      callbacks=[WandbkitCallback(project="hf-test", checkpoints=False)])
    best = wandbkit_hf.hyperparameter_search(
        trainer, direction="minimize", backend="optuna", n_trials=2,
        hp_space=lambda trial: {"learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-2,
                                                                     log=True)})
    dirs = wandb_run_dirs(offline_env)
    assert len(dirs) == 3, dirs  # two trials and the search's summary run
    runs = [read_run(d) for d in dirs]
    groups = {r["run"]["run_group"] for r in runs}
    assert len(groups) == 1 and next(iter(groups)).startswith("search-hp-")
    summary_runs = [r for r in runs if "hp_search/best_run_id" in r["summary"]]
    trials = [r for r in runs if "hp_search/objective" in r["summary"]]
    assert len(summary_runs) == 1 and len(trials) == 2
    best_id = summary_runs[0]["summary"]["hp_search/best_run_id"]
    objectives = {r["run"]["run_id"]: r["summary"]["hp_search/objective"] for r in trials}
    assert best_id == min(objectives, key=objectives.__getitem__)
    assert summary_runs[0]["summary"]["hp_search/best_objective"] == pytest.approx(best.objective)
    for r in trials:
        assert r["config"]["hp_search"]["params"]["learning_rate"] > 0
        assert "train/loss" in r["history"][3]


def test_watch_goes_through_the_registry(tmp_path: Path, offline_env: Path) -> None:
    """``watch=`` asks whichever plugin implements ``wandbkit_watch`` (wandbkit-torch)."""
    hook = getattr(get_plugin_manager().hook, "wandbkit_watch", None)
    if hook is None or not hook.get_hookimpls():
        pytest.skip("no installed plugin implements wandbkit_watch")
    callback = WandbkitCallback(project="hf-test", checkpoints=False, watch="gradients",
                                watch_every=2)
    tiny_trainer(tmp_path / "out", callbacks=[callback], max_steps=4).train()
    h = read_run(run_dir_of(offline_env, callback.run.id))["history"]
    key = "gradients/transformer.h.0.attn.c_attn.weight._type"  # a histogram, flattened
    assert [s for s in sorted(h) if key in h[s]] == [2, 4]
    assert "train/loss" in h[2]
    with pytest.raises(wandbkit.errors.UserError, match="watch"):
        WandbkitCallback(watch="everything")


def test_load_best_model_at_end_makes_the_best_checkpoint_final(tmp_path: Path,
                                                               offline_env: Path) -> None:
    from wandbkit_artifacts.index import Index

    callback = WandbkitCallback(project="hf-test", checkpoint_name="lbm")
    # greater_is_better on the loss: the first (highest-loss) checkpoint is the "best" one,
    # so the final model differs from the last checkpoint
    trainer = tiny_trainer(tmp_path / "out", callbacks=[callback],
                           eval_dataset=synthetic_dataset(16, seed=1), max_steps=6,
                           eval_strategy="steps", eval_steps=2, save_strategy="steps",
                           save_steps=2, save_total_limit=1, load_best_model_at_end=True,
                           metric_for_best_model="loss", greater_is_better=True)
    trainer.train()
    index = Index.open(offline_env)
    best, final, latest = (index.resolve("lbm", a) for a in ("best", "final", "latest"))
    # the final model is the best checkpoint's weights: a version (the newest, so `latest`)
    # registered from the same files; the last checkpoint of the training stays listed
    assert best.step == final.step == 2 and latest.version == final.version
    assert 6 in {v.step for v in index.versions("lbm")}
    assert final.metrics["eval/loss"] == best.metrics["eval/loss"]
    hf_best = Path(trainer.state.best_model_checkpoint) / "model.safetensors"
    assert os.stat(final.path / "model.safetensors").st_ino == os.stat(hf_best).st_ino


def test_default_watch_logs_fused_norms_with_each_log(tmp_path: Path, offline_env: Path) -> None:
    """By default the callback asks wandbkit-torch for gradient/weight norms (no histograms) at
    the Trainer's logging steps; the global gradient norm equals the Trainer's own grad_norm
    (the same gradients, read before clipping)."""
    hook = getattr(get_plugin_manager().hook, "wandbkit_watch", None)
    if hook is None or not hook.get_hookimpls():
        pytest.skip("no installed plugin implements wandbkit_watch")
    callback = WandbkitCallback(project="hf-test", checkpoints=False)
    trainer = tiny_trainer(tmp_path / "out", callbacks=[callback], max_steps=24, logging_steps=4)
    trainer.train()
    h = read_run(run_dir_of(offline_env, callback.run.id))["history"]
    logged = [s for s in sorted(h) if "train/loss" in h[s]]
    with_norms = [s for s in logged if "grad/global_norm" in h[s]]
    # every 12 steps: the first multiple of logging_steps=4 that is at least 10 steps
    assert logged == [4, 8, 12, 16, 20, 24] and with_norms == [12, 24], sorted(h)
    for step in with_norms:
        row = h[step]
        assert "grad_norm/transformer.h.0.attn.c_attn" in row and "weight_norm/transformer.wte" in row, row
        assert not any(k.startswith("gradients/") for k in row)
        assert row["grad/global_norm"] == pytest.approx(row["train/grad_norm"], rel=1e-4)
