"""Train a toy ARR-COC vision-language model and watch where its token budget goes.

The model (``wandbkit_vlm.toy``) answers "where is the red disc?" about synthetic images of
coloured shapes. Per-patch texture features feed three relevance scorers (propositional,
perspectival, participatory); per-image weights balance them; the top-K patches are kept and
each gets 64-400 tokens by relevance. Every ``metrics_interval`` steps the loop logs all of
wandbkit-vlm's metrics (``relevance/``, ``allocation/``, ``compression/``, ``attention/``,
``alignment/``, ``vqa/``...) and every ``eval_interval`` steps, on a held-out batch, the
metrics and the pictures: relevance and attention heatmaps, the patch selection coloured by
budget, LOD and budget histograms, and a table of the worst answers.

    python examples/arr_coc_toy.py                       # CPU, offline, about 30 s
    python examples/arr_coc_toy.py --max_iters=1000 --keep=8 --gamma=2.0

Then ``wandbkit runs``, ``wandbkit show <id>``, ``wandbkit dashboard`` (the VLM tab), or
``wandbkit sync <id>`` to upload to W&B. With wandbkit-torch installed the loop also tracks
gradient norms and throughput; with wandbkit-artifacts, the best model is checkpointed.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time

import torch

import wandbkit
from wandbkit.metrics import compute_metrics
from wandbkit.plugins import get_plugin_manager
from wandbkit_vlm.toy import DemoModel, ToyModelConfig

# -----------------------------------------------------------------------------
# config (override on the command line: --max_iters=1000 --gamma=2.0)
project = "arr-coc-toy"
max_iters = 300
batch_size = 64
eval_batch_size = 64
metrics_interval = 20        # all vlm metrics on the training batch
eval_interval = 50           # held-out batch: metrics + pictures + checkpoint
keep = 16                    # patches kept per image (of 64)
gamma = 1.0                  # > 1 concentrates the budget on the most relevant patches
learning_rate = 3e-3
min_lr = 3e-4
warmup_iters = 20
weight_decay = 0.01
grad_clip = 1.0
seed = 1337
for arg in sys.argv[1:]:
    key, _, value = arg.removeprefix("--").partition("=")
    if key not in globals() or key.startswith("_"):
        print(f"error: unknown config key {key!r} in {arg!r}", file=sys.stderr)
        sys.exit(2)
    globals()[key] = type(globals()[key])(value)
# -----------------------------------------------------------------------------

torch.manual_seed(seed)
torch.set_num_threads(1)  # a tiny model: more CPU threads cost more than they give

toy = DemoModel(dataclasses.replace(ToyModelConfig(), keep=keep, gamma=gamma))
model = toy.build()
optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
train_batches = toy.batches(seed=seed, batch_size=batch_size)
eval_batch = next(toy.batches(seed=seed + 10_000, batch_size=eval_batch_size))

config = {k: v for k, v in globals().items()
          if not k.startswith("_") and isinstance(v, (int, float, str, bool))}
run = wandbkit.init(project=project, config=config)

# Optional plugins: examples may use any installed package; the vlm package itself needs none.
try:
    from wandbkit_torch import Tracker
    tracker = Tracker(run, model, optimizer, log_every=metrics_interval, stats_every=metrics_interval,
                      hist_every=eval_interval)
except ImportError:
    tracker = None
can_checkpoint = bool(get_plugin_manager().hook.wandbkit_checkpoint_save.get_hookimpls())


def log(values: dict, step: int) -> None:
    """One row per interval: through the tracker's next row while it runs (so steps stay in
    order), else straight to the run."""
    if tracker is not None and not tracker_closed:
        tracker.log(values)
    else:
        run.log(values, step=step)


def get_lr(it: int) -> float:
    """Linear warmup, then cosine decay to min_lr."""
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    ratio = min(1.0, (it - warmup_iters) / max(1, max_iters - warmup_iters))
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (learning_rate - min_lr)


@torch.no_grad()
def evaluate(step: int) -> float:
    """All metrics and pictures on the held-out batch; returns its VQA accuracy."""
    model.eval()
    loss, outputs = toy.loss(model, eval_batch)
    metrics = compute_metrics(outputs, eval_batch)
    pictures = toy.log_pictures(None, model, eval_batch)  # run=None: build them, log them here
    log({f"val/{k}": v for k, v in metrics.items()} | {"val/loss": loss} | pictures, step)
    model.train()
    # sync point: the printout and the checkpoint decision need the value on the host
    return float(metrics["vqa/accuracy"])


t_start = time.time()
best_acc, tracker_closed = -1.0, False
for iter_num in range(max_iters + 1):
    lr = get_lr(iter_num)
    for group in optimizer.param_groups:
        group["lr"] = lr

    if iter_num == max_iters and tracker is not None:
        tracker.close()  # no step follows: the last evaluation goes straight to the run
        tracker_closed = True
    if iter_num % eval_interval == 0 or iter_num == max_iters:
        acc = evaluate(iter_num)
        print(f"step {iter_num}: val VQA accuracy {acc:.3f} ({time.time() - t_start:.0f} s)")
        if can_checkpoint and acc > best_acc and iter_num > 0:
            from wandbkit.checkpointing import save_checkpoint

            save_checkpoint(iter_num, model, optimizer=optimizer, run=run, name="arr-coc-toy",
                            metrics={"val/vqa/accuracy": acc})
        best_acc = max(best_acc, acc)
        if tracker is not None and not tracker_closed:
            tracker.restart_clock()  # eval time is not step time
    if iter_num == max_iters:
        break

    batch = next(train_batches)
    loss, outputs = toy.loss(model, batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if tracker is not None:
        tracker.after_backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    if iter_num % metrics_interval == 0:
        # Every vlm metric, from the tensors the step already has; they are read later, off
        # this thread (no sync here). Logged before tracker.step so they join this step's row.
        log({"train/loss": loss.detach(), "train/lr": lr, **compute_metrics(outputs, batch)}, iter_num)
    if tracker is not None:
        tracker.step(loss, batch_size=batch_size, grad_norm=grad_norm)

report = run.finish()
print(f"done in {time.time() - t_start:.1f} s: {max_iters} steps, best val VQA accuracy "
      f"{best_acc:.3f}; run {run.id}, {report.rows_logged} rows")
