"""Fine-tune a tiny GPT-2 with HF's Trainer, tracked by wandbkit, then resume from `best`.

    python examples/hf_trainer.py     # ~40 steps on CPU, offline, well under a minute
    wandbkit runs                     # the run, its config and summary
    wandbkit ckpt ls tiny-gpt2        # checkpoint versions: latest, step-N, best, final

The model is built from a config (no hub download) and trained on synthetic token ids, so it
runs offline. `report_to=["wandb"]` is there on purpose: wandbkit switches the built-in W&B
callback off (with a notice), so there is still exactly one W&B run.
"""

from __future__ import annotations

import os
import tempfile

from transformers import Trainer, TrainingArguments

import wandbkit_hf
from wandbkit_hf import WandbkitCallback
from wandbkit_hf.tiny import synthetic_dataset, tiny_gpt2


def training_args(output_dir: str, max_steps: int = 40) -> TrainingArguments:
    return TrainingArguments(
        output_dir=output_dir, run_name="tiny-gpt2", max_steps=max_steps,
        per_device_train_batch_size=16, per_device_eval_batch_size=32, learning_rate=3e-3,
        logging_steps=5, eval_strategy="steps", eval_steps=10, save_strategy="steps",
        save_steps=10, save_total_limit=2, metric_for_best_model="synthetic_loss", greater_is_better=False,
        report_to=["wandb"], use_cpu=True, dataloader_num_workers=0, seed=0,
        disable_tqdm=True)


def main() -> None:
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    output_dir = tempfile.mkdtemp(prefix="hf-trainer-")
    train, held_out = synthetic_dataset(512, seed=0), synthetic_dataset(64, seed=1)
    trainer = Trainer(model=tiny_gpt2(), args=training_args(output_dir), train_dataset=train,
                      eval_dataset={"synthetic": held_out},
                      callbacks=[WandbkitCallback(project="hf-example")])
    trainer.train()
    print("checkpoint versions registered as tiny-gpt2:v0..; best at",
          wandbkit_hf.resolve("tiny-gpt2:best"))

    # Resume from the best checkpoint for 10 more steps: a new run, the same optimizer state.
    resumed = Trainer(model=tiny_gpt2(), args=training_args(output_dir, max_steps=50),
                      train_dataset=train, eval_dataset={"synthetic": held_out},
                      callbacks=[WandbkitCallback(project="hf-example")])
    resumed.train(resume_from_checkpoint=wandbkit_hf.resolve("tiny-gpt2:best"))


if __name__ == "__main__":
    main()
