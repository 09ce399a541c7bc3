"""The workspace's data, shaped in plain functions (no gradio, no browser).

The browser draws; everything it draws is decided here: which charts exist and in which
section (:func:`sections`), each run's colour (:func:`run_colors`), and per chart the lines —
runs, x, y and the min-max band of each downsampled bucket (:func:`chart_lines`), grouped runs
as their mean with a min-max band (:func:`group_lines`), a histogram key as a distribution over
steps (:func:`histogram_over_steps`). :func:`workspace_data` answers one request of the page:
the first load (every point bucketed to about the chart's width) or a live tick (only what was
written after the page's cursor per run, through ``Store.columns(since=)``).
"""

from __future__ import annotations

import base64
import colorsys
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wandbkit.errors import UserError
from wandbkit.store import RunRecord, Series, Store

DEFAULT_SECTION = "Charts"
X_STEP, X_RELATIVE, X_WALL = "step", "relative time", "wall time"
BASE_X = (X_STEP, X_RELATIVE, X_WALL)
MEDIA_CHART_KINDS = ("image", "histogram")
# W&B's run colours, in its order; runs beyond them get evenly spread hues.
PALETTE = ("#5387dd", "#da4c4c", "#479a5f", "#7d54b2", "#e87b9f", "#229487", "#a46750",
           "#e5ae38", "#5ac5db", "#7a7a7a", "#a0c75c", "#c565c7", "#f0894e", "#2f5ea8",
           "#8f1f1f", "#1f6b3a", "#4b2d7a", "#b3477a", "#0f5c55", "#6b4435")


# --- layout ----------------------------------------------------------------------------------


def section_of(key: str) -> str:
    """The section a key's chart goes in: the prefix before the first ``/`` (``train/loss``
    -> ``train``), or :data:`DEFAULT_SECTION` for a key without one."""
    prefix, sep, rest = key.partition("/")
    return prefix if sep and prefix and rest else DEFAULT_SECTION


def _natural(text: str) -> list[Any]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text)]


def sections(keys: Iterable[str]) -> list[tuple[str, list[str]]]:
    """Charts in sections as W&B's default workspace lays them out: the un-prefixed
    "Charts" section first, then the others by name, ``system`` last; charts by key in each,
    numbers in keys in numeric order (``layer2`` before ``layer10``).

    Keys starting with ``_`` (W&B's internal ones) get no chart.
    """
    found: dict[str, list[str]] = {}
    for key in dict.fromkeys(keys):
        if key and not key.startswith("_"):
            found.setdefault(section_of(key), []).append(key)

    def rank(name: str) -> tuple[int, list[Any]]:
        return (0 if name == DEFAULT_SECTION else 2 if name.lower() == "system" else 1,
                _natural(name))

    return [(name, sorted(found[name], key=_natural)) for name in sorted(found, key=rank)]


def filter_charts(keys: Iterable[str], query: str) -> list[str]:
    """Keys whose name matches the search box: a regular expression when ``query`` is one,
    else a case-insensitive substring (as W&B's panel search)."""
    query = query.strip()
    if not query:
        return list(keys)
    try:
        pattern = re.compile(query, re.IGNORECASE)
    except re.error:
        pattern = re.compile(re.escape(query), re.IGNORECASE)
    return [k for k in keys if pattern.search(k)]


def run_colors(runs: Iterable[RunRecord]) -> dict[str, str]:
    """One colour per run, the same in every chart: by start order (oldest first), so toggling
    or filtering runs never moves a colour and a new run takes the next one."""
    ordered = sorted(runs, key=lambda r: (r.started_at, r.id))
    colors = {}
    for i, run in enumerate(ordered):
        if i < len(PALETTE):
            colors[run.id] = PALETTE[i]
        else:  # golden-angle hues: neighbours stay apart however many runs there are
            r, g, b = colorsys.hls_to_rgb((i * 0.618034) % 1.0, 0.45, 0.65)
            colors[run.id] = f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"
    return colors


def config_text(config: dict[str, Any]) -> str:
    """A run's config as ``key=value`` words, for the runs filter's text search."""
    return " ".join(f"{k}={v}" for k, v in sorted(config.items()))


def group_value(run: RunRecord, group_by: str) -> str:
    """The group a run falls in when grouping by ``group`` or a config key (``"(none)"``
    when the run has no value)."""
    if group_by == "group":
        value = run.group
    else:
        value = run.config.get(group_by)
    return "(none)" if value is None or value == "" else str(value)


def config_diff(runs: list[RunRecord]) -> tuple[list[str], list[list[str]]]:
    """Configs side by side, only the keys whose values differ between ``runs``.

    :returns: ``(header, rows)``: ``key`` then one column per run (its name), one row per
        differing key (a key missing from a run shows as empty).
    """
    keys = sorted({k for r in runs for k in r.config}, key=_natural)
    missing = object()
    rows = []
    for key in keys:
        values = [r.config.get(key, missing) for r in runs]
        if len({repr(v) for v in values}) > 1:
            rows.append([key, *("" if v is missing else str(v) for v in values)])
    header = ["key", *(r.name or r.id for r in runs)]
    return header, rows


# --- lines -----------------------------------------------------------------------------------


@dataclass
class Line:
    """One run's (or group's) line in one chart: x, y and each point's bucket min and max.

    ``lo``/``hi`` are None when every point is one logged value (nothing was bucketed).
    """

    x: np.ndarray
    y: np.ndarray
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None
    steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def x_values(series: Series, x_axis: str, start: float, x_series: Series | None = None
             ) -> np.ndarray:
    """The x of each point: its step, seconds since the run started, wall time (unix
    seconds), or the value of another logged metric (``epoch``) at that step (interpolated
    between the steps it was logged at; NaN outside them)."""
    if x_axis == X_STEP:
        return series.steps.astype(np.float64)
    if x_axis == X_RELATIVE:
        return series.times - start
    if x_axis == X_WALL:
        return series.times.astype(np.float64)
    if x_series is None or not len(x_series.steps):
        return np.full(len(series.steps), np.nan)
    order = np.argsort(x_series.steps, kind="stable")
    xs, xv = x_series.steps[order].astype(np.float64), x_series.values[order]
    ok = np.isfinite(xv)
    if not ok.any():
        return np.full(len(series.steps), np.nan)
    out = np.interp(series.steps.astype(np.float64), xs[ok], xv[ok])
    out[(series.steps < xs[ok][0]) | (series.steps > xs[ok][-1])] = np.nan
    return out


def chart_line(series: Series, x_axis: str, start: float, x_series: Series | None = None) -> Line:
    """A chart's line for one run from its (maybe bucketed) series; the band is kept only
    where a bucket held more than one value."""
    x = x_values(series, x_axis, start, x_series)
    banded = not (np.array_equal(series.lo, series.values, equal_nan=True)
                  and np.array_equal(series.hi, series.values, equal_nan=True))
    return Line(x=x, y=series.values, lo=series.lo if banded else None,
                hi=series.hi if banded else None, steps=series.steps)


def chart_lines(store: Store, runs: list[RunRecord], keys: list[str], x_axis: str = X_STEP, *,
                max_points: int | None = 600, since: dict[str, int] | None = None
                ) -> tuple[dict[str, dict[str, Line]], dict[str, int]]:
    """Every chart's lines: ``{key: {run_id: Line}}`` and each run's cursor for the next
    live tick.

    :param x_axis: one of :data:`BASE_X` or a logged metric's key.
    :param max_points: buckets per line (about the chart's width in pixels); None for every
        point (a live tick's new rows).
    :param since: per run, the cursor the page already has: only points written after it.
    """
    since = since or {}
    metric_x = x_axis not in BASE_X
    wanted = [*keys, x_axis] if metric_x and x_axis not in keys else list(keys)
    lines: dict[str, dict[str, Line]] = {k: {} for k in keys}
    cursors: dict[str, int] = {}
    for run in runs:
        cols, cursors[run.id] = store.columns(run.id, wanted, max_points=max_points,
                                              since=int(since.get(run.id, 0)))
        x_series = cols.get(x_axis) if metric_x else None
        if metric_x and x_series is not None and since.get(run.id):
            # a tick's new points may come without a new x value: use the whole x column
            x_series = store.columns(run.id, [x_axis])[0].get(x_axis)
        for key in keys:
            if key in cols:
                lines[key][run.id] = chart_line(cols[key], x_axis, run.started_at, x_series)
    return lines, cursors


def group_lines(lines: dict[str, Line], groups: dict[str, str], points: int = 600
                ) -> dict[str, Line]:
    """Runs grouped as W&B groups them: per group, the mean of its runs' values on a common x
    grid, with the min and max across the runs as the band.

    :param lines: ``{run_id: Line}`` of one chart.
    :param groups: ``{run_id: group name}``; runs not in it are left out.
    :param points: grid points per group (each run interpolated on its own x range).
    """
    members: dict[str, list[Line]] = {}
    for run_id, line in lines.items():
        if run_id in groups:
            members.setdefault(groups[run_id], []).append(line)
    out: dict[str, Line] = {}
    for name, group in members.items():
        finite = [(ln.x[ok], ln.y[ok]) for ln in group
                  if (ok := np.isfinite(ln.x) & np.isfinite(ln.y)).any()]
        if not finite:
            continue
        lo_x = min(float(x.min()) for x, _ in finite)
        hi_x = max(float(x.max()) for x, _ in finite)
        grid = np.linspace(lo_x, hi_x, points) if hi_x > lo_x else np.array([lo_x])
        stack = np.full((len(finite), len(grid)), np.nan)
        for i, (x, y) in enumerate(finite):
            order = np.argsort(x, kind="stable")
            x, y = x[order], y[order]
            inside = (grid >= x[0]) & (grid <= x[-1])
            stack[i, inside] = np.interp(grid[inside], x, y)
        with np.errstate(invalid="ignore"), _quiet_nanwarnings():
            out[name] = Line(x=grid, y=np.nanmean(stack, axis=0), lo=np.nanmin(stack, axis=0),
                             hi=np.nanmax(stack, axis=0))
    return out


class _quiet_nanwarnings:
    """All-NaN columns (a grid point no run covers) stay NaN without a RuntimeWarning."""

    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: Any) -> None:
        self._ctx.__exit__(*exc)


# --- media -----------------------------------------------------------------------------------


def histogram_over_steps(entries: list[dict[str, Any]], bins: int = 48) -> dict[str, Any] | None:
    """A histogram key as W&B draws it over time: each logged step's counts re-binned onto
    one value grid spanning every step's edges, each step scaled to its own maximum.

    :param entries: the key's media entries of one run (``meta`` with ``counts`` and
        ``edges``), in step order.
    :returns: ``steps``, ``lo``/``hi`` (the value grid's range), ``bins`` and ``counts``
        (``steps x bins``, 0-1), or None when no entry has bins.
    """
    usable = [e for e in entries if len(e["meta"].get("edges", [])) >= 2
              and len(e["meta"].get("counts", [])) == len(e["meta"]["edges"]) - 1]
    if not usable:
        return None
    lo = min(float(e["meta"]["edges"][0]) for e in usable)
    hi = max(float(e["meta"]["edges"][-1]) for e in usable)
    if not hi > lo:
        hi = lo + 1.0
    grid = np.zeros((len(usable), bins))
    for i, entry in enumerate(usable):
        edges = np.asarray(entry["meta"]["edges"], dtype=np.float64)
        counts = np.asarray(entry["meta"]["counts"], dtype=np.float64)
        centres = (edges[:-1] + edges[1:]) / 2
        at = np.clip(((centres - lo) / (hi - lo) * bins).astype(int), 0, bins - 1)
        np.add.at(grid[i], at, counts)
        top = grid[i].max()
        if top > 0:
            grid[i] /= top
    return {"steps": [int(e["step"]) for e in usable], "lo": lo, "hi": hi, "bins": bins,
            "counts": [[round(float(v), 3) for v in row] for row in grid]}


def media_charts(store: Store, runs: list[RunRecord], media_url: Any) -> dict[str, Any]:
    """The workspace's media panels: ``{key: {"kind", "runs": {run_id: ...}}}``: an image
    key's logged steps and file URLs per run (the panel's slider moves between them), a
    histogram key's distribution over steps per run.

    :param media_url: turns a stored media path into the URL the page loads it from (it
        checks the file is inside the store, raising ``UserError`` otherwise).
    """
    out: dict[str, Any] = {}
    for run in runs:
        by_key: dict[str, list[dict[str, Any]]] = {}
        kinds: dict[str, str] = {}
        for entry in store.media(run.id):
            kind = entry["kind"]
            if kind == "video" and entry["meta"].get("format") == "gif":
                kind = "image"  # a GIF plays as an image
            if kind in MEDIA_CHART_KINDS:
                by_key.setdefault(entry["key"], []).append(entry)
                kinds[entry["key"]] = kind
        for key, entries in by_key.items():
            chart = out.setdefault(key, {"kind": kinds[key], "runs": {}})
            if chart["kind"] != kinds[key]:
                continue
            if kinds[key] == "histogram":
                shaped = histogram_over_steps(entries)
                if shaped is not None:
                    chart["runs"][run.id] = shaped
                continue
            frames = []
            for entry in entries:
                try:
                    url = media_url(entry["path"]) if entry.get("path") else None
                except UserError:
                    url = None
                if url:
                    frames.append({"step": int(entry["step"]), "url": url,
                                   "caption": str(entry["meta"].get("caption") or "")})
            if frames:
                chart["runs"][run.id] = frames
    return {k: v for k, v in out.items() if v["runs"]}


# --- one page request ------------------------------------------------------------------------


def _b64(values: np.ndarray | None, dtype: str) -> str | None:
    if values is None:
        return None
    return base64.b64encode(np.ascontiguousarray(values, dtype=dtype).tobytes()).decode("ascii")


def encode_line(line: Line) -> dict[str, Any]:
    """A line as the page reads it: little-endian float arrays in base64 (x in float64, so
    wall times keep their seconds; y and the band in float32, about 7 digits), a quarter of
    the bytes of JSON numbers and no per-number parsing in the browser."""
    return {"n": int(len(line.y)), "x": _b64(line.x, "<f8"), "y": _b64(line.y, "<f4"),
            "lo": _b64(line.lo, "<f4"), "hi": _b64(line.hi, "<f4")}


def run_meta(run: RunRecord, color: str) -> dict[str, Any]:
    """What the runs list needs of a run (text only; the page escapes it)."""
    return {"id": run.id, "name": run.name or run.id, "state": run.state, "group": run.group or "",
            "tags": list(run.tags), "config": config_text(run.config), "color": color,
            "started": run.started_at,
            "config_keys": sorted(k for k, v in run.config.items()
                                  if isinstance(v, (str, int, float, bool)))}


def _number(value: Any, what: str, default: int, lo: int, hi: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise UserError(f"{what} must be a whole number, got {value!r}") from None
    return min(max(number, lo), hi)


def workspace_data(store: Store, runs: list[RunRecord], request: dict[str, Any], *,
                   media_url: Any = None) -> dict[str, Any]:
    """Answer one request of the workspace page.

    :param runs: the runs the page may show (the dashboard's project, or one run's page).
    :param request: ``x`` (an x axis), ``keys`` (only these charts), ``width`` (points per
        line), ``group_by`` (``""``, ``group`` or a config key), ``tick`` (a live tick:
        for the runs in ``cursors``, ``{run_id: cursor}``, only what was written after them;
        runs not in ``known``, the ids the page has, whole, so new runs appear).
    :returns: ``runs`` (meta), ``sections``, ``lines`` (``{key: {run_id|group: encoded}}``),
        ``cursors``, ``media`` (first load only), ``x``, ``grouped``, ``points``, ``bytes``.
    :raises UserError: for an x axis that is not logged or a malformed request.
    """
    if not isinstance(request, dict):
        raise UserError("a workspace request is a JSON object")
    x_axis = str(request.get("x") or X_STEP)
    width = _number(request.get("width"), "width", 600, 16, 4000)
    group_by = str(request.get("group_by") or "")
    cursors_in = request.get("cursors") or {}
    known = set(request.get("known") or [])
    colors = run_colors(runs)
    by_id = {r.id: r for r in runs}
    keys: list[str] = []
    for run in runs:
        keys.extend(k for k in store.keys(run.id) if k not in keys)
    chart_keys = [k for _, ks in sections(keys) for k in ks]
    if request.get("keys"):  # one chart's own x axis (its settings override the workspace's)
        chart_keys = [k for k in request["keys"] if k in chart_keys]
    if x_axis not in BASE_X and x_axis not in keys:
        raise UserError(f"x axis {x_axis!r} is not a logged metric of these runs")
    tick = bool(request.get("tick")) and not group_by
    lines: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in chart_keys}
    cursors: dict[str, int] = {}
    points = 0
    if tick:
        live = [by_id[r] for r in cursors_in if r in by_id]
        since = {r: int(c) for r, c in cursors_in.items() if r in by_id}
        fresh = [r for r in runs if r.id not in known and r.id not in since]
        parts = [(live, since, None), (fresh, {}, width)]
    else:
        parts = [(runs, {}, width)]
    for chosen, since, max_points in parts:
        if not chosen:
            continue
        found, got = chart_lines(store, chosen, chart_keys, x_axis, max_points=max_points,
                                 since=since)
        cursors.update(got)
        if group_by:
            groups = {r.id: group_value(r, group_by) for r in chosen}
            for key, per_run in found.items():
                for name, line in group_lines(per_run, groups, width).items():
                    lines[key][name] = encode_line(line)
                    points += len(line.y)
            continue
        for key, per_run in found.items():
            for run_id, line in per_run.items():
                lines[key][run_id] = encode_line(line)
                points += len(line.y)
    out: dict[str, Any] = {
        "runs": [run_meta(r, colors[r.id]) for r in runs],
        "sections": sections(keys), "lines": {k: v for k, v in lines.items() if v},
        "cursors": cursors, "x": x_axis, "grouped": group_by, "points": points,
        "x_choices": [*BASE_X, *sorted((k for k in keys if not k.startswith("_")), key=_natural)],
    }
    if group_by:
        names = sorted({group_value(r, group_by) for r in runs}, key=_natural)
        out["groups"] = [{"id": n, "name": n, "color": PALETTE[i % len(PALETTE)],
                          "runs": sum(group_value(r, group_by) == n for r in runs)}
                         for i, n in enumerate(names)]
    if not tick and media_url is not None:
        out["media"] = media_charts(store, runs, media_url)
    return out

