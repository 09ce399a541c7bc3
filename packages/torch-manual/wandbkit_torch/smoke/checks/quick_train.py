"""Quick train: the classic "100 examples x 10 epochs" sanity run, as a verdict.

Mini-batches of ``quick_batch_size`` over the first ``quick_examples`` examples (fewer if the
data has fewer), shuffled each epoch with the seed, Adam at ``quick_lr``. Pass: the last
epoch's mean loss is at least 10% below the first's; warn: it fell by 1-10%; fail: it fell by
less than 1% (noise), rose, or went NaN/Inf.
"""

from __future__ import annotations

import math

import torch

from wandbkit.smoke import Verdict
from wandbkit_torch.smoke.checks._curves import rounded
from wandbkit_torch.smoke.context import SmokeContext

NAME = "quick_train"
MIN_FALL = 0.10
NO_FALL = 0.01  # under 1% is noise, not learning


def check(ctx: SmokeContext) -> Verdict:
    """Train for a few epochs on a few examples and report the fall of the epoch loss."""
    s = ctx.settings
    model = ctx.fresh_model()
    x_all, y_all = ctx.batch(s.quick_examples)
    n = int(x_all.shape[0])
    opt = ctx.optimizer(model, s.quick_lr)
    gen = torch.Generator().manual_seed(s.seed)
    epochs = []
    for _ in range(s.quick_epochs):
        order = torch.randperm(n, generator=gen).to(ctx.device)
        losses = []
        for start in range(0, n, s.quick_batch_size):
            idx = order[start:start + s.quick_batch_size]
            opt.zero_grad(set_to_none=True)
            loss = ctx.loss(ctx.forward(model, x_all[idx]), y_all[idx])
            loss.backward()
            opt.step()
            losses.append(loss.detach())
        # One host sync per epoch for the epoch mean.
        epochs.append(torch.stack(losses).float().mean().item())
    first, last = epochs[0], epochs[-1]
    numbers = {"examples": n, "epochs": s.quick_epochs, "batch_size": s.quick_batch_size,
               "lr": s.quick_lr, "first_epoch": round(first, 5), "last_epoch": round(last, 5),
               "epoch_losses": rounded(epochs)}
    if not all(math.isfinite(v) for v in epochs):
        return Verdict(NAME, "fail", "training loss became NaN/Inf", numbers)
    fall = (first - last) / first if first > 0 else 0.0
    numbers["fall"] = round(fall, 5)
    short = f" (only {n} examples available)" if n < s.quick_examples else ""
    moved = f"fell {fall:.0%}" if fall >= NO_FALL else f"did not fall (change {-fall:+.1%})"
    text = (f"epoch loss {first:.3g} -> {last:.3g} over {s.quick_epochs} epochs on {n} examples: "
            f"{moved}{short}")
    if fall >= MIN_FALL:
        return Verdict(NAME, "pass", text, numbers)
    return Verdict(NAME, "warn" if fall >= NO_FALL else "fail", text, numbers)
