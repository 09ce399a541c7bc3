"""Check 2: the loss at initialisation is close to -log(1/C) = log C.

A freshly initialised classifier (or language model over a vocabulary of C tokens) should be
unsure: roughly uniform probabilities, so cross-entropy near log C. Much higher means the
initial logits are too large (a wrong init scale, a missing 1/sqrt(d)); the first hundreds of
steps are then spent undoing it. Tolerance, relative to log C: within ``loss_init_pass``
(default 25%) passes, within ``loss_init_warn`` (50%) warns, beyond fails.
"""

from __future__ import annotations

import math

import torch

from wandbkit.smoke import Verdict
from wandbkit_torch.smoke.context import SmokeContext

NAME = "loss_at_init"


def check(ctx: SmokeContext) -> Verdict:
    """Compare the loss of a fresh model on a batch with log C."""
    if ctx.task == "regression":
        return Verdict(NAME, "skip", "regression has no class count to compare against")
    model = ctx.fresh_model()
    x, y = ctx.batch()
    with torch.no_grad():
        out = ctx.forward(model, x)
        actual = float(ctx.loss(out, y))
    classes = int(out.shape[-1])
    expected = math.log(classes)
    rel = abs(actual - expected) / expected if expected > 0 else math.inf
    s = ctx.settings
    numbers = {"classes": classes, "expected": round(expected, 4), "actual": round(actual, 4),
               "relative_error": round(rel, 4), "tolerance_pass": s.loss_init_pass,
               "tolerance_warn": s.loss_init_warn}
    text = f"loss {actual:.3f} vs expected log({classes}) = {expected:.3f} ({rel:.0%} off)"
    if not math.isfinite(actual):
        return Verdict(NAME, "fail", f"loss at init is {actual}", numbers)
    if rel <= s.loss_init_pass:
        return Verdict(NAME, "pass", text, numbers)
    hint = ("; initial logits too large (init scale?)" if actual > expected
            else "; lower than chance: are targets leaking into inputs?")
    status = "warn" if rel <= s.loss_init_warn else "fail"
    return Verdict(NAME, status, text + hint, numbers)
