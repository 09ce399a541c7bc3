"""Dashboard panels contributed by plugins through ``wandbkit_dashboard_panels``.

Core defines what a tab receives (:class:`DashboardContext`) without importing gradio: the
dashboard package builds the app, and every tab, core's own included, is a :class:`Panel`.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wandbkit.errors import UserError

if TYPE_CHECKING:
    import numpy as np

    from wandbkit.store import RunRecord, Store

_TEMPLATE_CHARS = {ord(c): f"&#{ord(c)};" for c in "${}`*_[]\\|~"}

# ``downsample(x, y, n)`` returns the indices (into x and y) of at most ``n`` points to draw.
Downsampler = Callable[["np.ndarray", "np.ndarray", int], "np.ndarray"]


@dataclass(frozen=True)
class Panel:
    """One tab of ``wandbkit dashboard``.

    :param title: the tab's label.
    :param build: ``build(ctx)`` creates the tab's components inside the open layout (a
        ``gr.Tab`` is already open); ``ctx`` is a :class:`DashboardContext`. A build that raises
        shows an error box in its own tab; the other tabs keep working.
    :param order: tabs are sorted by it (core tabs use 0-50).
    """

    title: str
    build: Callable[[Any], None]
    order: int = 100


@dataclass(frozen=True)
class Series:
    """One metric of one run, as arrays of equal length (logging order).

    :param run_id: the run.
    :param key: the metric key.
    :param steps: ``int64`` steps.
    :param times: ``float64`` wall-clock times (seconds since the epoch).
    :param values: ``float64`` values; NaN where the logged value was NaN.
    :param total: points logged before downsampling (``len(values)`` when not downsampled).
    """

    run_id: str
    key: str
    steps: np.ndarray
    times: np.ndarray
    values: np.ndarray
    total: int

    @property
    def downsampled(self) -> bool:
        """True when fewer points are kept than were logged."""
        return len(self.values) < self.total


@dataclass
class DashboardContext:
    """What every dashboard tab's ``build(ctx)`` receives.

    :param store: the opened local :class:`wandbkit.store.Store` (read it; never write).
    :param project: the project filter the dashboard was started with (``--project``), or None
        for every project. :meth:`runs` applies it.
    :param refresh_s: seconds between refreshes for live views (``gr.Timer(ctx.refresh_s)``);
        0 turns auto-refresh off.
    :param max_points: the most points per series a chart should draw (see :meth:`series`).
    :param selection: a ``gr.State`` holding the list of run ids the user selected in the Runs
        tab (use it as an event input, or its ``.change`` event), or None outside the app.
    :param downsample: the app's downsampler (spike-keeping MinMaxLTTB); :meth:`series` uses it.
    :param shared: objects tabs publish for each other (the app puts nothing there that a tab
        must rely on).
    """

    store: Store
    project: str | None = None
    refresh_s: float = 5.0
    max_points: int = 2000
    selection: Any = None
    downsample: Downsampler | None = None
    shared: dict[str, Any] = field(default_factory=dict)

    @property
    def store_dir(self) -> Path:
        """The store's root folder: the only folder the dashboard serves files from."""
        return self.store.root

    def runs(self, project: str | None = None) -> list[RunRecord]:
        """Runs, newest first, of ``project`` (default: the dashboard's project filter)."""
        return self.store.runs(project=project or self.project)

    def run_choices(self) -> list[tuple[str, str]]:
        """``(label, run_id)`` pairs for a dropdown: ``"name (id)"``, newest first."""
        return [(f"{r.name or r.id} ({r.id})" if r.name and r.name != r.id else r.id, r.id)
                for r in self.runs()]

    def media_path(self, path: str | Path) -> Path:
        """``path`` resolved, if it is a file inside the store folder.

        Give every file a tab shows through this check: the dashboard serves nothing else.

        :raises UserError: when the path is outside the store (or a link leading out of it) or
            is not a file.
        """
        root = self.store_dir.resolve()
        candidate = Path(path)
        resolved = (candidate if candidate.is_absolute() else root / candidate).resolve()
        if not resolved.is_relative_to(root):
            raise UserError(f"{path} is outside the wandbkit store {root}: not served")
        if not resolved.is_file():
            raise UserError(f"{path} is not a file in the wandbkit store {root}")
        return resolved

    def series(self, run_id: str, keys: list[str], max_points: int | None = None) -> dict[str, Series]:
        """The numeric history of ``keys`` for one run, downsampled to at most ``max_points``
        per key (default :attr:`max_points`) when the app gave a downsampler.

        Keys the run never logged are left out; non-numeric values are skipped.
        """
        limit = max_points or self.max_points
        out: dict[str, Series] = {}
        for key, (steps, times, values) in self.store.series(run_id, keys).items():
            total = len(values)
            if self.downsample is not None and total > limit:
                keep = self.downsample(steps, values, limit)
                steps, times, values = steps[keep], times[keep], values[keep]
            out[key] = Series(run_id=run_id, key=key, steps=steps, times=times, values=values,
                              total=total)
        return out

    @staticmethod
    def escape(text: Any) -> str:
        """``text`` made safe for HTML/Markdown components (run names, tags, config, keys).

        Besides ``<>&"'``, the characters template engines and Markdown act on (``$ { } ` * _
        [ ] \\``) become character references, so a name shows as typed and runs nothing.
        """
        return html.escape(str(text), quote=True).translate(_TEMPLATE_CHARS)


def collect_panels() -> list[Panel]:
    """Every panel registered by installed plugins, sorted by ``order``."""
    from wandbkit.plugins import collect

    return sorted(collect("wandbkit_dashboard_panels"), key=lambda p: (p.order, p.title))
