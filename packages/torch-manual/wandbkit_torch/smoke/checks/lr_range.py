"""Check 8: learning-rate range test (Smith 2015; fastai's ``lr_find``).

The learning rate grows exponentially from ``lr_min`` to ``lr_max`` over ``lr_steps`` Adam steps,
cycling through the examples in batches. The loss is smoothed (exponential moving average,
bias-corrected) and the sweep stops early once it exceeds 4x its minimum. Suggested LR: the
point of steepest descent of the smoothed loss against log(LR), capped at a tenth of the LR
with the lowest loss (both are reported). Fail when no LR in the range lowers the loss by 10%.
The loss-vs-LR plot is saved as ``lr_range.png`` and logged to the run as an image.
"""

from __future__ import annotations

import math
from pathlib import Path

from wandbkit.smoke import Verdict
from wandbkit_torch.smoke.checks._curves import rounded
from wandbkit_torch.smoke.context import SmokeContext

NAME = "lr_range"
SMOOTHING = 0.9
DIVERGE = 4.0


def check(ctx: SmokeContext) -> Verdict:
    """Sweep the LR, suggest one, and save the plot."""
    lrs, raw = _sweep(ctx)
    smooth = _smooth(raw)
    if len(smooth) < 3 or not math.isfinite(smooth[0]):
        return Verdict(NAME, "fail", f"the loss became NaN/Inf after {len(raw) - 1} step(s), "
                       f"at lr {lrs[-1]:.1g}", {"lrs": rounded(lrs), "losses": rounded(raw)})
    best = min(range(len(smooth)), key=smooth.__getitem__)
    steep = _steepest(lrs, smooth, best)
    suggested = min(lrs[steep], lrs[best] / 10)
    numbers = {"suggested_lr": float(f"{suggested:.3g}"), "steepest_lr": float(f"{lrs[steep]:.3g}"),
               "min_loss_lr": float(f"{lrs[best]:.3g}"), "initial_loss": round(smooth[0], 5),
               "min_loss": round(smooth[best], 5), "steps": len(lrs), "lrs": rounded(lrs, 4),
               "losses": rounded(smooth)}
    numbers["plot"] = str(_plot(ctx, lrs, smooth, suggested))
    if smooth[best] > 0.9 * smooth[0]:
        return Verdict(NAME, "fail", f"no learning rate in [{lrs[0]:.0e}, {lrs[-1]:.0e}] lowered "
                       f"the loss by 10% (min {smooth[best]:.3g} vs {smooth[0]:.3g})", numbers)
    return Verdict(NAME, "pass", f"suggested lr {suggested:.2g} (steepest descent at "
                   f"{lrs[steep]:.2g}, lowest loss at {lrs[best]:.2g})", numbers)


def _sweep(ctx: SmokeContext) -> tuple[list[float], list[float]]:
    s = ctx.settings
    model = ctx.fresh_model()
    opt = ctx.optimizer(model, s.lr_min)
    factor = (s.lr_max / s.lr_min) ** (1 / max(s.lr_steps - 1, 1))
    bs, n = ctx.settings.batch_size, len(ctx.data)
    lrs: list[float] = []
    losses: list[float] = []
    best, avg = math.inf, 0.0
    for step in range(s.lr_steps):
        lr = s.lr_min * factor**step
        for group in opt.param_groups:
            group["lr"] = lr
        x, y = ctx.batch(bs, (step * bs) % max(n - bs + 1, 1))
        opt.zero_grad(set_to_none=True)
        loss = ctx.loss(ctx.forward(model, x), y)
        # The stop rule needs the value now: one sync per step, acceptable for a short sweep.
        value = loss.item()
        lrs.append(lr)
        losses.append(value)
        if not math.isfinite(value):
            break
        avg = SMOOTHING * avg + (1 - SMOOTHING) * value
        smoothed = avg / (1 - SMOOTHING ** (step + 1))
        if smoothed > DIVERGE * best:
            break
        best = min(best, smoothed)
        loss.backward()
        opt.step()
    return lrs, losses


def _smooth(raw: list[float]) -> list[float]:
    out, avg = [], 0.0
    for i, v in enumerate(raw):
        if not math.isfinite(v):
            break
        avg = SMOOTHING * avg + (1 - SMOOTHING) * v
        out.append(avg / (1 - SMOOTHING ** (i + 1)))
    return out


def _steepest(lrs: list[float], smooth: list[float], best: int) -> int:
    """Index of the most negative d(loss)/d(log lr) before the minimum.

    The slope is taken over a window of a tenth of the sweep (at least 3 steps): step-to-step
    slopes of a noisy loss pick a random early point, a window picks the real descent.
    """
    w = max(3, len(smooth) // 10)
    if best < w:
        return best // 2
    slopes = [(smooth[i + w] - smooth[i]) / (math.log(lrs[i + w]) - math.log(lrs[i]))
              for i in range(best - w + 1)]
    return min(range(len(slopes)), key=slopes.__getitem__) + w // 2


def _plot(ctx: SmokeContext, lrs: list[float], smooth: list[float], suggested: float) -> Path:
    # A bare Figure on the Agg canvas: no pyplot global state, no GUI backend needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    path = ctx.out_dir / "lr_range.png"
    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(lrs[: len(smooth)], smooth, label="smoothed loss")
    ax.axvline(suggested, color="tab:red", linestyle="--", label=f"suggested {suggested:.2g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.set_title("LR range test")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    return path
