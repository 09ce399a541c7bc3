"""Run by ``torchrun --nproc_per_node=2``: the tiny GPT-2 with the Trainer on CPU (gloo)."""

from __future__ import annotations

import json
import os
import sys

import torch
from transformers import Trainer, TrainingArguments

from wandbkit_hf import WandbkitCallback
from wandbkit_hf.tiny import synthetic_dataset, tiny_gpt2


def main() -> None:
    out_json, output_dir = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)
    args = TrainingArguments(
        output_dir=output_dir, run_name="ddp", max_steps=4, per_device_train_batch_size=4,
        learning_rate=3e-3, logging_steps=1, save_strategy="steps", save_steps=2,
        report_to=["wandb"], use_cpu=True, ddp_backend="gloo", dataloader_num_workers=0,
        seed=0, disable_tqdm=True)
    callback = WandbkitCallback(project="hf-ddp")
    trainer = Trainer(model=tiny_gpt2(), args=args, train_dataset=synthetic_dataset(64),
                      callbacks=[callback])
    trainer.train()
    rank = int(os.environ["RANK"])
    result = {"rank": rank, "world_size": trainer.args.world_size,
              "run_id": callback.run.id if callback.run is not None else None}
    with open(f"{out_json}.{rank}", "w") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main()
