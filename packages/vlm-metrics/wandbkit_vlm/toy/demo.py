"""The toy model packaged for other code (``wandbkit demo``'s later stages, the example, tests).

:data:`DEMO_MODEL` is what the ``toy-model`` demo stage publishes as ``ctx.shared["demo_model"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from wandbkit_vlm.toy.data import QUESTION_LEN, ToyDataConfig, batches, make_batch
from wandbkit_vlm.toy.model import ToyARRCOC, ToyModelConfig, compute_loss


class SmokeToyARRCOC(nn.Module):
    """The toy model behind a one-tensor interface for ``wandbkit smoke``.

    ``wandbkit smoke`` feeds one input tensor per batch, so each row packs an image and its
    question: ``x = cat(pixels.flatten(), question_ids)`` (``[B, 3*S*S + 5]``, float); the output
    is the answer logits ``[B, 9]`` and the target the answer index.
    """

    def __init__(self, config: ToyModelConfig = ToyModelConfig()) -> None:
        super().__init__()
        self.model = ToyARRCOC(config)
        # The contrastive temperature only enters the training loss, not the answer logits.
        self.model.logit_scale.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Unpack the row into pixels and question ids, return the answer logits."""
        s = self.model.config.data.size
        pixels = x[:, :-QUESTION_LEN].reshape(-1, 3, s, s)
        question = x[:, -QUESTION_LEN:].round().long()
        return self.model(pixels, question)["answer_logits"]


def smoke_batch(n: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(inputs, targets)`` for :class:`SmokeToyARRCOC`: packed rows and answer indices."""
    batch = make_batch(n, torch.Generator().manual_seed(seed))
    packed = torch.cat([batch["pixel_values"].flatten(1), batch["question_ids"].float()], dim=1)
    return packed, batch["answer_ids"]


@dataclass(frozen=True)
class DemoModel:
    """The toy ARR-COC model as other stages use it.

    - ``build()`` -> a fresh ``nn.Module``;
    - ``batches(seed, batch_size)`` -> an endless iterator of batches (dicts of named tensors);
    - ``loss(model, batch)`` -> ``(loss, outputs)``; ``outputs``/``batch`` are what the
      registered vlm metrics read (``wandbkit.metrics.compute_metrics(outputs, batch)``);
    - ``log_pictures(run, model, batch, step)`` logs the relevance/attention overlays, the
      patch selection, the LOD and budget histograms and the worst samples;
    - ``smoke_data()`` -> ``(model_factory, data_factory)``, no-argument callables for
      ``wandbkit_torch.smoke.run_smoke`` (or ``wandbkit smoke --model M:smoke_model
      --data M:smoke_data`` with ``M=wandbkit_vlm.toy``), with ``smoke_overrides`` for its
      settings.
    """

    config: ToyModelConfig = ToyModelConfig()
    name: str = "toy ARR-COC VQA (shapes, 8x8 patches, top-16)"
    smoke_overrides: tuple[tuple[str, Any], ...] = (("lr_steps", 60),)
    """Smoke settings this model needs at least (``SmokeSettings(**dict(smoke_overrides))``):
    with fewer than ~60 LR-range steps (e.g. 30) the sweep is too short for it to fit even its
    one smoke batch, and ``lr_range`` reports "no learning rate lowered the loss by 10%"."""

    def build(self) -> nn.Module:
        """A freshly initialised toy model."""
        return ToyARRCOC(self.config)

    def batches(self, seed: int, batch_size: int,
                device: torch.device | str = "cpu") -> Iterator[dict[str, Any]]:
        """Endless seeded batches."""
        return batches(seed, batch_size, self.config.data, device)

    def loss(self, model: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, Any]]:
        """Training loss and the outputs the metrics read."""
        return compute_loss(model, batch)  # type: ignore[arg-type]

    def log_pictures(self, run: Any, model: nn.Module, batch: dict[str, Any],
                     step: int | None = None) -> dict[str, Any]:
        """Run the model on ``batch`` without gradients and log every picture at ``step``."""
        from wandbkit_vlm.pictures import log_pictures

        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                _, outputs = compute_loss(model, batch)  # type: ignore[arg-type]
        finally:
            model.train(was_training)
        return log_pictures(run, outputs, batch, step=step)

    def smoke_data(self) -> tuple[Callable[[], nn.Module], Callable[[], tuple[torch.Tensor, torch.Tensor]]]:
        """``(model_factory, data_factory)`` for the smoke checks."""
        return smoke_model, smoke_data


def smoke_model() -> nn.Module:
    """Model factory for ``wandbkit smoke``."""
    return SmokeToyARRCOC()


def smoke_data() -> tuple[torch.Tensor, torch.Tensor]:
    """Data factory for ``wandbkit smoke``: 16 packed examples (one smoke batch).

    The checks cycle through the examples; the toy needs ~50 steps before it starts to learn the
    task itself, so with more examples the short LR range test sees no fall. On one batch it
    checks what it can in that time: that some learning rate makes the model fit.
    """
    return smoke_batch(16)


DEMO_MODEL = DemoModel()
"""The instance the demo publishes."""

__all__ = ["DEMO_MODEL", "DemoModel", "SmokeToyARRCOC", "ToyDataConfig", "smoke_batch", "smoke_data",
           "smoke_model"]
