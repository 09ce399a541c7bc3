"""Train a tiny LightningModule with WandbkitLogger, then resume it from `best` in the same run.

    python examples/lightning_logger.py      # ~30 steps on CPU, offline, a few seconds
    wandbkit runs --project lightning-example
    wandbkit ckpt ls tiny-regressor           # versions: latest, step-N, best (val/loss)

Switching from Lightning's own logger is one word: `WandbLogger(...)` -> `WandbkitLogger(...)`
with the same arguments. Rows are written to W&B (offline here; `wandbkit sync` uploads them)
and to the local store by a background thread; each `ModelCheckpoint` file becomes a version.
"""

from __future__ import annotations

import os
import tempfile

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint

from wandbkit_lightning import WandbkitLogger, resolve
from wandbkit_lightning.tiny import TinyRegressor, synthetic_loader

CHECKPOINTS = tempfile.mkdtemp(prefix="lightning-example-")  # Lightning's own .ckpt files


def fit(logger: WandbkitLogger, max_steps: int, ckpt_path: str | None = None) -> pl.Trainer:
    checkpoint = ModelCheckpoint(dirpath=CHECKPOINTS, monitor="val/loss",
                                 save_top_k=2, save_last=True)
    trainer = pl.Trainer(max_steps=max_steps, logger=logger, callbacks=[checkpoint],
                         log_every_n_steps=5, accelerator="cpu", enable_progress_bar=False)
    model = TinyRegressor(width=32, lr=0.01)
    trainer.fit(model, synthetic_loader(160, seed=0), synthetic_loader(64, seed=1),
                ckpt_path=ckpt_path, weights_only=True)
    return trainer


def main() -> None:
    os.environ.setdefault("WANDB_MODE", "offline")
    pl.seed_everything(0)
    logger = WandbkitLogger(project="lightning-example", name="tiny-regressor",
                            log_model="all", checkpoint_name="tiny-regressor")
    fit(logger, max_steps=30)  # 3 epochs of 10 steps: a checkpoint after each validation

    best = resolve("tiny-regressor:best")  # the version's model.ckpt, verified
    print("best checkpoint:", best)
    # The same run continues (id= and Lightning's ckpt_path=): 10 more steps from `best`.
    fit(WandbkitLogger(project="lightning-example", id=logger.version, log_model="all",
                       checkpoint_name="tiny-regressor"), max_steps=40, ckpt_path=best)


if __name__ == "__main__":
    main()
