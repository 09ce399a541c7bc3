"""The ``toy-model`` stage of ``wandbkit demo``: publish the toy ARR-COC model for later stages
(smoke, train, sweep) and show what the vlm metrics make of it before training."""

from __future__ import annotations

from typing import Any


def run_toy_model_stage(ctx: Any) -> dict[str, Any]:
    """Publish ``ctx.shared["demo_model"]`` and check it end to end on one batch: forward, loss,
    every registered vlm metric and every picture (built, not logged: the train stage logs them)."""
    import torch

    from wandbkit.metrics import compute_metrics
    from wandbkit_vlm.metrics import GROUPS
    from wandbkit_vlm.toy import DEMO_MODEL

    ctx.shared["demo_model"] = DEMO_MODEL
    torch.manual_seed(0)
    model = DEMO_MODEL.build()
    batch = next(DEMO_MODEL.batches(seed=0, batch_size=8 if ctx.quick else 32))
    loss, outputs = DEMO_MODEL.loss(model, batch)
    metrics = compute_metrics(outputs, batch, names=list(GROUPS))
    pictures = DEMO_MODEL.log_pictures(None, model, batch)
    if not torch.isfinite(loss):
        raise RuntimeError(f"the toy model's loss at init is {loss.item()}")
    return {
        "model": DEMO_MODEL.name,
        "parameters": sum(p.numel() for p in model.parameters()),
        "loss_at_init": round(loss.item(), 4),
        "vlm_metrics": len(metrics),
        "pictures": sorted(pictures),
        "vqa_accuracy_at_init": round(float(metrics["vqa/accuracy"]), 4),
    }
