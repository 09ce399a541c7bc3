"""The ``lightning`` stage of ``wandbkit demo``: a tiny LightningModule trained with
``WandbkitLogger`` and a ``ModelCheckpoint``, then resumed from the ``best`` version.

One run: ``train/loss`` and ``val/loss`` against ``trainer/global_step``, the hyperparameters in
its config, each checkpoint registered as a version (``latest``, ``best``, ``step-N``), and a
second ``fit`` that continues the same run from ``best`` (``ckpt_path=``, ``weights_only=True``).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from typing import Any

CHECKPOINT_NAME = "lightning-tiny"




@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Lightning's start-up lines (devices, tips), its note that the second fit reuses the
    checkpoint folder, the end-of-epoch check it repeats right after resuming from an
    end-of-epoch checkpoint (before any validation) and its own use of a torch API that torch
    deprecated (``LeafSpec``) are noise in the demo's output."""
    lightning_log = logging.getLogger("lightning.pytorch")
    level = lightning_log.level
    lightning_log.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*exists and is not empty")
            warnings.filterwarnings("ignore", message=".*could not find the monitored key")
            warnings.filterwarnings("ignore", message=".*LeafSpec")
            yield
    finally:
        lightning_log.setLevel(level)


def _progress(progress: Any, total: int) -> Any:
    """A Lightning callback that advances the demo's progress bar."""
    import lightning.pytorch as pl

    class Bar(pl.Callback):
        def __init__(self) -> None:
            self.task = progress.add_task("  training", total=total)

        def on_train_batch_end(self, trainer: Any, *args: Any, **kwargs: Any) -> None:
            progress.update(self.task, completed=trainer.global_step)

    return Bar()


def lightning_demo(ctx: Any) -> dict[str, Any]:
    """Train, then resume from ``best`` for a few steps; return the facts for the summary."""
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import ModelCheckpoint

    from wandbkit_lightning import WandbkitLogger, resolve
    from wandbkit_lightning.tiny import TinyRegressor, quiet_trainer_kwargs, synthetic_loader

    steps = 12 if ctx.quick else 60
    every = steps // 3  # one epoch: validation and a checkpoint at its end
    pl.seed_everything(0, verbose=False)

    def fit(max_steps: int, logger: WandbkitLogger, ckpt_path: str | None = None) -> pl.Trainer:
        checkpoint = ModelCheckpoint(dirpath=ctx.work_dir / "lightning", monitor="val/loss",
                                     save_top_k=2, save_last=True)
        callbacks: list[Any] = [checkpoint]
        if ctx.progress is not None:
            callbacks.append(_progress(ctx.progress, max_steps))
        trainer = pl.Trainer(max_steps=max_steps, logger=logger, callbacks=callbacks,
                             log_every_n_steps=1, limit_val_batches=2, **quiet_trainer_kwargs())
        trainer.fit(TinyRegressor(width=32, lr=0.01), synthetic_loader(16 * every, seed=0),
                    synthetic_loader(64, seed=1), ckpt_path=ckpt_path, weights_only=True)
        return trainer

    def logger(**kwargs: Any) -> WandbkitLogger:
        return WandbkitLogger(project=ctx.project, name="lightning-tiny", save_dir=ctx.store_dir,
                              mode=ctx.mode, log_model="all", checkpoint_name=CHECKPOINT_NAME,
                              **kwargs)

    with _quiet(), ctx.in_store():  # references resolve in the demo's store
        first = logger(tags=["demo", "lightning"])
        trainer = fit(steps, first)
        loss = float(trainer.callback_metrics["train/loss"])
        resumed_from = resolve(f"{CHECKPOINT_NAME}:best")
        fit(steps + every, logger(id=first.version), ckpt_path=resumed_from)  # the same run
        best = resolve(f"{CHECKPOINT_NAME}:best")
    return {"headline": f"{steps} steps, train loss {loss:.3f}; resumed from best for {every} "
                        "more in the same run", "runs": [first.version],
            "resumed_from": resumed_from, "best_checkpoint": best}
