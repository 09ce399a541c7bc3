"""wandbkit-vlm: vision-language-model and ARR-COC metrics, vectorised in torch, and their pictures.

- :mod:`wandbkit_vlm.functional`: every formula as a plain batch-first function;
- :func:`vlm_metrics`: all metric groups over ``(outputs, batch)`` dicts (what the installed
  plugin registers through ``wandbkit_register_metrics``; see :mod:`wandbkit_vlm.metrics`);
- :func:`log_pictures`: heatmaps, patch selection, LOD/budget histograms, worst samples;
- :mod:`wandbkit_vlm.toy`: a toy ARR-COC model and synthetic VQA data.

Importing this package is cheap: torch loads on first use of a name.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {"vlm_metrics": "wandbkit_vlm.metrics", "GROUPS": "wandbkit_vlm.metrics",
            "log_pictures": "wandbkit_vlm.pictures", "heatmap_overlay": "wandbkit_vlm.pictures",
            "selection_overlay": "wandbkit_vlm.pictures", "lod_histogram": "wandbkit_vlm.pictures",
            "budget_histogram": "wandbkit_vlm.pictures", "worst_samples": "wandbkit_vlm.pictures"}

__all__ = ["GROUPS", "__version__", "budget_histogram", "heatmap_overlay", "lod_histogram", "log_pictures",
           "selection_overlay", "vlm_metrics", "worst_samples"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'wandbkit_vlm' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
