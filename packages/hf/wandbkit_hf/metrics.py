"""``compute_metrics`` for ``Trainer``: every metric installed plugins register, in one call.

``Trainer(compute_metrics=wandbkit_hf.compute_metrics)`` runs each metric registered through
``wandbkit_register_metrics`` on the evaluation's predictions. A metric's ``fn(outputs, batch)``
gets ``outputs`` with ``logits`` (the predictions, as a torch tensor) and ``batch`` with
``labels`` and, when ``TrainingArguments(include_for_metrics=["inputs"])``, ``input_ids``;
both are dicts that also allow attribute access (``outputs.logits``), like HF's model outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


class Fields(dict):  # type: ignore[type-arg]
    """A dict whose keys are also attributes (``outputs["logits"]`` or ``outputs.logits``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _tensor(value: Any) -> Any:
    if value is None:
        return None
    import torch

    if isinstance(value, (tuple, list)):  # (logits, past_key_values, ...): the first is logits
        value = value[0]
    return value if isinstance(value, torch.Tensor) else torch.as_tensor(value)


def _number(value: Any) -> float | None:
    if hasattr(value, "numel"):
        if value.numel() != 1:
            return None
        value = value.item()
    elif hasattr(value, "item") and getattr(value, "size", 1) == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def make_compute_metrics(names: Iterable[str] | None = None,
                         preprocess: Callable[[Any], Any] | None = None
                         ) -> Callable[[Any], dict[str, float]]:
    """A ``Trainer(compute_metrics=...)`` running the registered metrics (all, or ``names``).

    :param names: only these registered metrics (an unknown name raises ``UserError`` listing
        what is installed).
    :param preprocess: maps the logits before the metrics see them (e.g. ``argmax``); for large
        vocabularies prefer ``Trainer(preprocess_logits_for_metrics=...)``, which runs per batch.
    """
    wanted = list(names) if names is not None else None

    def compute(eval_pred: Any) -> dict[str, float]:
        from wandbkit.metrics import compute_metrics as run_metrics

        logits = _tensor(eval_pred.predictions)
        if preprocess is not None:
            logits = preprocess(logits)
        outputs = Fields(logits=logits)
        batch = Fields(labels=_tensor(eval_pred.label_ids),
                       input_ids=_tensor(getattr(eval_pred, "inputs", None)))
        values = run_metrics(outputs, batch, wanted)
        return {k: n for k, v in values.items() if (n := _number(v)) is not None}

    return compute


def compute_metrics(eval_pred: Any) -> dict[str, float]:
    """Run every registered metric on an ``EvalPrediction``; returns ``{name: float}``.

    Hand it to ``Trainer(compute_metrics=wandbkit_hf.compute_metrics)``; the Trainer prefixes
    the names (``eval_vqa/accuracy``), which the callback logs as ``eval/vqa/accuracy``.
    """
    return make_compute_metrics()(eval_pred)
