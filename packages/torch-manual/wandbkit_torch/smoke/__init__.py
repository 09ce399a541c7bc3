"""``wandbkit smoke``: is this model even trainable? Nine checks, each a verdict.

Python use::

    from wandbkit_torch.smoke import run_smoke
    report = run_smoke(make_model, make_data)   # or "examples/smoke_models.py:healthy_mlp"
    print(report.status, [(v.name, v.status, v.reason) for v in report.verdicts])

Names are imported on first use, so ``wandbkit --help`` does not pay for importing torch.
"""

from __future__ import annotations

from wandbkit_torch._lazy import lazy_exports

_EXPORTS = {
    "BUILTIN_CHECKS": "wandbkit_torch.smoke.checks",
    "QUICK_TRAIN_CHECK": "wandbkit_torch.smoke.checks",
    "SmokeContext": "wandbkit_torch.smoke.context",
    "SmokeSettings": "wandbkit_torch.smoke.context",
    "SmokeData": "wandbkit_torch.smoke.data",
    "SmokeReport": "wandbkit_torch.smoke.report",
    "available_checks": "wandbkit_torch.smoke.runner",
    "prepare_context": "wandbkit_torch.smoke.runner",
    "quick_train": "wandbkit_torch.smoke.runner",
    "run_checks": "wandbkit_torch.smoke.runner",
    "run_smoke": "wandbkit_torch.smoke.runner",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, lambda: list(globals()))
