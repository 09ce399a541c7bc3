"""Numeric history as columns: packing one written batch of rows, and shaping what is read.

A batch (the rows one store write receives) becomes, per kind of value:

- one row-count chunk (key ``""``): the batch's steps and times, its first row's run-wide
  ordinal (``seq``), its largest step, and the batch's keys in order (JSON, in ``vals``);
- one chunk per key and value type: ``kind`` ``f`` (float64), ``i`` (int64) or ``b`` (bools,
  uint8), the values packed, and ``rows``, the uint32 indices of the rows that hold them in the
  batch (NULL when every row does); steps and times are the row-count chunk's;
- a residue row for each row that holds anything else (strings, ints beyond 64 bits): those
  values as JSON, or ``[keys, values]`` when the row's key order is not the batch's.

Rows whose keys and value types agree are packed together: one ``itemgetter`` and one
``numpy.array`` per group of rows and kind, no Python per value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from wandbkit.store import Series

ROWS_KEY = ""  # the key of a batch's row-count chunk (a logged key "" is kept as a residue)
KIND_OF = {float: "f", int: "i", bool: "b"}
DTYPE = {"f": "<f8", "i": "<i8", "b": "|u1"}
INT64 = (-(2**63), 2**63 - 1)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, allow_nan=True, default=repr)


@dataclass
class PackedBatch:
    """What one batch adds to the tables, and what the sink needs to know of it."""

    chunks: list[tuple[Any, ...]] = field(default_factory=list)  # history_columns rows
    residues: list[tuple[Any, ...]] = field(default_factory=list)  # history rows
    media: list[tuple[int, str, Any]] = field(default_factory=list)  # (index in rows, key, value)
    keys: list[str] = field(default_factory=list)  # the history keys, in the batch's order
    last_values: list[dict[str, Any]] = field(default_factory=list)  # summary updates, in order
    rows: int = 0  # history rows: rows with at least one value that is not media


@dataclass
class _Plan:
    """Rows of one batch with the same keys and the same value types, and how each key goes."""

    keys: tuple[str, ...]
    index: list[int] = field(default_factory=list)  # positions in the batch's rows
    numeric: dict[str, list[str]] = field(default_factory=dict)  # kind -> keys
    residue: list[str] = field(default_factory=list)
    media: list[str] = field(default_factory=list)
    history: list[str] = field(default_factory=list)  # every key but the media ones
    rows: list[int] = field(default_factory=list)  # positions among the history rows


def _plan(keys: tuple[str, ...], types: tuple[type, ...], media_types: tuple[type, ...]) -> _Plan:
    plan = _Plan(keys)
    for key, cls in zip(keys, types, strict=True):
        kind = KIND_OF.get(cls)
        if kind is not None and key != ROWS_KEY:
            plan.numeric.setdefault(kind, []).append(key)
        elif issubclass(cls, media_types):
            plan.media.append(key)
            continue
        else:
            plan.residue.append(key)
        plan.history.append(key)
    return plan


def pack_batch(run_id: str, seq: int, rows: list[Any], media_types: tuple[type, ...]) -> PackedBatch:
    """Pack ``rows`` (objects with ``step``, ``time`` and ``values``), the first history row
    of which is the run's row number ``seq``; values of ``media_types`` come back in ``media``.

    Write the chunks and residues in one transaction: together they always hold whole rows.
    """
    import numpy as np

    out = PackedBatch()
    plans: dict[tuple[Any, ...], _Plan] = {}
    plan: _Plan | None = None
    prev: tuple[Any, ...] = ()
    for i, row in enumerate(rows):
        values = row.values
        sig = (tuple(values), tuple(map(type, values.values())))
        if sig != prev:  # consecutive rows usually agree: one hash per change, not per row
            prev = sig
            plan = plans.get(sig)
            if plan is None:
                plan = plans[sig] = _plan(sig[0], sig[1], media_types)
        plan.index.append(i)  # type: ignore[union-attr]
    ordered = sorted(plans.values(), key=lambda p: p.index[-1])
    for p in ordered:
        if p.media:
            out.media.extend((i, k, rows[i].values[k]) for i in p.index for k in p.media)
    history = [p for p in ordered if p.history]
    if len(history) == len(ordered):
        for p in history:
            p.rows = p.index
        kept = rows
    else:  # rows holding only media are not history rows
        is_history = np.zeros(len(rows), dtype=bool)
        for p in history:
            is_history[p.index] = True
        number = np.cumsum(is_history) - 1
        for p in history:
            p.rows = number[p.index].tolist()
        kept = [r for r, h in zip(rows, is_history.tolist(), strict=True) if h]
    n = out.rows = len(kept)
    if n == 0:
        return out
    order = out.keys = _merge_orders([p.history for p in history])
    position = {k: i for i, k in enumerate(order)}
    segments: dict[tuple[str, str], list[tuple[Any, Any]]] = {}
    residue: dict[int, dict[str, Any]] = {}
    explicit: dict[int, list[str]] = {}
    for p in history:
        dicts = [kept[i].values for i in p.rows]
        at = np.asarray(p.rows, dtype=np.intp)
        for kind, keys in p.numeric.items():
            matrix = _matrix(dicts, keys, kind, len(keys) == len(p.keys))
            if matrix is None:  # an int beyond 64 bits: that key's values go one by one
                _split_big_ints(dicts, keys, p.rows, segments, residue)
                continue
            for j, key in enumerate(keys):
                segments.setdefault((key, kind), []).append((at, matrix[:, j]))
        if p.residue:
            get = itemgetter(*p.residue)
            for i, d in zip(p.rows, dicts, strict=True):
                got = get(d)
                residue.setdefault(i, {}).update(zip(p.residue, got, strict=True)
                                                 if len(p.residue) > 1 else ((p.residue[0], got),))
        places = [position[k] for k in p.history]
        if any(a > b for a, b in zip(places, places[1:], strict=False)):
            explicit.update((i, p.history) for i in p.rows)  # not the batch's key order: say so
        last = dicts[-1]
        out.last_values.append(last if not p.media else {k: last[k] for k in p.history})
    steps = np.fromiter((r.step for r in kept), dtype="<i8", count=n)
    times = np.fromiter((r.time for r in kept), dtype="<f8", count=n)
    out.chunks.append((run_id, ROWS_KEY, n, steps.tobytes(), times.tobytes(),
                       json.dumps(order).encode(), seq, None, None, int(steps.max())))
    for key in order:
        for kind in "fib":
            parts = segments.get((key, kind))
            if not parts:
                continue
            if len(parts) == 1:
                index, vals = parts[0]
            else:
                index = np.concatenate([a for a, _ in parts])
                vals = np.concatenate([v for _, v in parts])
                sort = np.argsort(index, kind="stable")
                index, vals = index[sort], vals[sort]
            out.chunks.append((run_id, key, len(index), b"", b"",
                               np.ascontiguousarray(vals, dtype=DTYPE[kind]).tobytes(), seq, kind,
                               None if len(index) == n else index.astype("<u4").tobytes(), None))
    for i in sorted(residue.keys() | explicit.keys()):
        data = residue.get(i, {})
        text = _dumps([explicit[i], data]) if i in explicit else _dumps(data)
        out.residues.append((run_id, kept[i].step, kept[i].time, text, seq + i))
    return out


def _merge_orders(orders: list[list[str]]) -> list[str]:
    """One key order that keeps each list's order where they agree (first seen first)."""
    if len(orders) == 1:
        return list(orders[0])
    merged: list[str] = []
    seen: set[str] = set()
    for keys in orders:
        prev = None
        for key in keys:
            if key not in seen:
                merged.insert(0 if prev is None else merged.index(prev) + 1, key)
                seen.add(key)
            prev = key
    return merged


def _matrix(dicts: list[dict[str, Any]], keys: list[str], kind: str, whole: bool) -> Any:
    """The ``len(dicts) x len(keys)`` array of those keys' values, built in C (``whole``: the
    keys are all of each row's keys, in order); None when an int does not fit in 64 bits."""
    import numpy as np

    if whole:
        flat = chain.from_iterable(map(dict.values, dicts))
    elif len(keys) == 1:
        flat = map(itemgetter(keys[0]), dicts)
    else:
        flat = chain.from_iterable(map(itemgetter(*keys), dicts))
    dtype = {"f": np.float64, "i": np.int64, "b": np.bool_}[kind]
    try:
        # fromiter: about 3x faster than numpy.array on a list of tuples
        matrix = np.fromiter(flat, dtype=dtype, count=len(dicts) * len(keys))
    except OverflowError:
        return None
    return matrix.reshape(len(dicts), len(keys))


def _split_big_ints(dicts: list[dict[str, Any]], keys: list[str], rows: list[int],
                    segments: dict[tuple[str, str], list[tuple[Any, Any]]],
                    residue: dict[int, dict[str, Any]]) -> None:
    """Int columns holding a value beyond 64 bits: those values are kept as residues (exact),
    the others packed."""
    import numpy as np

    lo, hi = INT64
    for key in keys:
        fit_at, fit = [], []
        for i, d in zip(rows, dicts, strict=True):
            value = d[key]
            if lo <= value <= hi:
                fit_at.append(i)
                fit.append(value)
            else:
                residue.setdefault(i, {})[key] = value
        if fit:
            segments.setdefault((key, "i"), []).append(
                (np.asarray(fit_at, dtype=np.intp), np.asarray(fit, dtype=np.int64)))


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
    if len(bucket) < 2 or bool(np.all(bucket[1:] >= bucket[:-1])):
        order = np.arange(len(bucket))  # steps that only go up (the usual run): no sort
        sorted_bucket, v = bucket, values
    else:
        order = np.argsort(bucket, kind="stable")  # stable: logging order kept inside a bucket
        sorted_bucket, v = bucket[order], values[order]
    starts = np.flatnonzero(np.r_[True, sorted_bucket[1:] != sorted_bucket[:-1]])
    ends = np.r_[starts[1:], len(order)] - 1
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


def unpack_batch(n: int, steps: bytes, order: bytes, chunks: list[tuple[str, str, bytes | None, bytes]],
                 residues: list[tuple[int, str]], start: int = 0) -> list[tuple[int, dict[str, Any]]]:
    """The rows of one packed batch from its row ``start`` on as ``(step, {key: value})``,
    every value of the type it was logged with, keys in logging order.

    ``chunks`` are the batch's ``(key, kind, rows, vals)``; ``residues`` its ``(index in the
    batch, data)``.
    """
    import numpy as np

    step_list = np.frombuffer(steps, dtype="<i8").tolist()
    keys = json.loads(order)
    cols: dict[str, list[tuple[list[int] | None, list[Any]]]] = {}
    for key, kind, rows, vals in chunks:
        values = np.frombuffer(vals, dtype=DTYPE[kind])
        cols.setdefault(key, []).append((
            None if rows is None else np.frombuffer(rows, dtype="<u4").tolist(),
            values.astype(bool).tolist() if kind == "b" else values.tolist()))
    by_key: dict[str, list[tuple[int, Any]]] = {}
    explicit: dict[int, list[str]] = {}
    for i, text in residues:
        data = json.loads(text)
        if isinstance(data, list):
            explicit[i], data = data
        for key, value in data.items():
            by_key.setdefault(key, []).append((i, value))
    if not by_key and not explicit and list(cols) == keys and all(
            len(c) == 1 and c[0][0] is None for c in cols.values()):
        lists = [cols[k][0][1][start:] for k in keys]  # the usual batch: every row, every key
        return list(zip(step_list[start:], (dict(zip(keys, row, strict=False)) for row in
                                            zip(*lists, strict=False)), strict=True))
    dicts: list[dict[str, Any]] = [{} for _ in range(n)]
    for key in keys:  # key by key, so each row's keys come in the batch's order
        for index, values in cols.get(key, ()):
            if index is None:
                for d, v in zip(dicts, values, strict=True):
                    d[key] = v
            else:
                for i, v in zip(index, values, strict=True):
                    dicts[i][key] = v
        for i, v in by_key.get(key, ()):
            dicts[i][key] = v
    for i, order_of_row in explicit.items():
        d = dicts[i]
        dicts[i] = {k: d[k] for k in order_of_row}
    return list(zip(step_list, dicts, strict=True))[start:]


def chunk_values(kind: str | None, vals: bytes) -> np.ndarray:
    """A chunk's values as float64 (bools 0/1); chunks written before kinds are float64."""
    import numpy as np

    values = np.frombuffer(vals, dtype=DTYPE.get(kind or "f", "<f8"))
    return values if values.dtype == np.float64 else values.astype(np.float64)
