"""Numeric history as arrays: picking a step range and downsampling to buckets by step.

Pure functions on numpy arrays (steps ``int64``, times and values ``float64``, in logging
order); the store reads the arrays and these shape them into a :class:`wandbkit.store.Series`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from wandbkit.store import Series


def in_step_range(steps: np.ndarray, step_min: int | None, step_max: int | None) -> np.ndarray | None:
    """A boolean mask of ``step_min <= steps <= step_max`` (either bound optional), or None
    when there is no bound."""
    if step_min is None and step_max is None:
        return None
    import numpy as np

    mask = np.ones(len(steps), dtype=bool)
    if step_min is not None:
        mask &= steps >= step_min
    if step_max is not None:
        mask &= steps <= step_max
    return mask


def shape_series(steps: np.ndarray, times: np.ndarray, values: np.ndarray, *,
                 step_min: int | None = None, step_max: int | None = None,
                 max_points: int | None = None) -> Series:
    """One key's points cut to a step range (inclusive) and, when more than ``max_points``
    remain, downsampled with :func:`bucket_by_step`; otherwise every point, ``lo == hi ==
    values``."""
    from wandbkit.store import Series

    mask = in_step_range(steps, step_min, step_max)
    if mask is not None:
        steps, times, values = steps[mask], times[mask], values[mask]
    if max_points is not None and len(steps) > max_points:
        return bucket_by_step(steps, times, values, max_points)
    return Series(steps=steps, times=times, values=values, lo=values, hi=values)


def bucket_by_step(steps: np.ndarray, times: np.ndarray, values: np.ndarray,
                   max_points: int) -> Series:
    """At most ``max_points`` points: the step range split into ``max_points`` equal buckets,
    empty ones dropped, in step order.

    Each bucket gives its last point's step and time (last in logging order), the mean of its
    finite values (NaN when it has none) and their minimum and maximum (``lo``/``hi``, NaN
    when none), so a single spike survives as a bucket's ``hi``.
    """
    import numpy as np

    from wandbkit.store import Series

    lo_step, hi_step = int(steps.min()), int(steps.max())
    width = hi_step - lo_step + 1
    offset = steps.astype(np.int64) - lo_step
    # Integer arithmetic (float bucket edges misplace steps beyond 2**53); for huge step ranges,
    # where offset * max_points would overflow, buckets of a whole number of steps instead.
    if width <= 2**62 // max_points:
        bucket = offset * max_points // width
    else:
        bucket = offset // -(-width // max_points)
    order = np.argsort(bucket, kind="stable")  # stable: logging order kept inside a bucket
    sorted_bucket = bucket[order]
    starts = np.flatnonzero(np.r_[True, sorted_bucket[1:] != sorted_bucket[:-1]])
    ends = np.r_[starts[1:], len(order)] - 1
    v = values[order]
    finite = np.isfinite(v)
    count = np.add.reduceat(finite.astype(np.int64), starts)
    total = np.add.reduceat(np.where(finite, v, 0.0), starts)
    lo = np.minimum.reduceat(np.where(finite, v, np.inf), starts)
    hi = np.maximum.reduceat(np.where(finite, v, -np.inf), starts)
    none = count == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    mean[none] = np.nan
    lo[none] = np.nan
    hi[none] = np.nan
    last = order[ends]
    return Series(steps=steps[last], times=times[last], values=mean, lo=lo, hi=hi)
