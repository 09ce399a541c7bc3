"""Check 9: the same seed gives the same first losses.

Two runs, each seeding Python, numpy and torch with the same seed, building the model and
taking ``determinism_steps`` Adam steps on the same batch in train mode (so dropout is
active). The losses must match. Exact equality passes; a relative difference under 1e-4 warns
(non-deterministic GPU kernels such as atomic adds do that); more fails: some randomness
escapes the seed (a private unseeded generator, ``numpy.random.default_rng()`` with no seed,
time-based seeds).
"""

from __future__ import annotations

from wandbkit.smoke import Verdict
from wandbkit_torch.smoke.checks._curves import finite, rounded
from wandbkit_torch.smoke.context import SmokeContext

NAME = "determinism"
WARN_REL = 1e-4


def check(ctx: SmokeContext) -> Verdict:
    """Train twice from the same seed and compare the loss sequences."""
    s = ctx.settings
    a, b = _losses(ctx), _losses(ctx)
    diff = max(abs(u - v) for u, v in zip(a, b, strict=True))
    scale = max(max(abs(u) for u in a), 1e-12)
    numbers = {"seed": s.seed, "steps": s.determinism_steps, "run_a": rounded(a, 8),
               "run_b": rounded(b, 8), "max_abs_diff": diff, "max_rel_diff": diff / scale}
    if not (finite(a) and finite(b)):
        return Verdict(NAME, "skip", "losses are NaN/Inf, so they cannot be compared (see the "
                       "nonfinite check)", numbers)
    if diff == 0.0:
        return Verdict(NAME, "pass", f"{len(a)} losses identical across two runs with seed "
                       f"{s.seed}", numbers)
    first = next(i for i, (u, v) in enumerate(zip(a, b, strict=True)) if u != v)
    text = (f"losses differ from step {first} (max relative difference {diff / scale:.2g}) "
            f"with the same seed {s.seed}")
    if diff / scale <= WARN_REL:
        return Verdict(NAME, "warn", text + ": tiny, likely non-deterministic kernels", numbers)
    return Verdict(NAME, "fail", text + ": randomness outside the seeded RNGs (private or "
                   "unseeded generator?)", numbers)


def _losses(ctx: SmokeContext) -> list[float]:
    model = ctx.fresh_model()
    x, y = ctx.batch()
    ctx.seed_everything()  # the same RNG state at the first step in both runs
    return ctx.train_steps(model, x, y, ctx.settings.determinism_steps, ctx.settings.overfit_lr)
