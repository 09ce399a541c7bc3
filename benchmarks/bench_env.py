"""Shared pieces of the benchmarks: offline wandb in a temp folder, CPU of every process, and
waiting until the child processes (W&B worker, wandb-core) are idle."""

from __future__ import annotations

import gc
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path


def offline_wandb_dirs(tmp: Path) -> None:
    """Point wandb's folders into ``tmp`` (unless the caller set them), offline and quiet."""
    for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR"):
        (tmp / var.lower()).mkdir()
        os.environ.setdefault(var, str(tmp / var.lower()))
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    os.environ.setdefault("WANDBKIT_QUIET", "1")


class CpuMeter:
    """CPU seconds used by this process (all threads) and by all its descendant processes.

    Live descendants (the W&B worker, wandb-core) are read with psutil; descendants that have
    exited and been waited for are in ``getrusage(RUSAGE_CHILDREN)``, so a worker that ends inside
    a measured span (``finish()``) still counts.
    """

    def __init__(self) -> None:
        import psutil

        self.psutil = psutil
        self.me = psutil.Process()

    def own(self) -> float:
        """This process, every thread (training, flusher, wandb's threads)."""
        return time.process_time()

    def children(self) -> float:
        """Live descendants plus the ones already reaped."""
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
        total = reaped.ru_utime + reaped.ru_stime
        for child in self.me.children(recursive=True):
            try:
                times = child.cpu_times()
                total += times.user + times.system
            except (self.psutil.NoSuchProcess, self.psutil.AccessDenied):
                continue
        return total

    def sample(self) -> tuple[float, float]:
        """(own, children) CPU seconds so far."""
        return self.own(), self.children()


class Quiet:
    """Waits until this process's children — W&B worker, wandb-core — are idle.

    ``settle`` is part of every timed window (the background work a logger causes counts against
    it; the baseline pays the same detection delay, which cancels in the paired difference).
    ``wait`` is the same check, uncounted, before a block, so no block starts with another one's
    leftovers.
    """

    WINDOW_S = 0.02     # one poll
    IDLE_SHARE = 0.1    # idle: the children used < 10% of one core over the last poll

    def __init__(self, meter: CpuMeter, max_s: float) -> None:
        self.meter = meter
        self.max_s = max_s
        self.timeouts = 0

    def settle(self) -> bool:
        """Return once the children were idle over one poll (False after ``max_s``)."""
        deadline = time.perf_counter() + self.max_s
        last, last_t = self.meter.children(), time.perf_counter()
        while True:
            time.sleep(self.WINDOW_S)
            now_cpu, now = self.meter.children(), time.perf_counter()
            if now_cpu - last < self.IDLE_SHARE * (now - last_t):
                return True
            if now > deadline:
                self.timeouts += 1
                return False
            last, last_t = now_cpu, now

    def wait(self) -> None:
        """``settle`` and collect garbage, uncounted, before a timed block."""
        self.settle()
        gc.collect()


def interleaved_rounds(variants: list[str], rounds: int, seed: int,
                       run_once: Callable[[str, int], dict[str, float]], steps: int,
                       ms_digits: int = 2) -> tuple[dict[str, list[dict[str, float]]],
                                                    dict[str, dict[str, float]]]:
    """Time ``variants`` fairly: one uncounted 3-step warm-up of each (imports, first start-up,
    allocator), then ``rounds`` rounds, each running every variant once in a seeded random
    order, so no variant always absorbs another's leftovers. ``run_once(variant, steps)``
    returns a dict of figures (``median_step`` and ``total`` at least).

    :returns: every round's figures per variant, and their medians per variant.
    """
    import random
    import statistics

    rng = random.Random(seed)
    for variant in variants:
        run_once(variant, 3)
    results: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    for r in range(rounds):
        order = list(variants)
        rng.shuffle(order)
        for variant in order:
            results[variant].append(run_once(variant, steps))
        print(f"round {r + 1}/{rounds} ({' '.join(order)}): " + ", ".join(
            f"{v} {results[v][-1]['median_step'] * 1e3:.{ms_digits}f} ms/step "
            f"{results[v][-1]['total']:.2f} s" for v in variants), flush=True)
    medians = {v: {k: statistics.median(x[k] for x in results[v]) for k in results[v][0]}
               for v in variants}
    return results, medians
