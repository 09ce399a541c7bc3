"""This package's stages of ``wandbkit demo``: smoke-test the demo model, then train it tracked.

The model comes from whichever plugin published ``ctx.shared["demo_model"]`` (wandbkit-vlm's toy
ARR-COC model); this package never imports that plugin. The object must offer ``build()`` (a
fresh ``nn.Module``), ``batches(seed, batch_size)`` (an endless iterator of batches),
``loss(model, batch) -> (loss, outputs)``, ``smoke_data()`` returning ``(model_factory,
data_factory)`` (the no-argument factories ``wandbkit smoke`` takes), optionally
``smoke_overrides`` (``SmokeSettings`` fields the model needs, as pairs) and
``log_pictures(run, model, batch, step)``. Metrics come
from every plugin's ``wandbkit_register_metrics`` through :func:`wandbkit.compute_metrics`, and
checkpoints go through core's checkpoint hook (wandbkit-artifacts), so each piece stays in the
package that owns it.
"""

from __future__ import annotations

import math
from typing import Any

from wandbkit.demo import DemoContext, DemoStage

_NO_MODEL = "no demo model was published (pip install wandbkit-vlm)"


def stages() -> list[DemoStage]:
    """The two stages this package adds to the demo."""
    return [DemoStage(name="smoke", title="smoke-validate the toy ARR-COC model", order=10,
                      run=smoke_stage),
            DemoStage(name="train", title="train the toy model: tracker, VLM metrics, checkpoints",
                      order=20, run=train_stage)]


def smoke_stage(ctx: DemoContext) -> dict[str, Any]:
    """Run every smoke check on the demo model; a failing check fails the stage."""
    model = ctx.shared.get("demo_model")
    if model is None:
        return {"headline": f"skipped: {_NO_MODEL}"}
    from wandbkit_torch.smoke import run_smoke
    from wandbkit_torch.smoke.context import SmokeSettings

    # Quick (tests): fewer learning-rate and baseline steps; the overfit check keeps its length.
    # A model may need more of some (``smoke_overrides``, pairs of SmokeSettings fields).
    sizes: dict[str, Any] = {"lr_steps": 30, "baseline_steps": 30} if ctx.quick else {}
    sizes.update(dict(getattr(model, "smoke_overrides", ()) or ()))
    settings = SmokeSettings(**sizes)
    model_factory, data_factory = model.smoke_data()
    report = run_smoke(model_factory, data_factory, device="cpu",
                       loss_fn=getattr(model, "smoke_loss", None), settings=settings,
                       out_dir=ctx.work_dir / "smoke")
    counts: dict[str, int] = {}
    for verdict in report.verdicts:
        counts[verdict.status] = counts.get(verdict.status, 0) + 1
    if report.status == "fail":
        failed = [f"{v.name}: {v.reason}" for v in report.verdicts if v.status == "fail"]
        raise RuntimeError("smoke checks failed: " + "; ".join(failed))
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    return {"headline": f"{len(report.verdicts)} checks: {summary}", "checks": counts}


def train_stage(ctx: DemoContext) -> dict[str, Any]:
    """Train the demo model in a plain loop with the tracker; keep ``latest`` and ``best``."""
    demo_model = ctx.shared.get("demo_model")
    if demo_model is None:
        return {"headline": f"skipped: {_NO_MODEL}"}
    import torch

    import wandbkit
    from wandbkit.checkpointing import save_checkpoint
    from wandbkit_torch.tracker import Tracker

    steps, batch_size, eval_every = (30, 8, 10) if ctx.quick else (240, 16, 40)
    config = {"steps": steps, "batch_size": batch_size, "lr": 3e-3, "weight_decay": 0.01,
              "eval_every": eval_every, "model": getattr(demo_model, "name", "demo-model")}
    torch.manual_seed(0)
    model = demo_model.build()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"],
                                  weight_decay=config["weight_decay"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / 10) * 0.5 * (1 + math.cos(math.pi * s / steps)))
    train_batches = demo_model.batches(seed=0, batch_size=batch_size)
    val_batch = next(demo_model.batches(seed=1, batch_size=4 * batch_size))
    run = wandbkit.init(project=ctx.project, name="arr-coc-toy", config=config, mode=ctx.mode,
                        dir=ctx.store_dir, tags=["demo", "arr-coc"])
    bar = ctx.progress.add_task("  training", total=steps) if ctx.progress is not None else None
    best: tuple[float, int] | None = None
    saved = 0
    with run, Tracker(run, model, optimizer, scheduler, stats_every=10,
                      hist_every=max(steps // 4, 10), system_every_s=5.0) as tracker:
        for step in range(steps):
            batch = next(train_batches)
            model.train()
            loss, outputs = demo_model.loss(model, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            tracker.after_backward()
            optimizer.step()
            scheduler.step()
            if step % eval_every == 0 or step == steps - 1:
                val_loss, metrics = _evaluate(demo_model, model, val_batch)
                tracker.log({"val/loss": val_loss, **metrics})
                if hasattr(demo_model, "log_pictures"):
                    demo_model.log_pictures(run, model, val_batch, step)
                aliases = ["latest"]
                if best is None or val_loss < best[0]:
                    best = (val_loss, step)
                    aliases.append("best")
                save_checkpoint(step, model, optimizer=optimizer, scheduler=scheduler,
                                metrics={"val/loss": val_loss}, name="arr-coc-toy",
                                aliases=aliases, run=run, force=True)
                saved += 1
                tracker.restart_clock()
            tracker.step(loss.detach(), batch_size=batch_size)
            if bar is not None:
                ctx.progress.advance(bar)
    assert best is not None
    return {"headline": f"{steps} steps, best val/loss {best[0]:.3f} at step {best[1]}, "
                        f"{saved} checkpoints",
            "run": run.id,
            "best_checkpoint": f"arr-coc-toy:best (step {best[1]}, val/loss {best[0]:.4f}); "
                               "load it with wandbkit.checkpointing.load_checkpoint"}


def _evaluate(demo_model: Any, model: Any, batch: Any) -> tuple[float, dict[str, Any]]:
    """Validation loss (read once: it picks ``best``) and every registered metric, on one batch."""
    import torch

    import wandbkit.metrics

    model.eval()
    with torch.no_grad():
        loss, outputs = demo_model.loss(model, batch)
        metrics = wandbkit.metrics.compute_metrics(outputs, batch)
    model.train()
    # The sync is deliberate and rare (every eval_every steps): best-checkpoint selection needs it.
    return float(loss), {f"val/{k}" if "/" not in k else k: v for k, v in metrics.items()}
