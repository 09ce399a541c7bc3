"""Check 5: the model can overfit one small batch.

Any model worth training drives the loss on a single fixed batch of ``batch_size`` examples
far down within ``overfit_steps`` Adam steps. Pass: the final loss is below
``overfit_fraction`` (default 10%) of the first. The whole curve is in the numbers.
"""

from __future__ import annotations

from wandbkit.smoke import Verdict
from wandbkit_torch.smoke.checks._curves import finite, rounded
from wandbkit_torch.smoke.context import SmokeContext

NAME = "overfit_batch"


def check(ctx: SmokeContext) -> Verdict:
    """Train a fresh model on one batch and compare the last loss with the first."""
    s = ctx.settings
    model = ctx.fresh_model()
    x, y = ctx.batch()
    curve = ctx.train_steps(model, x, y, s.overfit_steps, s.overfit_lr)
    # The loss after the last step, so the curve covers the whole effect of training.
    final = ctx.loss(ctx.forward(model, x), y).item()
    curve.append(final)
    first = curve[0]
    numbers = {"examples": int(x.shape[0]), "steps": s.overfit_steps, "lr": s.overfit_lr,
               "initial": round(first, 5), "final": round(final, 5),
               "fraction": s.overfit_fraction, "curve": rounded(curve)}
    if not finite(curve):
        return Verdict(NAME, "fail", "loss became NaN/Inf while overfitting one batch", numbers)
    ratio = final / first if first > 0 else 0.0
    numbers["ratio"] = round(ratio, 5)
    text = (f"loss {first:.3g} -> {final:.3g} ({ratio:.1%} of start) in {s.overfit_steps} "
            f"steps on {int(x.shape[0])} examples")
    if first <= 0 or final < s.overfit_fraction * first:
        return Verdict(NAME, "pass", text, numbers)
    return Verdict(NAME, "fail", text + f"; needed < {s.overfit_fraction:.0%}", numbers)
