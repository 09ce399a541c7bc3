"""W&B's hyperband early termination, as pure functions of a sweep file and its runs.

The rule W&B's controller applies (its open-source ``hyperband_stopping``), restated:

- **Bands**: from ``max_iter`` and ``s``, ``max_iter / eta``, ``/ eta`` again, ... ``s`` times
  while at least 1, truncated to integers, ascending; or from ``min_iter``, ``min_iter``,
  ``min_iter * eta``, ... (100 bands). ``eta`` defaults to 3.
- **A run's history** is the list of its valid values of the metric, in step order: a row
  without the metric, or with a value that is not a finite number (NaN, infinities, strings,
  booleans), is skipped. The iteration is the position in that list, not the logged step.
  For ``goal: maximize`` every value is negated, so lower is always better below.
- **A band's threshold** is taken over every run of the sweep whose history reaches the band
  (any state: finished, failed, stopped and running runs alike, the run being judged
  included): the values at that band (``history[band - 1]``), sorted, and the one at index
  ``int(len(values) / eta)`` (the top ``1/eta`` pass). No run reached it: no threshold (infinity).
- **Judged**: only runs in state ``running``, at the highest band their history has reached;
  none reached yet, never stopped. The value compared is the one at that band with ``strict``
  (W&B's default), else the best value so far. A run stops when that value is worse than
  (strictly above) the threshold.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wandbkit_sweeps.config import (
    Problem,
    SweepConfigError,
    _check_early_terminate,
    _check_metric,
    _Checker,
    parse_text,
    read_text,
)
from wandbkit_sweeps.config import (
    hyperband_bands as _bands_of,
)

RUNNING = "running"


@dataclass(frozen=True)
class Hyperband:
    """What the rule needs from a sweep file: checked, with W&B's defaults filled in."""

    metric: str
    maximize: bool
    bands: tuple[int, ...]
    eta: float
    strict: bool


def read_hyperband(sweep_config: Mapping[str, Any] | str | Path) -> Hyperband:
    """The hyperband settings of a sweep file (a dict, or a YAML/JSON path).

    Only ``metric`` and ``early_terminate`` are checked, as W&B's hyperband does.

    :raises SweepConfigError: naming the key when either is missing or malformed.
    """
    source = "<sweep>"
    data: Any = sweep_config
    if isinstance(sweep_config, (str, Path)):
        source = str(sweep_config)
        data, _ = parse_text(read_text(sweep_config), source)
    c = _Checker()
    if not isinstance(data, Mapping):
        raise SweepConfigError(source, [Problem("", "a sweep configuration must be a mapping of "
                                                    f"keys, got {type(data).__name__}")])
    metric = None
    if "metric" in data:
        metric = _check_metric(c, data["metric"])
    else:
        c.error("metric", "is required: hyperband compares runs by the sweep's metric")
    hyperband = None
    if "early_terminate" in data:
        hyperband = _check_early_terminate(c, data["early_terminate"])
    else:
        c.error("early_terminate", "is required: `{type: hyperband, min_iter: N}` or "
                "`{type: hyperband, max_iter: N, s: K}`")
    if c.errors or metric is None or hyperband is None:
        raise SweepConfigError(source, c.errors or [Problem("early_terminate", "not usable")])
    return Hyperband(metric=metric["name"], maximize=metric.get("goal") == "maximize",
                     bands=tuple(_bands_of(hyperband)), eta=float(hyperband["eta"]),
                     strict=hyperband["strict"] is True)


def hyperband_bands(sweep_config: Mapping[str, Any] | str | Path) -> list[int]:
    """The iterations (counts of valid metric values) at which W&B's hyperband judges runs.

    >>> hyperband_bands({"metric": {"name": "loss"},
    ...                  "early_terminate": {"type": "hyperband", "max_iter": 27, "s": 2}})
    [3, 9]
    """
    return list(read_hyperband(sweep_config).bands)


def is_valid_value(value: Any) -> bool:
    """A finite real number that is not a boolean: what W&B's hyperband counts."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(value)
    except (TypeError, ValueError, OverflowError):
        return False


def metric_history(rows: Iterable[Mapping[str, Any]], metric: str) -> list[float]:
    """The valid values of ``metric`` in ``rows``, in order (see :func:`is_valid_value`)."""
    return [float(row[metric]) for row in rows
            if isinstance(row, Mapping) and metric in row and is_valid_value(row[metric])]


def thresholds(hb: Hyperband, histories: Iterable[Sequence[float]]) -> list[float]:
    """Each band's threshold over ``histories`` (already oriented: lower is better)."""
    histories = [h for h in histories if h]
    out = []
    for band in hb.bands:
        values = sorted(h[band - 1] for h in histories if len(h) >= band)
        # W&B's index, computed as it does (1/eta, then times the count) so rounding agrees
        out.append(values[int((1.0 / hb.eta) * len(values))] if values else math.inf)
    return out


def should_stop(hb: Hyperband, history: Sequence[float], limits: Sequence[float]) -> bool:
    """Whether a running run with this oriented ``history`` is stopped, given the thresholds."""
    # W&B walks the bands in order and stops at the first one not reached
    band, limit = 0, math.inf
    for b, lim in zip(hb.bands, limits, strict=True):
        if b > len(history):
            break
        band, limit = b, lim
    if band == 0:  # no band reached yet
        return False
    value = history[band - 1] if hb.strict else min(history)
    return value > limit


def oriented(hb: Hyperband, rows: Iterable[Mapping[str, Any]]) -> list[float]:
    """A run's valid metric values, negated for ``maximize`` (lower is better)."""
    values = metric_history(rows, hb.metric)
    return [-v for v in values] if hb.maximize else values


def runs_to_stop(sweep_config: Mapping[str, Any] | str | Path,
                 runs: Iterable[Mapping[str, Any]]) -> list[str]:
    """The names of the runs W&B's hyperband stops now, in input order.

    :param sweep_config: the whole sweep file, as a dict or a YAML/JSON path; it needs
        ``metric`` and ``early_terminate`` (``type: hyperband``).
    :param runs: every run of the sweep, each a mapping with ``name``, ``state`` (``running``,
        ``finished``, ``failed``, ...; only ``running`` runs are stopped, every run counts for
        the thresholds) and ``history`` (the run's rows in step order, dicts that may hold the
        metric).
    :raises SweepConfigError: when the file has no usable ``metric`` or ``early_terminate``.
    """
    return decide(read_hyperband(sweep_config), runs)


def decide(hb: Hyperband, runs: Iterable[Mapping[str, Any]]) -> list[str]:
    """:func:`runs_to_stop` on settings already read (the agents read the file once)."""
    runs = list(runs)
    histories = [oriented(hb, run.get("history") or ()) for run in runs]
    limits = thresholds(hb, histories)
    return [str(run.get("name")) for run, history in zip(runs, histories, strict=True)
            if run.get("state") == RUNNING and should_stop(hb, history, limits)]
