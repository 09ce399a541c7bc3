"""Does the tracker make a CUDA training loop wait? Step time tracked / untracked on a GPU.

A small GPT-style transformer (bf16 autocast, AdamW, clip_grad_norm_) trains in interleaved
blocks: untracked, then tracked with loss, LR, throughput and per-layer gradient/weight norms
and update ratios logged **every step** (``stats_every=1``), then the same plus histograms
every 10 steps. Every tracked block runs under ``torch.cuda.set_sync_debug_mode("error")``:
any host-device synchronisation (``.item()``, a blocking copy, ``bincount``, ...) raises
instead of silently stalling. Step time is measured per block with one
``torch.cuda.synchronize()`` at each block's end, outside the checked region.

Target: tracked / untracked <= 1.01 with step times >= 10 ms. Prints the ratios.

    python benchmarks/gpu_tracking.py                  # needs CUDA; ~1-2 minutes
    python benchmarks/gpu_tracking.py --cpu-dry-run    # checks the script itself on CPU
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import torch
from bench_env import offline_wandb_dirs  # benchmarks/ is on sys.path: scripts run by path
from results import record
from torch import nn
from torch.nn import functional as F


class Block(nn.Module):
    """Pre-norm attention + MLP."""

    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """Embeddings, blocks, head."""

    def __init__(self, vocab: int, d: int, layers: int, heads: int, block: int) -> None:
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(block, d)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln_f, self.head = nn.LayerNorm(d), nn.Linear(d, vocab, bias=False)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for b in self.blocks:
            x = b(x)
        return self.head(self.ln_f(x))


@contextmanager
def sync_checked(enabled: bool) -> Iterator[None]:
    """Make any host-device synchronisation raise (CUDA only)."""
    if not enabled:
        yield
        return
    torch.cuda.set_sync_debug_mode("error")
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode("default")


def main() -> int:
    """Run the benchmark and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-dry-run", action="store_true",
                        help="run a tiny version on CPU to check the script (no figures)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=40, help="steps per block")
    parser.add_argument("--d", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--block", type=int, default=512)
    args = parser.parse_args()
    cuda = torch.cuda.is_available() and not args.cpu_dry_run
    if not cuda and not args.cpu_dry_run:
        print("gpu_tracking: no CUDA device here (torch.cuda.is_available() is False); this "
              "benchmark needs a GPU. Nothing measured. (--cpu-dry-run checks the script.)",
              file=sys.stderr)
        return 2
    if args.cpu_dry_run:
        args.rounds, args.steps, args.d, args.layers, args.batch, args.block = 2, 4, 64, 2, 2, 32
    device = torch.device("cuda" if cuda else "cpu")
    vocab = 8192 if cuda else 128

    tmp = Path(tempfile.mkdtemp(prefix="gpu-tracking-"))
    offline_wandb_dirs(tmp)
    import wandbkit
    from wandbkit_torch.tracker import Tracker

    torch.manual_seed(0)
    model = GPT(vocab, args.d, args.layers, max(1, args.d // 64), args.block).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, fused=cuda)
    n_params = sum(p.numel() for p in model.parameters())
    data = [torch.randint(vocab, (args.batch, args.block + 1), device=device) for _ in range(8)]
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else nullcontext()
    run = wandbkit.init(project="gpu-tracking", mode="offline", dir=str(tmp / "store"))
    tokens = args.batch * args.block
    trackers: dict[str, Any] = {
        "norms every step": Tracker(run, model, opt, stats_every=1, hist_every=0,
                                    flops_per_token=6 * n_params,
                                    peak_flops=989e12 if cuda else 1e12),
        "+ histograms /10": Tracker(run, model, opt, stats_every=1, hist_every=10,
                                    system_every_s=0),
    }

    next_step = [0]  # one step counter for both trackers: W&B needs steps to only go up

    def block(tracker: Any, steps: int) -> float:
        """Train ``steps`` steps; mean seconds per step (one sync at the end, unchecked)."""
        if tracker is not None:
            tracker.global_step = next_step[0]
            tracker.restart_clock()  # its previous step was blocks ago
        next_step[0] += steps
        t0 = time.perf_counter()
        with sync_checked(cuda and tracker is not None):
            for i in range(steps):
                batch = data[i % len(data)]
                with autocast:
                    logits = model(batch[:, :-1])
                    loss = F.cross_entropy(logits.flatten(0, 1).float(), batch[:, 1:].flatten())
                loss.backward()
                if tracker is not None:
                    tracker.after_backward()
                norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                if tracker is not None:
                    tracker.step(loss, batch_size=args.batch, tokens=tokens, grad_norm=norm)
                opt.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        return (time.perf_counter() - t0) / steps

    times: dict[str, list[float]] = {"untracked": [], **{k: [] for k in trackers}}
    block(None, 10)  # warm-up: kernels, allocator, fused AdamW state
    for tracker in trackers.values():
        block(tracker, 10)
    names = list(times)
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            times[name].append(block(trackers.get(name), args.steps))
    for tracker in trackers.values():
        tracker.close()
    report = run.finish(quiet=True)

    base = statistics.fmean(times["untracked"])
    print(f"device: {torch.cuda.get_device_name() if cuda else 'cpu (dry run)'}; model "
          f"{n_params / 1e6:.1f}M params, batch {args.batch}x{args.block}, bf16 autocast")
    print(f"untracked: {base * 1e3:.2f} ms/step")
    for name in trackers:
        mean = statistics.fmean(times[name])
        print(f"tracked ({name}): {mean * 1e3:.2f} ms/step, ratio {mean / base:.4f}")
    ratio = statistics.fmean(times["norms every step"]) / base
    print(f"no host-device sync in any tracked step (sync debug mode 'error'): "
          f"{'checked' if cuda else 'not checked on CPU'}; run rows {report.rows_logged}, "
          f"complete={report.complete}")
    if cuda:
        ok = ratio <= 1.01 and base >= 0.010
        print(f"target tracked/untracked <= 1.01 at >= 10 ms steps: "
              f"{'MET' if ok else 'MISSED'} (ratio {ratio:.4f}, step {base * 1e3:.1f} ms)")
        # Only a real CUDA run is a figure; the CPU dry run only checks the script.
        untracked = f"untracked: {base * 1e3:.2f} ms/step"
        gpu = torch.cuda.get_device_name()
        for name in trackers:
            mean = statistics.fmean(times[name])
            headline = name == "norms every step"
            record("gpu_tracking", f"step time, tracked ({name}), GPT {n_params / 1e6:.0f}M on CUDA",
                   mean * 1e3, "ms/step", baseline=untracked, ratio=mean / base,
                   target="ratio <= 1.01 at >= 10 ms steps" if headline else "",
                   passed=ok if headline else None, note=gpu)
    return 0


if __name__ == "__main__":
    sys.exit(main())
