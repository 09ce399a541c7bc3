"""wandbkit hook implementations of wandbkit-vlm: its metrics, dashboard panel and demo stage.

Kept light: torch is imported only when a metric runs, gradio only when the panel is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wandbkit import hookimpl

if TYPE_CHECKING:
    from wandbkit.demo import DemoStage
    from wandbkit.metrics import Metric
    from wandbkit.panels import Panel


def _lazy_group(name: str) -> Callable[[Any, Any], dict[str, Any]]:
    def fn(outputs: Any, batch: Any) -> dict[str, Any]:
        from wandbkit_vlm.metrics import GROUPS

        return GROUPS[name](outputs, batch)

    fn.__name__ = name
    return fn


# Names and descriptions are repeated here (not imported) so registering never imports torch.
_GROUP_DESCRIPTIONS = {
    "vlm_language": "loss, perplexity and token accuracy from logits and labels",
    "vlm_answers": "official VQA accuracy, exact match, BLEU-4 and chrF",
    "vlm_encoder": "vision feature norms and effective rank",
    "vlm_alignment": "image-text cosine, in-batch recall@1/5, alignment, uniformity",
    "vlm_relevance": "ARR-COC relevance maps, weights and their agreement",
    "vlm_allocation": "token budgets, LOD distribution, compression, fidelity, geometry",
    "vlm_attention": "attention entropy and recall on selected patches",
}


@hookimpl
def wandbkit_register_metrics(register: Callable[[Metric], None]) -> None:
    """One metric per group; each skips (returns ``{}``) when its inputs are not in the batch."""
    from wandbkit.metrics import Metric

    for name, description in _GROUP_DESCRIPTIONS.items():
        register(Metric(name=name, fn=_lazy_group(name), description=description))


@hookimpl
def wandbkit_dashboard_panels(register: Callable[[Panel], None]) -> None:
    """The "VLM" tab: relevance, selection and budget pictures per step, with a step slider."""
    from wandbkit.panels import Panel
    from wandbkit_vlm.panel import build_panel

    register(Panel(title="VLM", build=build_panel, order=60))


@hookimpl
def wandbkit_register_demo_stages(register: Callable[[DemoStage], None]) -> None:
    """The ``toy-model`` stage (order 5): publishes ``shared["demo_model"]`` for later stages."""
    from wandbkit.demo import DemoStage
    from wandbkit_vlm.demo_stage import run_toy_model_stage

    register(DemoStage(name="toy-model", title="the toy ARR-COC vision-language model and its metrics",
                       order=5, run=run_toy_model_stage))
