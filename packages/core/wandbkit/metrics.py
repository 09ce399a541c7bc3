"""Metrics contributed by plugins through ``wandbkit_register_metrics``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Metric:
    """A named function ``fn(outputs, batch) -> dict[str, value]``.

    Values may be device tensors: ``run.log`` converts them off the training thread.
    """

    name: str
    fn: Callable[[Any, Any], dict[str, Any]]
    description: str = ""


def available_metrics() -> dict[str, Metric]:
    """Every registered metric by name."""
    from wandbkit.plugins import collect

    return {m.name: m for m in collect("wandbkit_register_metrics")}


def compute_metrics(outputs: Any, batch: Any, names: Iterable[str] | None = None) -> dict[str, Any]:
    """Run the registered metrics (all, or those in ``names``) and merge their values.

    A metric that raises is reported once by the plugin registry and skipped.
    """
    from wandbkit.errors import UserError
    from wandbkit.plugins import report_failure

    metrics = available_metrics()
    if names is not None:
        wanted = list(names)
        unknown = [n for n in wanted if n not in metrics]
        if unknown:
            raise UserError(f"unknown metric(s) {unknown}; installed: {sorted(metrics)}")
        metrics = {n: metrics[n] for n in wanted}
    out: dict[str, Any] = {}
    for metric in metrics.values():
        try:
            out.update(metric.fn(outputs, batch))
        except Exception as exc:  # a broken metric must not kill training
            report_failure(f"metric {metric.name}", exc)
    return out
