"""What tracking costs a Lightning ``Trainer``: no logger vs Lightning's ``WandbLogger`` vs wandbkit.

One process, CPU, one torch thread: ``wandbkit_lightning.tiny.TinyRegressor`` (an 8-32-1 MLP),
batch 16, the same steps for every variant, ``self.log("train/loss")`` every step and
``log_every_n_steps=1`` (the worst case for a logger; Lightning's default logs every 50), no
validation and no checkpoints (so every variant does the same training work). Variants:

  none      ``Trainer(logger=False)``;
  null      a logger whose ``log_metrics`` does nothing: what Lightning itself spends on having a
            logger at all (its metric conversion and logger calls), for reference;
  wandb     Lightning's own ``WandbLogger(offline=True)``, plus the ``wandb.finish()`` it leaves
            to the user;
  wandbkit  ``WandbkitLogger`` (offline W&B sink + local store), which finishes its run in
            ``finalize``.

Each round runs every variant once, as one block of ``--steps`` steps, in a seeded random order
(``--seed``). Before each block an uncounted wait lets the child processes (W&B's wandb-core) go
idle. Timed per block:

  step time  the interval between consecutive ``on_train_batch_start`` calls (so it includes the
             previous step's ``log_metrics``); the block's median, the first interval dropped;
  total      ``trainer.fit()`` from call to return, plus ``wandb.finish()`` for the built-in
             logger, plus the drain: a wait until every child process is idle, for every
             variant, so background work a logger leaves behind counts against it.

Target (issue #21): wandbkit's median step ratio to ``none`` <= 1.03 (median over >= 3
interleaved blocks); the built-in's ratio is printed beside it. Also printed: the median of the
per-round ratios, CPU of all processes, the time each logger's ``log_metrics`` takes on the
training thread (measured directly, so it does not drown in a shared machine's step noise), and
the CPU per step of every thread and process (the training thread, wandbkit's flusher, W&B's
processes) over the same steps: on a loaded machine wall time mostly measures the neighbours,
CPU time much less so, so it carries the same 1.03 target.

    python benchmarks/lightning_overhead.py            # 7 rounds x 300 steps, ~2 min on 2 cores
    python benchmarks/lightning_overhead.py --quick    # 3 rounds x 40 steps: proves it runs
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_env import CpuMeter, Quiet, interleaved_rounds, offline_wandb_dirs  # noqa: E402
from results import record  # noqa: E402

VARIANTS = ("none", "null", "wandb", "wandbkit")


def _step_timer(meter: CpuMeter) -> Any:
    import lightning.pytorch as pl

    class StepTimer(pl.Callback):
        def __init__(self) -> None:
            self.starts: list[float] = []
            self.cpu: list[float] = []  # CPU of every thread and child at the first/last start

        def on_train_batch_start(self, *args: Any, **kwargs: Any) -> None:
            self.starts.append(time.perf_counter())
            if len(self.starts) == 2:
                self.cpu.append(sum(meter.sample()))

        def on_train_end(self, *args: Any, **kwargs: Any) -> None:
            self.starts.append(time.perf_counter())  # closes the last step's interval
            self.cpu.append(sum(meter.sample()))

        def intervals(self) -> list[float]:
            return [b - a for a, b in zip(self.starts, self.starts[1:], strict=False)]

        def cpu_per_step(self) -> float:
            """CPU seconds per step, all threads and processes, the first step left out."""
            return (self.cpu[-1] - self.cpu[0]) / max(1, len(self.starts) - 2)

    return StepTimer()


def _null_logger() -> Any:
    from lightning.pytorch.loggers import Logger

    class NullLogger(Logger):
        name, version = "null", "0"

        def log_metrics(self, metrics: Any, step: Any = None) -> None:
            pass

        def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
            pass

    return NullLogger()


def _logger(variant: str, work: Path, spent: list[float]) -> Any:
    """The variant's logger, its ``log_metrics`` timed into ``spent`` (False for none)."""
    if variant == "none":
        return False
    if variant == "null":
        logger: Any = _null_logger()
    elif variant == "wandb":
        from lightning.pytorch.loggers import WandbLogger

        logger = WandbLogger(project="lightning-overhead", offline=True,
                                  save_dir=str(work / "wandb-logger"))
    else:
        from wandbkit_lightning import WandbkitLogger

        logger = WandbkitLogger(project="lightning-overhead")
    method = logger.log_metrics

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - start)

    logger.log_metrics = timed
    return logger


def run_once(variant: str, steps: int, work: Path, data: Any, quiet: Quiet,
             meter: CpuMeter) -> dict[str, float]:
    """One ``fit`` of ``steps`` steps with ``variant``; returns its timings."""
    import lightning.pytorch as pl

    from wandbkit_lightning.tiny import TinyRegressor, quiet_trainer_kwargs

    pl.seed_everything(0, verbose=False)
    timer = _step_timer(meter)
    spent: list[float] = []
    trainer = pl.Trainer(max_steps=steps, logger=_logger(variant, work, spent), callbacks=[timer],
                         log_every_n_steps=1, enable_checkpointing=False, limit_val_batches=0,
                         **quiet_trainer_kwargs())
    model = TinyRegressor(width=32, lr=0.01)
    quiet.wait()
    cpu0 = meter.sample()
    start = time.perf_counter()
    trainer.fit(model, data)
    if variant == "wandb":
        import wandb

        wandb.finish()  # WandbLogger leaves its run open
    quiet.settle()
    total = time.perf_counter() - start
    cpu1 = meter.sample()
    intervals = timer.intervals()
    return {"median_step": statistics.median(intervals[1:]),  # the first includes warm-up
            "total": total, "cpu": (cpu1[0] - cpu0[0]) + (cpu1[1] - cpu0[1]),
            "logger_per_step": sum(spent) / steps, "cpu_per_step": timer.cpu_per_step()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="3 rounds x 40 steps: checks that it runs, noisy figures")
    opts = parser.parse_args()
    if opts.quick:
        opts.rounds, opts.steps = 3, 40
    if opts.rounds < 3:
        parser.error("--rounds must be at least 3 (the target is a median over >= 3 blocks)")

    import torch

    from wandbkit_lightning.tiny import synthetic_loader

    torch.set_num_threads(1)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")
    work = Path(tempfile.mkdtemp(prefix="lightning-overhead-"))
    offline_wandb_dirs(work)
    os.environ.setdefault("WANDBKIT_DIR", str(work / "store"))
    data = synthetic_loader(16 * opts.steps, batch_size=16, seed=0)
    meter = CpuMeter()
    quiet = Quiet(meter, max_s=10.0)
    results, med = interleaved_rounds(
        VARIANTS, opts.rounds, opts.seed,
        lambda variant, steps: run_once(variant, steps, work, data, quiet, meter),
        opts.steps, ms_digits=3)
    print(f"\n{opts.rounds} interleaved rounds x {opts.steps} steps, TinyRegressor, CPU, 1 thread, "
          "logging every step")
    print(f"{'variant':10} {'median step':>12} {'fit() total':>12} {'CPU (all procs)':>16}")
    for v in VARIANTS:
        print(f"{v:10} {med[v]['median_step'] * 1e3:9.3f} ms {med[v]['total']:10.2f} s "
              f"{med[v]['cpu']:14.2f} s")
    paired = [k["median_step"] / n["median_step"]
              for k, n in zip(results["wandbkit"], results["none"], strict=True)]
    step_ratio = med["wandbkit"]["median_step"] / med["none"]["median_step"]
    builtin_ratio = med["wandb"]["median_step"] / med["none"]["median_step"]
    over_kit = med["wandbkit"]["total"] - med["none"]["total"]
    over_builtin = med["wandb"]["total"] - med["none"]["total"]
    print(f"\nmedian step ratio wandbkit/none: {step_ratio:.3f} (target <= 1.03: "
          f"{'met' if step_ratio <= 1.03 else 'NOT met'}); built-in WandbLogger/none: "
          f"{builtin_ratio:.3f}")
    print(f"median of the per-round ratios wandbkit/none: {statistics.median(paired):.3f} "
          f"(rounds: {', '.join(f'{r:.3f}' for r in paired)})")
    print(f"fit() total overhead over none: wandbkit {over_kit:+.2f} s, built-in WandbLogger "
          f"{over_builtin:+.2f} s")
    null_ratio = med["null"]["median_step"] / med["none"]["median_step"]
    print(f"for reference, a logger that does nothing/none: {null_ratio:.3f} (Lightning's own "
          "cost of having a logger)")
    for v in ("wandb", "wandbkit"):
        cost = med[v]["logger_per_step"]
        print(f"{v} log_metrics on the training thread: {cost * 1e6:.0f} us/step = "
              f"{cost / med['none']['median_step'] * 100:.2f}% of the untracked median step")
    print(f"CPU (all processes) over none: wandbkit "
          f"{med['wandbkit']['cpu'] - med['none']['cpu']:+.2f} s, built-in WandbLogger "
          f"{med['wandb']['cpu'] - med['none']['cpu']:+.2f} s (less noisy than wall time on a "
          "shared machine)")
    cpu_ratio = med["wandbkit"]["cpu_per_step"] / med["none"]["cpu_per_step"]
    builtin_cpu = med["wandb"]["cpu_per_step"] / med["none"]["cpu_per_step"]
    print(f"CPU per training step (all threads and processes, background work included): none "
          f"{med['none']['cpu_per_step'] * 1e3:.3f} ms, wandbkit "
          f"{med['wandbkit']['cpu_per_step'] * 1e3:.3f} ms ({cpu_ratio:.3f}x), WandbLogger "
          f"{med['wandb']['cpu_per_step'] * 1e3:.3f} ms ({builtin_cpu:.3f}x), do-nothing logger "
          f"{med['null']['cpu_per_step'] * 1e3:.3f} ms: the ratio to trust when the machine is "
          "loaded")
    print(f"quiet-wait timeouts: {quiet.timeouts}; load average now {os.getloadavg()[0]:.1f}")
    note = "quick" if opts.quick else ""
    none_step = f"logger=False: {med['none']['median_step'] * 1e3:.3f} ms/step"
    record("lightning_overhead", "median step, WandbkitLogger, tiny LightningModule, logging "
           "every step", med["wandbkit"]["median_step"] * 1e3, "ms/step", baseline=none_step,
           ratio=step_ratio, target="ratio <= 1.03", passed=step_ratio <= 1.03, note=note)
    record("lightning_overhead", "median step, Lightning's WandbLogger (offline), for comparison",
           med["wandb"]["median_step"] * 1e3, "ms/step", baseline=none_step, ratio=builtin_ratio,
           note=note)
    none_cpu = f"logger=False: {med['none']['cpu_per_step'] * 1e3:.3f} ms/step"
    record("lightning_overhead", "CPU per step (all threads and processes), WandbkitLogger",
           med["wandbkit"]["cpu_per_step"] * 1e3, "ms/step", baseline=none_cpu, ratio=cpu_ratio,
           target="ratio <= 1.03", passed=cpu_ratio <= 1.03, note=note)
    record("lightning_overhead", "CPU per step (all threads and processes), WandbLogger",
           med["wandb"]["cpu_per_step"] * 1e3, "ms/step", baseline=none_cpu, ratio=builtin_cpu,
           note=note)
    record("lightning_overhead", "median step, a logger that does nothing: Lightning's own cost",
           med["null"]["median_step"] * 1e3, "ms/step", baseline=none_step, ratio=null_ratio,
           note=note)
    record("lightning_overhead", "fit() total overhead over logger=False, WandbkitLogger",
           over_kit, "s", baseline=f"WandbLogger: {over_builtin:+.2f} s", note=note)


if __name__ == "__main__":
    main()
