"""Run by test_lightning_ddp.py: ``strategy="ddp"`` on 2 CPU processes (gloo), which Lightning
launches itself (this script is started again for rank 1). Each rank writes what it saw."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint

from wandbkit_lightning import WandbkitLogger
from wandbkit_lightning.tiny import TinyRegressor, synthetic_loader


def main(out: str, ckpt_dir: str) -> None:
    """Fit 4 steps with the logger and a checkpoint every 2; write ``out.<rank>``."""
    pl.seed_everything(0, verbose=False)
    logger = WandbkitLogger(project="ddp", name="ddp-tiny", log_model="all",
                            checkpoint_name="ddp")
    checkpoint = ModelCheckpoint(dirpath=ckpt_dir, monitor="val/loss", save_top_k=-1,
                                 every_n_train_steps=2)
    trainer = pl.Trainer(strategy="ddp", accelerator="cpu", devices=2, max_steps=4,
                         logger=logger, callbacks=[checkpoint], log_every_n_steps=1,
                         val_check_interval=2, check_val_every_n_epoch=None, limit_val_batches=1,
                         enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0)
    trainer.fit(TinyRegressor(width=16), synthetic_loader(128, seed=0),
                synthetic_loader(32, seed=1))
    rank = trainer.global_rank
    Path(f"{out}.{rank}").write_text(json.dumps({
        "rank": rank, "world_size": trainer.world_size,
        "run_id": logger._experiment.id if logger._experiment is not None else None}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
