"""Curve smoothing as W&B's charts do it."""

from __future__ import annotations

import numpy as np


def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """Debiased exponential moving average (W&B's and TensorBoard's "Exponential" smoothing).

    ``last = last * w + (1 - w) * v`` divided by ``1 - w**k`` (k: finite points so far), so the
    first points are not pulled toward zero. NaN and Inf points are skipped (they stay NaN
    in the output) and do not reset the average.

    :param values: shape ``(n,)``.
    :param weight: 0 (no smoothing) to just below 1 (heavy).
    :raises ValueError: for a weight outside ``[0, 1)``.
    """
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
    values = np.asarray(values, dtype=np.float64)
    if weight == 0.0 or len(values) == 0:
        return values.copy()
    out = np.full(len(values), np.nan)
    last = 0.0
    debias = 0.0
    # A plain loop over the (already downsampled, <= a few thousand) points: ~1 ms.
    for i, v in enumerate(values.tolist()):
        if v != v or v in (np.inf, -np.inf):
            continue
        last = last * weight + (1.0 - weight) * v
        debias = debias * weight + (1.0 - weight)
        out[i] = last / debias
    return out
