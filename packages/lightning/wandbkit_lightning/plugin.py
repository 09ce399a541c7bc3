"""wandbkit entry point of wandbkit-lightning: the ``lightning`` stage of ``wandbkit demo``."""

from __future__ import annotations

from typing import Any

from wandbkit import hookimpl


@hookimpl
def wandbkit_register_demo_stages(register: Any) -> None:
    """Register the demo's ``lightning`` stage (order 45): a tiny LightningModule trained with
    ``WandbkitLogger`` and a ``ModelCheckpoint``, then resumed from ``best``."""
    from wandbkit.demo import DemoStage

    register(DemoStage(name="lightning", title="train a tiny LightningModule with WandbkitLogger",
                       order=45, run=run_lightning_stage))


def run_lightning_stage(ctx: Any) -> dict[str, Any]:
    """Train, register checkpoints as versions, resume from ``best``; return the facts."""
    from wandbkit_lightning.demo import lightning_demo

    return lightning_demo(ctx)
