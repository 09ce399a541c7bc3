"""What wandbkit-vlm's metrics cost next to the model they measure.

Every tensor metric the plugin registers (relevance maps from pixels, features and attention;
balancing; allocation, LOD distribution, compression, Spearman, Gini, selection geometry;
attention entropy and recall; feature norms, effective rank; image-text alignment and in-batch
retrieval) at B=32 images of N=1,024 patches (a 32x32 grid of 16-pixel patches, 512x512 images),
against the forward pass of a ViT-Tiny-sized encoder (16x16 patch embedding, depth 12, width 192,
3 heads, MLP 768) on the same 32 x 1,024-patch batch, on the CPU. Target: metrics <= 2% of that forward pass.

The two are interleaved (forward, metrics, forward, metrics, ... in a random order per round)
and the median of each is compared, as wall time and as CPU time of this process (CPU time is
less disturbed by other work on a shared machine). The language-side metrics (token loss and
accuracy over a 32x16x32,000 logits tensor, VQA accuracy on 32 questions) are timed as a separate
line: they measure the language model's output, not the encoder's.

    python benchmarks/vlm_metrics.py                 # 3 rounds
    python benchmarks/vlm_metrics.py --quick         # 1 round: proves it runs, noisy figures
    python benchmarks/vlm_metrics.py --rounds 5 --threads 2 --json
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from results import record  # benchmarks/ is on sys.path when run as a script
from torch import nn

import wandbkit_vlm.metrics as vlm_metrics_module
from wandbkit_vlm.metrics import GROUPS

B, GRID, PATCH, DIM, HEADS, DEPTH, TEXT, VOCAB = 32, 32, 16, 192, 3, 12, 16, 32_000
N = GRID * GRID
TARGET = 0.02


class ViTTiny(nn.Module):
    """A ViT-Tiny-sized encoder: 16x16 patch embedding, positions, 12 pre-norm blocks of width
    192 with 3 heads and a 4x MLP, a final norm."""

    def __init__(self) -> None:
        super().__init__()
        self.patch_embed = nn.Conv2d(3, DIM, kernel_size=PATCH, stride=PATCH)
        self.position = nn.Parameter(torch.randn(1, N, DIM) * 0.02)
        layer = nn.TransformerEncoderLayer(DIM, HEADS, dim_feedforward=4 * DIM, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, DEPTH, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(DIM)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """``[B, 3, 512, 512]`` -> ``[B, 1024, 192]`` patch features."""
        x = self.patch_embed(pixels).flatten(2).transpose(1, 2) + self.position
        return self.norm(self.blocks(x))


def inputs(seed: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    """The outputs/batch dicts the metrics read; ``batch["pixel_values"]`` is the encoder's input."""
    g = torch.Generator().manual_seed(seed)
    relevance = torch.rand(B, N, generator=g)
    selected = relevance >= relevance.kthvalue(N - 256, dim=1, keepdim=True).values
    from wandbkit_vlm.functional import allocate_tokens

    outputs = {
        "vision_features": torch.randn(B, N, DIM, generator=g),
        "text_features": torch.randn(B, TEXT, DIM, generator=g),
        "image_embeds": torch.randn(B, DIM, generator=g),
        "text_embeds": torch.randn(B, DIM, generator=g),
        "attention": torch.softmax(torch.randn(B, HEADS, TEXT, N, generator=g), dim=-1),
        "relevance_weights": torch.softmax(torch.randn(B, 3, generator=g), dim=-1),
        "selected": selected,
        "tokens": allocate_tokens(relevance, selected),
        "grid": (GRID, GRID), "patch_size": PATCH, "token_cap": 256 * 256,
    }
    batch = {"pixel_values": torch.rand(B, 3, GRID * PATCH, GRID * PATCH, generator=g),
             "attention_mask": torch.ones(B, TEXT, dtype=torch.long),
             "ocr_tokens": torch.full((B,), 2000.0)}
    language_out = {"logits": torch.randn(B, TEXT, VOCAB, generator=g),
                    "predictions": ["two"] * B}
    language_batch = {"labels": torch.randint(VOCAB, (B, TEXT), generator=g),
                      "answers": [["2"] * 7 + ["two"] * 2 + ["3"]] * B}
    return {**outputs, **language_out}, {**batch, **language_batch}


VISION_GROUPS = ("vlm_encoder", "vlm_alignment", "vlm_relevance", "vlm_allocation", "vlm_attention")
LANGUAGE_GROUPS = ("vlm_language", "vlm_answers")


def timed(fn: Callable[[], Any]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on stdout")
    parser.add_argument("--quick", action="store_true", help="1 round: checks that it runs")
    args = parser.parse_args()
    if args.quick:
        args.rounds = 1
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    encoder = ViTTiny().eval()
    outputs, batch = inputs()

    def forward() -> None:
        with torch.no_grad():
            encoder(batch["pixel_values"])

    def vision() -> None:
        # A training step brings new tensors; forget the relevance maps the last round computed
        # from these same ones, so every round pays for them once.
        vlm_metrics_module._last_maps = None
        for name in VISION_GROUPS:
            GROUPS[name](outputs, batch)

    def language() -> None:
        for name in LANGUAGE_GROUPS:
            GROUPS[name](outputs, batch)

    variants = {"forward": forward, "vision_metrics": vision, "language_metrics": language}
    for fn in variants.values():  # warm-up: allocator, kernels, lazy imports (torchmetrics)
        fn()
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in variants}
    rng = random.Random(0)
    for r in range(args.rounds):
        order = list(variants)
        rng.shuffle(order)
        for name in order:
            times[name].append(timed(variants[name]))
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(
            f"{k} {times[k][-1][0] * 1e3:.0f} ms" for k in variants), file=sys.stderr)

    med = {k: {"wall_s": statistics.median(t[0] for t in v), "cpu_s": statistics.median(t[1] for t in v)}
           for k, v in times.items()}
    fwd = med["forward"]
    result = {
        "shape": {"B": B, "N": N, "grid": GRID, "patch": PATCH, "width": DIM, "depth": DEPTH,
                  "heads": HEADS, "text_tokens": TEXT, "vocab": VOCAB},
        "threads": args.threads, "rounds": args.rounds, "median": med, "target": TARGET,
        "ratio_vision_wall": med["vision_metrics"]["wall_s"] / fwd["wall_s"],
        "ratio_vision_cpu": med["vision_metrics"]["cpu_s"] / fwd["cpu_s"],
    }
    for unit in ("wall", "cpu"):
        both = med["vision_metrics"][f"{unit}_s"] + med["language_metrics"][f"{unit}_s"]
        result[f"ratio_all_{unit}"] = both / fwd[f"{unit}_s"]
    print(f"\nB={B}, N={N} patches, {args.threads} thread(s), median of {args.rounds} interleaved rounds",
          file=sys.stderr)
    print(f"  ViT-Tiny forward     {fwd['wall_s'] * 1e3:9.1f} ms wall {fwd['cpu_s'] * 1e3:9.1f} ms CPU",
          file=sys.stderr)
    for k in ("vision_metrics", "language_metrics"):
        print(f"  {k:<20} {med[k]['wall_s'] * 1e3:9.1f} ms wall {med[k]['cpu_s'] * 1e3:9.1f} ms CPU",
              file=sys.stderr)
    for label, key in (("vision metrics / forward", "vision"), ("all metrics / forward", "all")):
        wall, cpu = result[f"ratio_{key}_wall"], result[f"ratio_{key}_cpu"]
        verdict = "meets" if max(wall, cpu) <= TARGET else "misses"
        print(f"  {label:<26} {wall:7.2%} wall, {cpu:7.2%} CPU  ({verdict} the {TARGET:.0%} target)",
              file=sys.stderr)
        metrics_ms = (med["vision_metrics"]["wall_s"] + (med["language_metrics"]["wall_s"]
                                                          if key == "all" else 0.0)) * 1e3
        record("vlm_metrics", f"{label} (B={B}, N={N})", metrics_ms, "ms",
               baseline=f"ViT-Tiny forward {fwd['wall_s'] * 1e3:,.0f} ms", ratio=wall,
               target=f"ratio <= {TARGET:g}, wall and CPU", passed=max(wall, cpu) <= TARGET,
               note=("quick; " if args.quick else "")
               + f"{args.threads} thread(s), {args.rounds} rounds; CPU ratio {cpu:.2%}")
    if args.json:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
