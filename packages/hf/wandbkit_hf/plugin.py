"""wandbkit entry point of wandbkit-hf: the ``hf`` stage of ``wandbkit demo``."""

from __future__ import annotations

from typing import Any

from wandbkit import hookimpl


@hookimpl
def wandbkit_register_demo_stages(register: Any) -> None:
    """Register the demo's ``hf`` stage (order 40): fine-tune a tiny GPT-2 through the callback."""
    from wandbkit.demo import DemoStage

    register(DemoStage(name="hf", title="fine-tune a tiny HF GPT-2 through WandbkitCallback",
                       order=40, run=run_hf_stage))


def run_hf_stage(ctx: Any) -> dict[str, Any]:
    """Train the tiny GPT-2 with the Trainer and ``WandbkitCallback``; return the run, the final
    loss and the checkpoint versions it registered."""
    from wandbkit_hf.demo import hf_demo

    return hf_demo(ctx)
