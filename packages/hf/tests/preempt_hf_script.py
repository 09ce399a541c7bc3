"""A Trainer job that is preempted (a real SIGUSR1 to itself at one step) and restarted.

    python preempt_hf_script.py OUTPUT_DIR SIGNAL_AT_STEP MAX_STEPS   (SIGNAL_AT_STEP < 0: none)

Resumes from the last checkpoint in OUTPUT_DIR when there is one, as a requeued job would.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from transformers import Trainer, TrainerCallback, TrainingArguments

from wandbkit_hf import WandbkitCallback
from wandbkit_hf.tiny import synthetic_dataset, tiny_gpt2


class SignalAt(TrainerCallback):
    """Sends this process SIGUSR1 at the end of one step (what Slurm does before a deadline)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
        if state.global_step == self.step:
            os.kill(os.getpid(), signal.SIGUSR1)


def main() -> None:
    output, signal_at, max_steps = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    args = TrainingArguments(
        output_dir=str(output), max_steps=max_steps, per_device_train_batch_size=8,
        learning_rate=3e-3, logging_steps=1, save_strategy="steps", save_steps=1000,
        report_to="none", use_cpu=True, dataloader_num_workers=0, seed=0, disable_tqdm=True)
    callbacks = [SignalAt(signal_at), WandbkitCallback(project="preempt-hf", checkpoint_name="tiny",
                                                      watch=None)]
    trainer = Trainer(model=tiny_gpt2(), args=args, train_dataset=synthetic_dataset(64, seed=0),
                      callbacks=callbacks)
    resume = any(output.glob("checkpoint-*"))
    trainer.train(resume_from_checkpoint=True if resume else None)


if __name__ == "__main__":
    main()
