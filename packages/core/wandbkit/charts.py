"""``wandb.plot``'s charts: a table plus the W&B chart (a Vega preset) that draws it.

Each function builds the same table wandb's does (same columns, same values) and names the
same preset, so a chart logged here looks on W&B as one logged by wandb: the W&B sink writes the
table under ``<key>_table`` (``Custom Chart Tables/<key>_table`` with ``split_table``) and the
chart's settings into the run's config under ``_wandb.visualize.<key>``. The local store keeps
the chart under the key it was logged with, and the dashboard draws it.

``pr_curve`` and ``roc_curve`` compute their curves with numpy exactly as scikit-learn does
(wandb calls scikit-learn), rounded to 3 decimals as wandb rounds them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from wandbkit.media import CustomChart, Table

MAX_ROWS = 10_000  # wandb.Table.MAX_ROWS: wandb resamples longer curves to this many rows


def plot_table(vega_spec_name: str, data_table: Table, fields: dict[str, Any],
               string_fields: dict[str, Any] | None = None, split_table: bool = False) -> CustomChart:
    """``wandb.plot_table``: a chart of ``data_table`` drawn by the W&B preset ``vega_spec_name``.

    :raises ValueError: when ``data_table`` is not a :class:`wandbkit.Table`.
    """
    if not isinstance(data_table, Table):
        raise ValueError(f"plot_table needs a wandbkit.Table, got {type(data_table).__name__}")
    return CustomChart(data_table, vega_spec_name, dict(fields), dict(string_fields or {}),
                       split_table)


def line(table: Table, x: str, y: str, stroke: str | None = None, title: str = "",
         split_table: bool = False) -> CustomChart:
    """``wandb.plot.line``: a line of column ``y`` against ``x``."""
    return plot_table("wandb/line/v0", table, {"x": x, "y": y, "stroke": stroke},
                      {"title": title}, split_table)


def scatter(table: Table, x: str, y: str, title: str = "", split_table: bool = False) -> CustomChart:
    """``wandb.plot.scatter``: points of ``y`` against ``x``."""
    return plot_table("wandb/scatter/v0", table, {"x": x, "y": y}, {"title": title}, split_table)


def bar(table: Table, label: str, value: str, title: str = "", split_table: bool = False) -> CustomChart:
    """``wandb.plot.bar``: one bar per ``label`` of height ``value``."""
    return plot_table("wandb/bar/v0", table, {"label": label, "value": value}, {"title": title},
                      split_table)


def histogram(table: Table, value: str, title: str = "", split_table: bool = False) -> CustomChart:
    """``wandb.plot.histogram``: the distribution of column ``value``."""
    return plot_table("wandb/histogram/v0", table, {"value": value}, {"title": title}, split_table)


def line_series(xs: Iterable[Iterable[Any]] | Iterable[Any], ys: Iterable[Iterable[Any]],
                keys: Iterable[str] | None = None, title: str = "", xname: str = "x",
                split_table: bool = False) -> CustomChart:
    """``wandb.plot.line_series``: several lines, one per ``keys`` entry (one shared ``xs`` or
    one per line).

    :raises ValueError: when the numbers of x-series, y-series and keys differ.
    """
    xs, ys = list(xs), [list(y) for y in ys]
    if not xs or not isinstance(xs[0], Iterable) or isinstance(xs[0], (str, bytes)):
        xs = [xs] * len(ys)
    if len(xs) != len(ys):
        raise ValueError(f"Number of x-series ({len(xs)}) must match y-series ({len(ys)}).")
    keys = [f"line_{i}" for i in range(len(ys))] if keys is None else list(keys)
    if len(keys) != len(ys):
        raise ValueError(f"Number of keys ({len(keys)}) must match y-series ({len(ys)}).")
    data = [[x, keys[i], y] for i, (xx, yy) in enumerate(zip(xs, ys, strict=False))
            for x, y in zip(xx, yy, strict=False)]
    return plot_table("wandb/lineseries/v0", Table(columns=["step", "lineKey", "lineVal"], data=data),
                      {"step": "step", "lineKey": "lineKey", "lineVal": "lineVal"},
                      {"title": title, "xname": xname}, split_table)


def confusion_matrix(probs: Sequence[Sequence[float]] | None = None, y_true: Sequence[Any] | None = None,
                     preds: Sequence[Any] | None = None, class_names: Sequence[str] | None = None,
                     title: str = "Confusion Matrix Curve", split_table: bool = False) -> CustomChart:
    """``wandb.plot.confusion_matrix``: counts of (actual, predicted) classes, from ``preds``
    or the argmax of ``probs``.

    :raises ValueError: as wandb's does (both ``probs`` and ``preds``, lengths that differ,
        more classes than ``class_names``).
    """
    if probs is not None and preds is not None:
        raise ValueError("Only one of `probs` or `preds` should be provided, not both.")
    if probs is not None:
        preds = np.argmax(probs, axis=1).tolist()
    if preds is None or y_true is None or len(preds) != len(y_true):
        raise ValueError("The number of predictions and true labels must be equal.")
    if class_names is not None:
        n_classes = len(class_names)
        class_idx: Any = list(range(n_classes))
        if len(set(preds)) > len(class_names):
            raise ValueError("The number of unique predicted classes exceeds the number of class names.")
        if len(set(y_true)) > len(class_names):
            raise ValueError("The number of unique true labels exceeds the number of class names.")
    else:
        class_idx = set(preds).union(set(y_true))
        n_classes = len(class_idx)
        class_names = [f"Class_{i + 1}" for i in range(n_classes)]
    mapping = {value: i for i, value in enumerate(sorted(class_idx))}
    counts = np.zeros((n_classes, n_classes))
    for actual, predicted in zip(y_true, preds, strict=True):
        counts[mapping[actual], mapping[predicted]] += 1
    data = [[class_names[i], class_names[j], counts[i, j]] for i in range(n_classes)
            for j in range(n_classes)]
    return plot_table("wandb/confusion_matrix/v1",
                      Table(columns=["Actual", "Predicted", "nPredictions"], data=data),
                      {"Actual": "Actual", "Predicted": "Predicted", "nPredictions": "nPredictions"},
                      {"title": title}, split_table)


def _binary_clf_curve(y_true: np.ndarray, y_score: np.ndarray, pos_label: Any
                      ) -> tuple[np.ndarray, np.ndarray]:
    """False and true positives at each distinct score, highest first (scikit-learn's)."""
    positive = y_true == pos_label
    order = np.argsort(y_score, kind="mergesort")[::-1]
    y_score, positive = y_score[order], positive[order]
    distinct = np.where(np.diff(y_score))[0]
    idx = np.r_[distinct, positive.size - 1]
    tps = np.cumsum(positive, dtype=np.float64)[idx]
    return 1 + idx - tps, tps


def _class_label(classes: np.ndarray, i: int, labels: list[str] | None) -> Any:
    if labels is not None and (isinstance(classes[i], int) or isinstance(classes[0], np.integer)):
        return labels[classes[i]]
    label = classes[i]
    return label.item() if isinstance(label, np.generic) else label


def _curve_table(curves: dict[Any, tuple[np.ndarray, np.ndarray]], names: tuple[str, str]) -> Table:
    """Columns ``class`` and ``names`` (each class's two arrays, in that order: wandb's column
    order), values rounded as pandas' ``DataFrame.round`` (numpy's rounding) rounds them."""
    rows = [[label, float(a), float(b)] for label, (xs, ys) in curves.items()
            for a, b in zip(np.round(xs, 3), np.round(ys, 3), strict=True)]
    if len(rows) > MAX_ROWS:  # wandb resamples at random; keep every k-th point of each class
        from wandbkit.console import warn_once

        warn_once("curve-rows", f"a curve of {len(rows)} points is cut to {MAX_ROWS} rows (W&B's limit)")
        rows = rows[:: -(-len(rows) // MAX_ROWS)]
    return Table(columns=["class", *names], data=rows)


def pr_curve(y_true: Iterable[Any], y_probas: Any, labels: list[str] | None = None,
             classes_to_plot: list[Any] | None = None, interp_size: int = 21,
             title: str = "Precision-Recall Curve", split_table: bool = False) -> CustomChart:
    """``wandb.plot.pr_curve``: precision at ``interp_size`` recall levels per class (one-vs-rest
    on column ``i`` of ``y_probas`` for the ``i``-th class)."""
    y_true, y_probas = np.asarray(list(y_true)), np.asarray(y_probas)
    classes = np.unique(y_true)
    wanted = classes if classes_to_plot is None else classes_to_plot
    interp_recall = np.linspace(0, 1, interp_size)[::-1]
    curves = {}
    for i in np.where(np.isin(classes, wanted))[0]:
        fps, tps = _binary_clf_curve(y_true, y_probas[:, i], classes[i])
        precision = np.divide(tps, tps + fps, out=np.zeros_like(tps), where=(tps + fps) != 0)
        recall = np.ones_like(tps) if tps[-1] == 0 else tps / tps[-1]
        precision, recall = np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0]
        precision = np.maximum.accumulate(precision)[::-1]  # wandb's step, then reversed
        recall = recall[::-1]
        indices = np.searchsorted(recall, interp_recall, side="left")
        curves[_class_label(classes, i, labels)] = (precision[indices], interp_recall)
    return plot_table("wandb/area-under-curve/v0", _curve_table(curves, ("precision", "recall")),
                      {"x": "recall", "y": "precision", "class": "class"},
                      {"title": title, "x-axis-title": "Recall", "y-axis-title": "Precision"},
                      split_table)


def roc_curve(y_true: Sequence[Any], y_probas: Any, labels: list[str] | None = None,
              classes_to_plot: list[Any] | None = None, title: str = "ROC Curve",
              split_table: bool = False) -> CustomChart:
    """``wandb.plot.roc_curve``: true against false positive rate per class (one-vs-rest),
    with scikit-learn's ``drop_intermediate`` points removed as wandb's call does."""
    y_true, y_probas = np.asarray(list(y_true)), np.asarray(y_probas)
    classes = np.unique(y_true)
    wanted = classes if classes_to_plot is None else classes_to_plot
    curves = {}
    for i in np.where(np.isin(classes, wanted))[0]:
        fps, tps = _binary_clf_curve(y_true, y_probas[..., i], classes[i])
        if len(fps) > 2:
            keep = np.where(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])[0]
            fps, tps = fps[keep], tps[keep]
        fps, tps = np.r_[0, fps], np.r_[0, tps]
        fpr = fps / fps[-1] if fps[-1] > 0 else np.full_like(fps, np.nan)
        tpr = tps / tps[-1] if tps[-1] > 0 else np.full_like(tps, np.nan)
        curves[_class_label(classes, i, labels)] = (fpr, tpr)
    return plot_table("wandb/area-under-curve/v0", _curve_table(curves, ("fpr", "tpr")),
                      {"x": "fpr", "y": "tpr", "class": "class"},
                      {"title": title, "x-axis-title": "False positive rate",
                       "y-axis-title": "True positive rate"}, split_table)
