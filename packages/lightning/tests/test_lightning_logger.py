"""``WandbkitLogger`` with a real Lightning ``Trainer`` on CPU: the store and W&B's own records."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning_helpers import read_run, short_trainer, wandb_run_dirs

from wandbkit.errors import UserError
from wandbkit.store import Store
from wandbkit_lightning import WandbkitLogger, resolve
from wandbkit_lightning.tiny import TinyRegressor, synthetic_loader


class MediaAtValidation(pl.Callback):
    """Logs an image, a table and a text table through the logger after each validation."""

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        logger = trainer.logger
        step = trainer.global_step
        logger.log_image("samples", [np.full((4, 4), step * 10, dtype=np.uint8)], step=step,
                         caption=[f"step {step}"])
        logger.log_table("preds", columns=["step", "loss"], data=[[step, 0.5]], step=step)
        logger.log_text("notes", columns=["text"], data=[[f"at {step}"]], step=step)


def _checkpoint(tmp_path: Path, **kwargs: Any) -> ModelCheckpoint:
    options: dict[str, Any] = dict(dirpath=tmp_path / "ck", monitor="val/loss", save_top_k=2,
                                   every_n_train_steps=2, save_last=True)
    options.update(kwargs)
    return ModelCheckpoint(**options)


def _fit(logger: WandbkitLogger, tmp_path: Path, model: TinyRegressor | None = None,
         callbacks: list[Any] | None = None, **kwargs: Any) -> tuple[pl.Trainer, ModelCheckpoint]:
    checkpoint = _checkpoint(tmp_path)
    trainer = short_trainer(logger, [checkpoint, *(callbacks or [])], **kwargs)
    trainer.fit(model or TinyRegressor(width=16), synthetic_loader(64, seed=0),
                synthetic_loader(16, seed=1))
    return trainer, checkpoint


def test_fit_logs_config_metrics_media_and_checkpoint_versions(tmp_path: Path,
                                                               offline_env: Path) -> None:
    from wandbkit_artifacts.index import Index

    pl.seed_everything(0, verbose=False)
    logger = WandbkitLogger(project="lt", name="tiny", log_model="all", checkpoint_name="tiny",
                            tags=["test"])
    model = TinyRegressor(width=16, lr=0.01, extra={"opt": {"betas": [0.9, 0.99]}})
    logger.log_hyperparams(Namespace(batch=16, sched=Namespace(name="cosine", warmup=2)))
    logger.log_hyperparams({"data": {"n": 64, "seed": 0}})
    logger.watch(model, log="gradients", log_freq=2)
    trainer, checkpoint = _fit(logger, tmp_path, model, [MediaAtValidation()])

    # the local store: one finished run with the config and every logged key
    store = Store.open(offline_env)
    [run] = store.runs()
    assert run.id == logger.version and run.project == "lt" and run.name == "tiny"
    assert run.state == "finished" and run.tags == ["test"]
    assert run.config["width"] == 16 and run.config["lr"] == 0.01 and run.config["fail_at"] is None
    assert run.config["extra"] == {"opt": {"betas": [0.9, 0.99]}}  # save_hyperparameters, nested
    assert run.config["sched"] == {"name": "cosine", "warmup": 2}  # a nested Namespace
    assert run.config["batch"] == 16 and run.config["data"] == {"n": 64, "seed": 0}
    keys = set(store.keys(run.id))
    assert {"train/loss", "val/loss", "epoch", "trainer/global_step"} <= keys
    steps = [v for _, v in store.history(run.id, ["trainer/global_step"])["trainer/global_step"]]
    assert steps == sorted(steps) and steps[-1] == trainer.global_step == 8
    media = {m["key"] for m in store.media(run.id)}
    assert {"samples", "preds", "notes"} <= media
    assert "gradients/net.0.weight" in media  # watch() through the wandbkit_watch hook

    # W&B's own records: the same rows, config, and trainer/global_step as the x-axis
    [run_dir] = wandb_run_dirs(offline_env)
    rec = read_run(run_dir)
    logged = {k.partition(".")[0] for row in rec["history"] for k in row}  # media: "key.<field>"
    assert {"train/loss", "val/loss", "epoch", "trainer/global_step",
            "gradients/net", "samples", "preds", "notes"} <= logged
    types = {k: v for row in rec["history"] for k, v in row.items() if k.endswith("._type")}
    assert types["samples._type"] == "image-file" and types["preds._type"] == "table-file"
    assert types["gradients/net.0.weight._type"] == "histogram"
    assert [r["trainer/global_step"] for r in rec["history"] if "train/loss" in r] == \
        list(range(8))  # one train/loss row per step, logged at Lightning's step
    config = {k: v.get("value", v) if isinstance(v, dict) else v for k, v in rec["config"].items()}
    assert config["width"] == 16 and config["sched"] == {"name": "cosine", "warmup": 2}
    assert config["extra"] == {"opt": {"betas": [0.9, 0.99]}}
    assert any(m.get("name") == "trainer/global_step" for m in rec["metrics"])
    assert any(m.get("glob_name") == "*" and m.get("step_metric") == "trainer/global_step"
               for m in rec["metrics"])
    assert rec["exit"].get("exit_code", 0) == 0

    # checkpoints: versions with best (the callback's best_model_path) and latest, the score
    versions = Index.open(offline_env).versions("tiny")
    by_alias = {a: v for v in versions for a in v.aliases}
    best_step = torch.load(checkpoint.best_model_path, weights_only=True)["global_step"]
    assert by_alias["best"].step == best_step
    assert by_alias["best"].metrics["val/loss"] == pytest.approx(float(checkpoint.best_model_score))
    assert by_alias["latest"].step == 8 and len({v.step for v in versions}) == len(versions)
    assert len(versions) <= 3  # save_top_k=2 newest, plus best
    for alias in ("best", "latest"):
        state = torch.load(resolve(f"tiny:{alias}"), weights_only=True)
        assert state["global_step"] == by_alias[alias].step
        TinyRegressor(width=16).load_state_dict(state["state_dict"])


def test_resume_by_id_and_ckpt_path_continues_the_run(tmp_path: Path, offline_env: Path) -> None:
    first = WandbkitLogger(project="lt", log_model="all", checkpoint_name="res")
    _fit(first, tmp_path, max_steps=4)
    best = resolve("res:best")
    best_step = torch.load(best, weights_only=True)["global_step"]
    store = Store.open(offline_env)
    before = len(store.history(first.version, ["trainer/global_step"])["trainer/global_step"])

    second = WandbkitLogger(project="lt", id=first.version, log_model="all",
                            checkpoint_name="res")
    trainer = short_trainer(second, [_checkpoint(tmp_path, save_top_k=-1)], max_steps=6)
    trainer.fit(TinyRegressor(width=16), synthetic_loader(64, seed=0), synthetic_loader(16, seed=1),
                ckpt_path=best, weights_only=True)
    assert second.version == first.version

    [run] = store.runs()
    assert run.id == first.version and run.resumed == 1 and run.state == "finished"
    steps = [v for _, v in store.history(run.id, ["trainer/global_step"])["trainer/global_step"]]
    # the second fit's rows follow the first's and start at the best checkpoint's step
    assert steps[before] == best_step and steps[-1] > best_step and trainer.global_step == 6
    dirs = wandb_run_dirs(offline_env)
    assert len(dirs) == 2 and all(d.name.endswith(f"-{run.id}") for d in dirs)  # one W&B run
    # versions: the first fit's two, then what the second wrote (not the first's best again)
    from wandbkit_artifacts.index import Index

    assert [v.step for v in Index.open(offline_env).versions("res")] == \
        [2, 4, *range(best_step + 2, 7, 2)]


def test_exception_in_training_step_fails_the_run(tmp_path: Path, offline_env: Path) -> None:
    logger = WandbkitLogger(project="lt")
    with pytest.raises(RuntimeError, match="failing at step 3"):
        _fit(logger, tmp_path, TinyRegressor(width=16, fail_at=3))
    [run] = Store.open(offline_env).runs()
    assert run.state == "failed" and run.exit_code not in (None, 0)
    assert "train/loss" in Store.open(offline_env).keys(run.id)  # rows before the failure kept
    [run_dir] = wandb_run_dirs(offline_env)
    assert read_run(run_dir)["exit"]["exit_code"] != 0


def test_log_model_true_registers_what_the_callback_kept_at_the_end(tmp_path: Path,
                                                                    offline_env: Path) -> None:
    from wandbkit_artifacts.index import Index

    logger = WandbkitLogger(project="lt", log_model=True, checkpoint_name="kept")
    _, checkpoint = _fit(logger, tmp_path)
    versions = Index.open(offline_env).versions("kept")
    kept = {torch.load(p, weights_only=True)["global_step"]
            for p in [*checkpoint.best_k_models, checkpoint.last_model_path]}
    assert {v.step for v in versions} == kept
    [best] = [v for v in versions if "best" in v.aliases]
    assert best.step == torch.load(checkpoint.best_model_path, weights_only=True)["global_step"]


def test_test_after_fit_continues_the_same_run(tmp_path: Path, offline_env: Path) -> None:
    logger = WandbkitLogger(project="lt")
    trainer, _ = _fit(logger, tmp_path, max_steps=2)
    trainer.validate(trainer.lightning_module, synthetic_loader(16, seed=1))
    [run] = Store.open(offline_env).runs()
    assert run.resumed == 1 and run.state == "finished"
    assert len(Store.open(offline_env).history(run.id, ["val/loss"])["val/loss"]) == 2


def test_bad_arguments_say_what_is_allowed(offline_env: Path) -> None:
    with pytest.raises(UserError, match="log_model='best'"):
        WandbkitLogger(log_model="best")
    logger = WandbkitLogger(project="lt")
    with pytest.raises(UserError, match="images must be a list"):
        logger.log_image("x", np.zeros((2, 2)))
    with pytest.raises(UserError, match="1 images but 2 values for caption"):
        logger.log_image("x", [np.zeros((2, 2))], caption=["a", "b"])
    logger.finalize("success")
    assert Store.open(offline_env).runs() == []  # bad input started no run


def test_a_pytorch_lightning_trainer_takes_the_logger(tmp_path: Path, offline_env: Path) -> None:
    import pytorch_lightning as ptl

    class Linear(ptl.LightningModule):
        def __init__(self, lr: float = 0.1) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Linear(8, 1)

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            loss = torch.nn.functional.mse_loss(self.net(batch[0]), batch[1])
            self.log("train/loss", loss)
            return loss

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    logger = WandbkitLogger(project="lt", log_model="all", checkpoint_name="ptl")
    trainer = ptl.Trainer(max_steps=3, logger=logger, log_every_n_steps=1, accelerator="cpu",
                          enable_progress_bar=False, enable_model_summary=False,
                          callbacks=[ptl.callbacks.ModelCheckpoint(dirpath=tmp_path / "ck")])
    trainer.fit(Linear(), synthetic_loader(48, seed=0))
    [run] = Store.open(offline_env).runs()
    assert run.state == "finished" and run.config == {"lr": 0.1}
    assert "train/loss" in Store.open(offline_env).keys(run.id)
    assert torch.load(resolve("ptl:latest"), weights_only=True)["global_step"] == 3


def test_a_name_rewritten_across_file_systems_leaves_versions_whole(
        tmp_path: Path, offline_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lightning writes each save to a temp file, then moves it onto the name: across file
    systems (the temp folder on tmpfs) the move copies *into* an existing file of that name,
    which a hard link would share; every version must still hold its own step's weights."""
    import tempfile

    from wandbkit_artifacts.index import Index

    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs a temp folder on another file system (/dev/shm)")
    monkeypatch.setattr(tempfile, "tempdir", tempfile.mkdtemp(dir=shm))
    logger = WandbkitLogger(project="lt", log_model="all", checkpoint_name="same")
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ck", filename="model", save_top_k=-1,
                                 enable_version_counter=False, every_n_train_steps=2)
    short_trainer(logger, [checkpoint], max_steps=6, limit_val_batches=0).fit(
        TinyRegressor(width=16), synthetic_loader(64, seed=0))
    versions = Index.open(offline_env).versions("same")
    assert [v.step for v in versions] == [2, 4, 6]  # one file name, rewritten at each save
    for v in versions:
        assert torch.load(v.path / "model.ckpt", weights_only=True)["global_step"] == v.step
    assert [p.name for p in (tmp_path / "ck").iterdir()] == ["model.ckpt"]  # no copies left


def test_a_failing_checkpoint_plugin_does_not_stop_training(
        tmp_path: Path, offline_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from wandbkit import hookimpl
    from wandbkit.plugins import get_plugin_manager

    class Broken:
        @hookimpl(tryfirst=True)
        def wandbkit_checkpoint_save(self, request: Any) -> Any:
            raise OSError("disk full")

    pm = get_plugin_manager()
    plugin = Broken()
    pm.register(plugin, name="broken-checkpoints")
    try:
        logger = WandbkitLogger(project="lt", log_model="all", checkpoint_name="broken")
        trainer, _ = _fit(logger, tmp_path, max_steps=4)
    finally:
        pm.unregister(plugin)
    assert trainer.global_step == 4
    [run] = Store.open(offline_env).runs()
    assert run.state == "finished" and "train/loss" in Store.open(offline_env).keys(run.id)
    assert "registering epoch=0-step=2.ckpt (step 2) failed: OSError: disk full" in capsys.readouterr().err
