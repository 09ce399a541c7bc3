"""What tracking costs HF's Trainer: ``report_to="none"`` vs the built-in W&B callback vs wandbkit.

One process, CPU, one torch thread: the tiny GPT-2 of ``wandbkit_hf.tiny`` (2 layers, 32 wide),
batch 16, the same steps for every variant, a log every step (``logging_steps=1``: the worst
case for a logger), no evaluation and no checkpoints (so every variant does the same training
work). Variants:

  none     ``report_to="none"``, no callback;
  wandb    ``report_to="wandb"``: transformers' ``WandbCallback`` (offline), plus the
           ``wandb.finish()`` it leaves to the user;
  wandbkit ``report_to="none"`` + ``WandbkitCallback`` (offline W&B sink + local store).

Each round runs every variant once, in a seeded random order (``--seed``). Before each run an
uncounted wait lets the child processes (W&B worker, wandb-core) go idle. Timed per run:

  step time  the interval between consecutive ``on_step_begin`` calls, so it includes the
             previous step's ``on_log`` (the Trainer logs after ``on_step_end``); the run's
             median;
  total      ``trainer.train()`` from call to return, plus ``wandb.finish()`` for the built-in
             callback (wandbkit finishes its own run inside ``train()``), plus the drain: a wait
             until every child process is idle, for every variant, so background work a variant
             leaves behind counts against it.

Targets (issue #13): wandbkit's median step ratio to ``none`` <= 1.03 (median over >= 3
interleaved runs) and its total overhead over ``none`` below the built-in callback's.

Also printed: the median of the per-round ratios, CPU of all processes, and the time each
logging callback spends in its per-step events on the training thread (measured directly, so
it does not drown in the step-to-step noise of a shared machine).

    python benchmarks/hf_overhead.py                  # 5 rounds x 60 steps, ~2-3 min on 2 cores
    python benchmarks/hf_overhead.py --quick          # 3 rounds x 20 steps: proves it runs
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_env import CpuMeter, Quiet, interleaved_rounds, offline_wandb_dirs  # noqa: E402
from results import record  # noqa: E402

# "wandbkit" is the callback as users get it (with wandbkit-torch's gradient/weight norms at
# each log, information the built-in does not log); "wandbkit-plain" logs what the built-in
# logs (watch=None), to separate the norms' cost from the logging path's.
VARIANTS = ("none", "wandb", "wandbkit", "wandbkit-plain")


def _step_timer() -> Any:
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.begins: list[float] = []

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.begins.append(time.perf_counter())

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.begins.append(time.perf_counter())  # closes the last step's interval

        def intervals(self) -> list[float]:
            return [b - a for a, b in zip(self.begins, self.begins[1:], strict=False)]

    return StepTimer()


STEP_EVENTS = ("on_step_begin", "on_step_end", "on_log", "on_pre_optimizer_step",
               "on_optimizer_step", "on_substep_end")


def _time_logger_events(trainer: Any, spent: list[float]) -> None:
    """Wrap the per-step events of the logging callbacks (the built-in ``WandbCallback`` or
    ``WandbkitCallback``) so the time they take on the training thread is added to ``spent``."""
    from transformers.integrations import WandbCallback

    from wandbkit_hf import WandbkitCallback

    for cb in trainer.callback_handler.callbacks:
        if not isinstance(cb, (WandbCallback, WandbkitCallback)):
            continue
        for event in STEP_EVENTS:
            method = getattr(cb, event)

            def timed(*args: Any, _method: Any = method, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return _method(*args, **kwargs)
                finally:
                    spent.append(time.perf_counter() - start)

            setattr(cb, event, timed)


def run_once(variant: str, steps: int, work: Path, data: Any, quiet: Quiet,
             meter: CpuMeter) -> dict[str, float]:
    """One training of ``steps`` steps with ``variant``; returns its timings."""
    from transformers import Trainer, TrainingArguments

    from wandbkit_hf import WandbkitCallback
    from wandbkit_hf.tiny import tiny_gpt2

    timer = _step_timer()
    callbacks: list[Any] = [timer]
    if variant.startswith("wandbkit"):
        callbacks.append(WandbkitCallback(project="hf-overhead", checkpoints=False,
                                          watch=None if variant == "wandbkit-plain" else "norms"))
    args = TrainingArguments(
        output_dir=str(work / f"out-{variant}"), max_steps=steps, per_device_train_batch_size=16,
        learning_rate=3e-3, logging_steps=1, save_strategy="no", eval_strategy="no",
        report_to="wandb" if variant == "wandb" else "none", use_cpu=True,
        dataloader_num_workers=0, seed=0, disable_tqdm=True, run_name=f"bench-{variant}")
    trainer = Trainer(model=tiny_gpt2(), args=args, train_dataset=data, callbacks=callbacks)
    spent: list[float] = []
    _time_logger_events(trainer, spent)
    quiet.wait()
    cpu0 = meter.sample()
    start = time.perf_counter()
    trainer.train()
    if variant == "wandb":
        import wandb

        wandb.finish()  # the built-in callback leaves its run open
    quiet.settle()
    total = time.perf_counter() - start
    cpu1 = meter.sample()
    intervals = timer.intervals()
    return {"median_step": statistics.median(intervals[1:]),  # the first includes warm-up
            "total": total, "cpu": (cpu1[0] - cpu0[0]) + (cpu1[1] - cpu0[1]),
            "callback_per_step": sum(spent) / steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="3 rounds x 20 steps: checks that it runs, noisy figures")
    opts = parser.parse_args()
    if opts.quick:
        opts.rounds, opts.steps = 3, 20
    if opts.rounds < 3:
        parser.error("--rounds must be at least 3 (the target is a median over >= 3 runs)")

    import torch
    import transformers

    from wandbkit_hf.tiny import synthetic_dataset

    torch.set_num_threads(1)
    transformers.logging.set_verbosity_error()
    work = Path(tempfile.mkdtemp(prefix="hf-overhead-"))
    offline_wandb_dirs(work)
    os.environ.setdefault("WANDBKIT_DIR", str(work / "store"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    data = synthetic_dataset(16 * opts.steps, seed=0)
    meter = CpuMeter()
    quiet = Quiet(meter, max_s=10.0)
    results, med = interleaved_rounds(
        VARIANTS, opts.rounds, opts.seed,
        lambda variant, steps: run_once(variant, steps, work, data, quiet, meter),
        opts.steps, ms_digits=2)
    print(f"\n{opts.rounds} interleaved rounds x {opts.steps} steps, tiny GPT-2, CPU, 1 thread, "
          "logging every step")
    print(f"{'variant':10} {'median step':>12} {'train() total':>14} {'CPU (all procs)':>16}")
    for v in VARIANTS:
        print(f"{v:10} {med[v]['median_step'] * 1e3:9.2f} ms {med[v]['total']:12.2f} s "
              f"{med[v]['cpu']:14.2f} s")
    paired = [k["median_step"] / n["median_step"]
              for k, n in zip(results["wandbkit"], results["none"], strict=True)]
    step_ratio = med["wandbkit"]["median_step"] / med["none"]["median_step"]
    builtin_ratio = med["wandb"]["median_step"] / med["none"]["median_step"]
    over_kit = med["wandbkit"]["total"] - med["none"]["total"]
    over_builtin = med["wandb"]["total"] - med["none"]["total"]
    print(f"\nmedian step ratio wandbkit/none: {step_ratio:.3f} (target <= 1.03: "
          f"{'met' if step_ratio <= 1.03 else 'NOT met'}); built-in wandb/none: "
          f"{builtin_ratio:.3f}")
    print(f"train() total overhead over none: wandbkit {over_kit:+.2f} s, built-in wandb "
          f"{over_builtin:+.2f} s (target: wandbkit below the built-in: "
          f"{'met' if over_kit < over_builtin else 'NOT met'})")
    print(f"median of the per-round ratios wandbkit/none: {statistics.median(paired):.3f} "
          f"(rounds: {', '.join(f'{r:.3f}' for r in paired)})")
    for v in ("wandb", "wandbkit", "wandbkit-plain"):
        cost = med[v]["callback_per_step"]
        print(f"{v} callback's own time on the training thread: {cost * 1e6:.0f} us/step = "
              f"{cost / med['none']['median_step'] * 100:.2f}% of the untracked median step")
    print(f"CPU (all processes) over none: wandbkit "
          f"{med['wandbkit']['cpu'] - med['none']['cpu']:+.2f} s, built-in wandb "
          f"{med['wandb']['cpu'] - med['none']['cpu']:+.2f} s (less noisy than wall time on a "
          "shared machine)")
    print(f"quiet-wait timeouts: {quiet.timeouts}")
    note = "quick" if opts.quick else ""
    none_step = f"report_to='none': {med['none']['median_step'] * 1e3:.2f} ms/step"
    record("hf_overhead", "median step, WandbkitCallback, tiny GPT-2, logging every step",
           med["wandbkit"]["median_step"] * 1e3, "ms/step", baseline=none_step, ratio=step_ratio,
           target="ratio <= 1.03", passed=step_ratio <= 1.03, note=note)
    plain_ratio = med["wandbkit-plain"]["median_step"] / med["none"]["median_step"]
    print(f"median step ratio wandbkit without norms (watch=None)/none: {plain_ratio:.3f}; "
          f"train() overhead {med['wandbkit-plain']['total'] - med['none']['total']:+.2f} s")
    record("hf_overhead", "median step, WandbkitCallback(watch=None): what the built-in logs",
           med["wandbkit-plain"]["median_step"] * 1e3, "ms/step", baseline=none_step,
           ratio=plain_ratio, note=note)
    record("hf_overhead", "median step, report_to='wandb' (built-in), for comparison",
           med["wandb"]["median_step"] * 1e3, "ms/step", baseline=none_step, ratio=builtin_ratio,
           note=note)
    record("hf_overhead", "train() total overhead over report_to='none', WandbkitCallback",
           over_kit, "s", baseline=f"built-in report_to='wandb': {over_builtin:+.2f} s",
           target="below the built-in's", passed=over_kit < over_builtin, note=note)


if __name__ == "__main__":
    main()
