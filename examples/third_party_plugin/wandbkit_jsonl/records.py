"""Where a run's JSON-lines file lives and how values become JSON."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any


def jsonl_path(store_root: Path, run_id: str) -> Path:
    """``<store root>/jsonl/<run id>.jsonl``: next to the local store, one file per run."""
    return Path(store_root) / "jsonl" / f"{run_id}.jsonl"


def jsonable(value: Any) -> Any:
    """A logged value as plain JSON: NaN/Inf as strings, media as a small description."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # 'nan', 'inf', '-inf': strict JSON has no such numbers
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    kind = type(value).__name__
    if kind == "Histogram":
        return {"_type": "histogram", **jsonable(value.to_dict())}
    if kind == "Image":
        return {"_type": "image", "shape": list(value.pixels.shape), "caption": value.caption}
    if kind == "Table":
        return {"_type": "table", "columns": value.columns, "rows": len(value.data)}
    return repr(value)
