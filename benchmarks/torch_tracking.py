"""What tracking costs a CPU training loop: nothing vs ``wandb.watch`` vs the wandbkit tracker.

One process, CPU, one torch thread: a 4x512 MLP (four 512x512 Linear layers, ~1.05M
parameters), batch 64, Adam. Mean step time (mean, not median: the costly steps are the
periodic ones) of

  (a) no tracking;
  (b) ``wandb.watch(model, log="all", log_freq=10)`` + ``wandb.log({"loss": ...})`` every step;
  (c) ``wandbkit_torch.Tracker``: loss (and LR, step time, samples/s) every step; gradient and
      weight histograms of every parameter, per-layer gradient/weight norms and update/weight
      ratios every 10 steps (at least what (b) gives, at the same frequency);
  (d) for reference only: ``run.log({"loss": loss})`` into the same wandbkit run, no tracker —
      the share of (c) that is the core logging path rather than the tracker.

They run in interleaved blocks (a, b, c, d, a, b, c, d, ...) so drift of a shared machine hits
them alike. Target: (c) <= 1.05 x (a). Prints both ratios, a breakdown of the periodic work,
and the measured accuracy cost of histogram sampling on this model's weights. The last column,
the training thread's own CPU time per step, separates work done on the training thread from
time lost to the other threads and processes (the run's flusher, the W&B writer) competing for
the cores and the GIL.

    python benchmarks/torch_tracking.py             # ~1-2 minutes on 2 cores
    python benchmarks/torch_tracking.py --quick     # a smoke run
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from bench_env import offline_wandb_dirs  # benchmarks/ is on sys.path: scripts run by path
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from torch import nn

WIDTH, DEPTH, BATCH = 512, 4, 64


def make_model(seed: int) -> tuple[nn.Module, torch.optim.Optimizer]:
    """The 4x512 MLP and its Adam optimizer."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i in range(DEPTH):
        layers.append(nn.Linear(WIDTH, WIDTH))
        if i < DEPTH - 1:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)


def data(n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Pre-made batches, so data loading is not part of the step."""
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(BATCH, WIDTH, generator=g), torch.randint(0, WIDTH, (BATCH,), generator=g))
            for _ in range(n)]


class Setup:
    """One configuration: a model, its optimizer and what runs around each step."""

    def __init__(self, name: str, seed: int) -> None:
        self.name = name
        self.model, self.opt = make_model(seed)
        self.after_backward: Callable[[], None] = lambda: None
        self.after_step: Callable[[torch.Tensor], None] = lambda loss: None
        self.times: list[float] = []
        self.cpu: list[float] = []  # CPU time of the training thread alone
        self.close: Callable[[], None] = lambda: None
        self.begin_block: Callable[[int], None] = lambda steps: None

    def run_block(self, batches: list[tuple[torch.Tensor, torch.Tensor]], record: bool) -> None:
        """Train over ``batches``, timing each whole step."""
        model, opt = self.model, self.opt
        self.begin_block(len(batches))
        for x, y in batches:
            t0, c0 = time.perf_counter(), time.thread_time()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            self.after_backward()
            opt.step()
            self.after_step(loss)
            opt.zero_grad(set_to_none=True)
            if record:
                self.times.append(time.perf_counter() - t0)
                self.cpu.append(time.thread_time() - c0)


def setup_none() -> Setup:
    """(a) no tracking."""
    return Setup("(a) no tracking", seed=1)


def setup_watch(tmp: Path) -> Setup:
    """(b) wandb.watch(log="all", log_freq=10) + wandb.log(loss) every step."""
    import wandb

    s = Setup("(b) wandb.watch all/10", seed=1)
    run = wandb.init(project="bench", mode="offline", dir=str(tmp))  # watch needs wandb.run
    run.watch(s.model, log="all", log_freq=10)

    def after_step(loss: torch.Tensor) -> None:
        run.log({"loss": loss.item()})

    s.after_step = after_step
    s.close = run.finish
    return s


def setup_tracker(tmp: Path) -> Setup:
    """(c) the wandbkit tracker."""
    import wandbkit
    from wandbkit_torch.tracker import Tracker

    s = Setup("(c) wandbkit Tracker", seed=1)
    run = wandbkit.init(project="bench", mode="offline", dir=str(tmp / "store"))
    tracker = Tracker(run, s.model, s.opt, log_every=1, stats_every=10, hist_every=10)
    s.tracker = tracker  # type: ignore[attr-defined]
    s.run = run  # type: ignore[attr-defined]
    s.after_backward = tracker.after_backward

    def begin_block(steps: int) -> None:
        tracker.global_step = _STEPS[0]  # (c) and (d) share the run: steps must only go up
        tracker.restart_clock()
        _STEPS[0] += steps

    s.begin_block = begin_block

    def after_step(loss: torch.Tensor) -> None:
        tracker.step(loss, batch_size=BATCH)

    def close() -> None:
        tracker.close()
        report = run.finish(quiet=True)
        s.report = report  # type: ignore[attr-defined]

    s.after_step = after_step
    s.close = close
    return s


_STEPS = [0]  # next step number in the run that (c) and (d) share


def setup_log_only(tracked: Setup) -> Setup:
    """(d) for reference, not a target: only ``run.log({"loss": loss})`` per step, into (c)'s
    run — what the core logging path (flusher, store, W&B writer) costs without the tracker."""
    s = Setup("(d) run.log(loss) only", seed=1)
    run = tracked.run  # type: ignore[attr-defined]
    step = [0]

    def begin_block(steps: int) -> None:
        step[0] = _STEPS[0]
        _STEPS[0] += steps

    def after_step(loss: torch.Tensor) -> None:
        run.log({"d/loss": loss}, step=step[0])
        step[0] += 1

    s.begin_block = begin_block
    s.after_step = after_step
    return s


def periodic_costs(model: nn.Module) -> dict[str, float]:
    """Milliseconds per call of the periodic pieces, on this model, one thread."""
    from wandbkit_torch.histograms import HistogramSampler
    from wandbkit_torch.norms import ParamIndex, SampledUpdateTracker, UpdateTracker, foreach_norms

    params = [p for p in model.parameters()]
    grads = [torch.randn_like(p) for p in params]
    tensors = params + grads

    def ms(fn: Callable[[], object], n: int = 20) -> float:
        fn()
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - t0) / n * 1e3

    index = ParamIndex.build(model)

    def snapshot_and_update(updates: UpdateTracker | SampledUpdateTracker) -> Callable[[], object]:
        def run() -> object:
            updates.snapshot()
            return updates.update_norms()
        return run

    sampler = HistogramSampler([t.shape for t in tensors], torch.device("cpu"))
    exact = HistogramSampler([t.shape for t in tensors], torch.device("cpu"), sample_size=0)
    return {
        "torch.histc x16 (what a naive tracker does)": ms(
            lambda: [torch.histc(t, bins=64) for t in tensors]),
        "fused exact histograms x16 (sample_size=0)": ms(lambda: exact.compute(tensors)),
        "fused sampled histograms x16 (4096/tensor)": ms(lambda: sampler.compute(tensors)),
        "_foreach_norm grads + weights": ms(lambda: (foreach_norms(grads), foreach_norms(params))),
        "update norms, sampled (default)": ms(snapshot_and_update(SampledUpdateTracker(index))),
        "update norms, exact (full weight copy)": ms(snapshot_and_update(UpdateTracker(index))),
    }


def sampling_error(model: nn.Module, trials: int = 20) -> tuple[float, float, float]:
    """Worst and mean max-bin error (share of the tensor) of sampled vs exact histograms of the
    model's weight matrices, and the DKW bound the docs quote."""
    from wandbkit_torch.histograms import HistogramSampler, dkw_epsilon

    weights = [p.detach() for p in model.parameters() if p.dim() == 2]
    sampler = HistogramSampler([w.shape for w in weights], torch.device("cpu"), seed=1)
    errors = []
    for _ in range(trials):
        for w, (counts, edges) in zip(weights, sampler.unpack(sampler.compute(weights).numpy()),
                                      strict=True):
            values = np.clip(w.double().flatten().numpy(), edges[0], edges[-1])
            exact, _ = np.histogram(values, bins=edges)
            errors.append(np.abs(counts / counts.sum() - exact / exact.sum()).max())
    return float(max(errors)), float(np.mean(errors)), 2 * dkw_epsilon(sampler.sample_size)


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds")
    parser.add_argument("--steps", type=int, default=100, help="timed steps per block")
    parser.add_argument("--quick", action="store_true", help="2 rounds of 30 steps")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.steps = 2, 30
    if args.steps % 10:
        parser.error("--steps must be a multiple of 10 so every block has its periodic steps")
    torch.set_num_threads(1)
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        offline_wandb_dirs(tmp)
        batches = data(args.steps)
        tracked = setup_tracker(tmp)
        setups = [setup_none(), setup_watch(tmp), tracked, setup_log_only(tracked)]
        for s in setups:  # warm-up: allocator, Adam state, first histograms
            s.run_block(batches[:20], record=False)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("interleaved rounds", total=args.rounds * len(setups))
            for r in range(args.rounds):
                order = setups[r % 4:] + setups[:r % 4]  # rotate who goes first
                for s in order:
                    s.run_block(batches, record=True)
                    progress.advance(task)
        for s in setups:
            s.close()
        costs = periodic_costs(setups[0].model)
        worst, mean_err, bound = sampling_error(setups[2].model)

    means = {s.name: statistics.fmean(s.times) * 1e3 for s in setups}
    a = means["(a) no tracking"]
    table = Table(title=f"mean step time, {args.rounds} rounds x {args.steps} steps, "
                        f"1 torch thread")
    for col in ("setup", "mean ms", "median ms", "vs (a)", "train-thread CPU ms"):
        table.add_column(col)
    for s in setups:
        table.add_row(s.name, f"{means[s.name]:.3f}", f"{statistics.median(s.times) * 1e3:.3f}",
                      f"{means[s.name] / a:.3f}x", f"{statistics.fmean(s.cpu) * 1e3:.3f}")
    out = Console()
    out.print(table)
    cost_table = Table(title="periodic work, ms per call (every 10 steps)")
    cost_table.add_column("piece")
    cost_table.add_column("ms")
    for k, v in costs.items():
        cost_table.add_row(k, f"{v:.3f}")
    out.print(cost_table)
    report = setups[2].report  # type: ignore[attr-defined]
    out.print(f"tracker run: {report.rows_logged} rows, complete={report.complete}")
    out.print(f"histogram sampling error (share of a 512x512 tensor in the worst bin, 64 bins): "
              f"worst {worst:.4f}, mean {mean_err:.4f}; documented bound 2*eps_DKW = {bound:.4f}")
    b_ratio = means["(b) wandb.watch all/10"] / a
    c_ratio = means["(c) wandbkit Tracker"] / a
    d_ratio = means["(d) run.log(loss) only"] / a
    out.print(f"reference: (d)/(a) = {d_ratio:.3f} -- the core logging path alone, which (c) "
              "includes")
    out.print(f"ratio (b)/(a) = {b_ratio:.3f}   ratio (c)/(a) = {c_ratio:.3f}   "
              f"target (c)/(a) <= 1.05: {'MET' if c_ratio <= 1.05 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
