"""The ``hf`` stage of ``wandbkit demo``: fine-tune a tiny GPT-2 with the Trainer and the callback.

Everything the HF integration does, on a model small enough for a laptop CPU: one W&B run with
``train/`` and ``eval/`` curves, checkpoints registered as versions (``latest``, ``best``,
``final``), and a resume from ``best`` through :func:`wandbkit_hf.resolve`.
"""

from __future__ import annotations

from typing import Any


class _Progress:
    """A ``TrainerCallback`` that advances the demo's progress bar."""

    def __new__(cls, progress: Any, total: int) -> Any:
        from transformers import TrainerCallback

        class Bar(TrainerCallback):
            def __init__(self) -> None:
                self.task = progress.add_task("  fine-tuning", total=total)

            def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
                progress.update(self.task, completed=state.global_step)

        return Bar()


def hf_demo(ctx: Any) -> dict[str, Any]:
    """Train, then resume from ``best`` for a few steps; return the facts for the summary."""
    from transformers import Trainer, TrainingArguments

    from wandbkit_hf import WandbkitCallback, resolve
    from wandbkit_hf.tiny import synthetic_dataset, tiny_gpt2

    steps = 12 if ctx.quick else 60
    every = steps // 3
    output_dir = ctx.work_dir / "hf-trainer"

    def trainer(max_steps: int, callback: WandbkitCallback) -> Trainer:
        args = TrainingArguments(
            output_dir=str(output_dir), run_name="hf-tiny-gpt2", max_steps=max_steps,
            per_device_train_batch_size=16, per_device_eval_batch_size=32, learning_rate=3e-3,
            logging_steps=max(1, every // 4), eval_strategy="steps", eval_steps=every,
            save_strategy="steps", save_steps=every, save_total_limit=2,
            metric_for_best_model="loss", greater_is_better=False, report_to="none",
            use_cpu=True, dataloader_num_workers=0, seed=0, disable_tqdm=True)
        callbacks: list[Any] = [callback]
        if ctx.progress is not None:
            callbacks.append(_Progress(ctx.progress, max_steps))
        return Trainer(model=tiny_gpt2(), args=args, train_dataset=synthetic_dataset(512, seed=0),
                       eval_dataset=synthetic_dataset(64, seed=1), callbacks=callbacks)

    first = WandbkitCallback(project=ctx.project, mode=ctx.mode, tags=["demo", "hf"],
                             checkpoint_name="hf-tiny-gpt2", dir=ctx.store_dir)
    result = trainer(steps, first).train()
    with ctx.in_store():  # references resolve in the demo's store
        best = resolve("hf-tiny-gpt2:best")
    second = WandbkitCallback(project=ctx.project, mode=ctx.mode, tags=["demo", "hf", "resumed"],
                              checkpoint_name="hf-tiny-gpt2", dir=ctx.store_dir)
    trainer(steps + every, second).train(resume_from_checkpoint=best)
    runs = [cb.run.id for cb in (first, second) if cb.run is not None]
    return {"headline": f"{steps} steps, train loss {result.training_loss:.3f}; resumed from "
                        f"best for {every} more", "runs": runs, "best_checkpoint": best}
