"""A nanoGPT-style training loop tracked with wandbkit_torch.Tracker.

A tiny GPT learns a synthetic Markov-chain "language" on CPU in well under 30 seconds, offline.
The loop is nanoGPT's train.py shape: set LR, eval and checkpoint at intervals,
forward/backward with gradient accumulation, clip, step, log. The tracker adds per-layer
gradient/weight norms, update/weight ratios, histograms, throughput, system metrics and red
flags without reading a single value back from the device per step.

    python examples/manual_loop.py                          # CPU, offline
    python examples/manual_loop.py --device=cuda --dtype=bfloat16 --max_iters=2000
    torchrun --standalone --nproc_per_node=2 examples/manual_loop.py   # DDP (gloo on CPU)

Then: ``wandbkit runs`` and ``wandbkit show <id>``; ``wandbkit sync <id>`` uploads to W&B.
"""

from __future__ import annotations

import math
import os
import sys
import time
from contextlib import nullcontext

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

import wandbkit
from wandbkit.plugins import get_plugin_manager
from wandbkit_torch import RedFlagPolicy, Tracker, init_run

# -----------------------------------------------------------------------------
# config (override on the command line: --max_iters=500 --device=cuda)
project = "manual-loop"
eval_interval = 50
eval_iters = 10
log_interval = 1
stats_interval = 10          # per-layer norms + update ratios
hist_interval = 50           # weight/gradient histograms
max_iters = 200
gradient_accumulation_steps = 2
batch_size = 16
block_size = 32
vocab_size = 32
n_layer = 2
n_head = 2
n_embd = 64
learning_rate = 3e-3
weight_decay = 0.1
beta1, beta2 = 0.9, 0.95
grad_clip = 1.0
warmup_iters = 20
lr_decay_iters = 200
min_lr = 3e-4
device = "cpu"
dtype = "float32"            # 'bfloat16' or 'float16' (GradScaler) on CUDA
peak_flops = 0.0             # device peak FLOP/s for MFU (989e12: H100 bf16); 0 = no MFU
seed = 1337
for arg in sys.argv[1:]:
    key, _, value = arg.removeprefix("--").partition("=")
    if key not in globals() or key.startswith("_"):
        print(f"error: unknown config key {key!r} in {arg!r}", file=sys.stderr)
        sys.exit(2)
    globals()[key] = type(globals()[key])(value)
# -----------------------------------------------------------------------------

ddp = int(os.environ.get("RANK", -1)) != -1
if ddp:
    torch.distributed.init_process_group(backend="nccl" if device == "cuda" else "gloo")
    ddp_rank = torch.distributed.get_rank()
    ddp_local_rank = int(os.environ["LOCAL_RANK"])
    if device == "cuda":
        device = f"cuda:{ddp_local_rank}"
        torch.cuda.set_device(device)
    master_process = ddp_rank == 0
    seed_offset = ddp_rank
else:
    master_process, seed_offset = True, 0
torch.manual_seed(seed + seed_offset)
if "cuda" not in device:
    torch.set_num_threads(1)  # a tiny model: more CPU threads cost more than they give
device_type = "cuda" if "cuda" in device else "cpu"
ptdtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
ctx = nullcontext() if dtype == "float32" else torch.autocast(device_type, dtype=ptdtype)


# data: a random Markov chain over the vocabulary, so there is something to learn
_gen = torch.Generator().manual_seed(seed)
transition = torch.softmax(torch.randn(vocab_size, vocab_size, generator=_gen) * 3, dim=-1)


def get_batch(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample sequences from the chain (val uses its own generator stream)."""
    g = _val_gen if split == "val" else _train_gen
    tokens = torch.empty(batch_size, block_size + 1, dtype=torch.long)
    tokens[:, 0] = torch.randint(vocab_size, (batch_size,), generator=g)
    for t in range(block_size):
        tokens[:, t + 1] = torch.multinomial(transition[tokens[:, t]], 1, generator=g)[:, 0]
    return tokens[:, :-1].to(device), tokens[:, 1:].to(device)


_train_gen = torch.Generator().manual_seed(seed + 1 + seed_offset)
_val_gen = torch.Generator().manual_seed(seed + 10_000)


# model: a tiny GPT
class Block(nn.Module):
    """Pre-norm attention + MLP block."""

    def __init__(self) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(),
                                 nn.Linear(4 * n_embd, n_embd))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.attn(self.ln_1(x)).split(n_embd, dim=2)
        q, k, v = (t.view(B, T, n_head, C // n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).contiguous().view(B, T, C))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """Token + position embeddings, blocks, tied head."""

    def __init__(self) -> None:
        super().__init__()
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.blocks = nn.ModuleList(Block() for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx: torch.Tensor,
                targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for block in self.blocks:
            x = block(x)
        logits = self.ln_f(x) @ self.wte.weight.T
        return logits, F.cross_entropy(logits.view(-1, vocab_size), targets.reshape(-1))


model = GPT().to(device)
n_params = sum(p.numel() for p in model.parameters())
# nanoGPT's estimate of FLOPs per token: 6N for the matmuls plus attention
flops_per_token = 6 * n_params + 12 * n_layer * n_embd * block_size
scaler = torch.amp.GradScaler(device_type, enabled=(dtype == "float16"))
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, betas=(beta1, beta2),
                              weight_decay=weight_decay)
raw_model = model
if ddp:
    model = DDP(model, device_ids=[ddp_local_rank] if device_type == "cuda" else None)

# logging: the run lives on rank 0 only; every rank keeps a tracker (they average together)
config = {k: v for k, v in globals().items()
          if not k.startswith("_") and isinstance(v, (int, float, str, bool))}
run = init_run(project=project, config=config)
tracker = Tracker(run, model, optimizer, scaler=scaler, log_every=log_interval,
                  stats_every=stats_interval, hist_every=hist_interval,
                  flops_per_token=flops_per_token if peak_flops else None,
                  peak_flops=peak_flops or None, red_flags=RedFlagPolicy(action="stop"))
can_checkpoint = bool(get_plugin_manager().hook.wandbkit_checkpoint_save.get_hookimpls())
if master_process and not can_checkpoint:
    print("note: wandbkit-artifacts is not installed; checkpoints are skipped")


@torch.no_grad()
def estimate_loss() -> dict[str, torch.Tensor]:
    """Mean loss over eval_iters batches per split, as device tensors."""
    out = {}
    model.eval()
    for split in ("train", "val"):
        losses = torch.stack([model(*get_batch(split))[1] for _ in range(eval_iters)])
        out[split] = losses.mean()
    model.train()
    return out


def get_lr(it: int) -> float:
    """Linear warmup, then cosine decay to min_lr."""
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    if it > lr_decay_iters:
        return min_lr
    ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (learning_rate - min_lr)


X, Y = get_batch("train")
iter_num, best_val_loss = 0, float("inf")
t_start = time.time()
while True:
    lr = get_lr(iter_num)
    for param_group in optimizer.param_groups:
        param_group["lr"] = lr

    if iter_num % eval_interval == 0 and master_process:
        losses = estimate_loss()
        tracker.log({"val/loss": losses["val"], "train/eval_loss": losses["train"]})
        # sync point: deciding whether to checkpoint needs the value on the host, once per eval
        val_loss = losses["val"].item()
        print(f"step {iter_num}: train loss {losses['train'].item():.4f}, val loss {val_loss:.4f}")
        if val_loss < best_val_loss and iter_num > 0 and can_checkpoint:
            best_val_loss = val_loss
            from wandbkit.checkpointing import save_checkpoint

            save_checkpoint(iter_num, raw_model, optimizer=optimizer, scaler=scaler, run=run,
                            name="manual-loop", metrics={"val/loss": val_loss})
        tracker.restart_clock()  # eval time is not step time

    for micro_step in range(gradient_accumulation_steps):
        if ddp:  # only sync gradients on the last micro step
            model.require_backward_grad_sync = micro_step == gradient_accumulation_steps - 1
        with ctx:
            logits, loss = model(X, Y)
            loss = loss / gradient_accumulation_steps
        X, Y = get_batch("train")  # prefetch the next batch while the device works
        scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    tracker.after_backward()  # gradients are complete and unscaled
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip) if grad_clip \
        else None
    scaler.step(optimizer)
    scaler.update()
    tokens = batch_size * block_size * gradient_accumulation_steps
    tracker.step(loss * gradient_accumulation_steps, batch_size=batch_size *
                 gradient_accumulation_steps, tokens=tokens, grad_norm=grad_norm)
    optimizer.zero_grad(set_to_none=True)

    iter_num += 1
    if iter_num > max_iters or tracker.should_stop:
        break

tracker.close()
if master_process:
    report = run.finish()
    final = wandbkit.store.Store.open(run.store_dir).history(run.id, ["train/loss"])["train/loss"]
    print(f"done in {time.time() - t_start:.1f} s: {iter_num} steps, train/loss "
          f"{final[0][1]:.3f} -> {final[-1][1]:.3f}; run {run.id}, rows {report.rows_logged}"
          + (f", red flags: {[f.kind for f in tracker.red_flags]}" if tracker.red_flags else ""))
if ddp:
    torch.distributed.destroy_process_group()
