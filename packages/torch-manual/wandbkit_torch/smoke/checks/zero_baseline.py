"""Check 6: a model trained on zeroed inputs does worse than one trained on the real inputs.

With every input set to zero the model can only learn the average target (for classification,
the label frequencies). If real inputs do no better, the model is not using its input: a wiring
bug, inputs overwritten, the wrong tensor fed. Both runs start from the same seed and take
``baseline_steps`` Adam steps on the same batch. Pass: real final loss is below
``baseline_margin`` (default 0.8) times the zero-input final loss.
"""

from __future__ import annotations

import torch

from wandbkit.smoke import Verdict
from wandbkit_torch.smoke.checks._curves import finite, rounded
from wandbkit_torch.smoke.context import SmokeContext

NAME = "zero_input_baseline"


def check(ctx: SmokeContext) -> Verdict:
    """Train twice from the same seed, on real and on zeroed inputs, and compare."""
    s = ctx.settings
    x, y = ctx.batch()
    real = _train(ctx, x, y)
    zero = _train(ctx, torch.zeros_like(x), y)
    numbers = {"steps": s.baseline_steps, "lr": s.overfit_lr, "real_final": round(real[-1], 5),
               "zero_final": round(zero[-1], 5), "margin": s.baseline_margin,
               "real_curve": rounded(real), "zero_curve": rounded(zero)}
    if not (finite(real) and finite(zero)):
        return Verdict(NAME, "fail", "loss became NaN/Inf during the baseline runs", numbers)
    text = f"final loss real {real[-1]:.3g} vs zeroed inputs {zero[-1]:.3g}"
    if real[-1] < s.baseline_margin * zero[-1]:
        return Verdict(NAME, "pass", text, numbers)
    return Verdict(NAME, "fail", text + ": the model learns no more from its inputs than from "
                   "zeros (input ignored?)", numbers)


def _train(ctx: SmokeContext, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    model = ctx.fresh_model()
    curve = ctx.train_steps(model, x, y, ctx.settings.baseline_steps, ctx.settings.overfit_lr)
    curve.append(ctx.loss(ctx.forward(model, x), y).item())
    return curve
