"""The dashboard's data functions, without a browser: downsampling, smoothing, filters, CSV
and media lookups on real runs."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

import wandbkit
from wandbkit.errors import UserError
from wandbkit.panels import DashboardContext
from wandbkit.store import Store
from wandbkit_gradio import views
from wandbkit_gradio.downsample import minmax_lttb
from wandbkit_gradio.smoothing import ema


def test_minmax_lttb_keeps_spikes_and_bounds_points() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=200_000)
    y[123_457], y[7] = 80.0, -90.0
    x = np.arange(len(y))
    keep = minmax_lttb(x, y, 2000)
    assert len(keep) <= 2000 and np.all(np.diff(keep) > 0)
    assert 123_457 in keep and 7 in keep
    y[5000:5010] = np.nan  # non-finite values are never picked; the rest still is
    keep = minmax_lttb(x, y, 2000)
    assert np.isfinite(y[keep]).all() and 123_457 in keep
    rewound = np.concatenate([np.arange(100_000), np.arange(50_000, 150_000)])  # a rewind
    assert 123_457 in minmax_lttb(rewound, y, 2000)
    assert minmax_lttb(x[:10], y[:10], 2000).tolist() == list(range(10))


def test_ema_matches_the_debiased_formula() -> None:
    values = np.array([1.0, 2.0, math.nan, 4.0, math.inf])
    out = ema(values, 0.5)
    # by hand: last=0.5, 1.25 (skip NaN), 2.625; debias 0.5, 0.75, 0.875
    assert out[0] == pytest.approx(1.0) and out[1] == pytest.approx(1.25 / 0.75)
    assert math.isnan(out[2]) and out[3] == pytest.approx(2.625 / 0.875) and math.isnan(out[4])
    assert ema(values, 0.0)[1] == 2.0
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        ema(values, 1.0)


def _runs(root: Path) -> dict[str, str]:
    ids = {}
    for name, project, tags, group in (("a", "p1", ["x", "best"], "g"), ("b", "p1", ["x"], None),
                                       ("c", "p2", [], "g")):
        with wandbkit.init(project=project, name=name, tags=tags, group=group, mode="disabled",
                           config={"lr": 0.1 if name == "a" else 0.2}, dir=root,
                           flush_interval=0.01) as run:
            for step in range(30):
                run.log({"train/loss": 1 / (step + 1), "val/acc": step / 30,
                         "note": "=cmd|' /C calc'!A0" if step == 0 else "ok"}, step=step)
            ids[name] = run.id
    return ids


def test_filters_table_and_csv(offline_env: Path) -> None:
    ids = _runs(offline_env)
    store = Store.open(offline_env)
    runs = store.runs()
    assert views.filter_options(runs)["tags"] == ["best", "x"]
    assert [r.name for r in views.filter_runs(runs, tags=["x", "best"])] == ["a"]
    assert {r.name for r in views.filter_runs(runs, projects=["p1"])} == {"a", "b"}
    assert [r.name for r in views.filter_runs(runs, groups=["g"], projects=["p2"])] == ["c"]
    assert [r.name for r in views.filter_runs(runs, search="LR=0.1")] == ["a"]
    frame = views.runs_frame(runs)
    assert list(frame.columns[:8]) == views.RUN_COLUMNS
    assert frame.columns[8:].tolist()[:2] == ["train/loss", "val/acc"]  # loss first
    folder = offline_env / "csv"
    path = views.history_csv(store, [ids["a"], ids["c"]], folder)
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 60 and rows[0]["run_id"] == ids["a"] and rows[0]["train/loss"] == "1.0"
    assert rows[0]["note"].startswith("'=")  # a spreadsheet formula is quoted, not run
    with pytest.raises(UserError, match="select one or more runs"):
        views.history_csv(store, [], folder)


def test_csv_downloads_share_one_folder(offline_env: Path) -> None:
    """Each download used to leave its own temp folder behind; now one folder per dashboard
    holds only the latest file, and it goes with the dashboard."""
    import gc
    import tempfile

    ids = _runs(offline_env)
    ctx = DashboardContext(store=Store.open(offline_env))
    before = set(Path(tempfile.gettempdir()).glob("wandbkit-csv-*"))
    first = views.history_csv(ctx.store, [ids["a"]], views.csv_folder(ctx))
    second = views.history_csv(ctx.store, [ids["b"], ids["c"]], views.csv_folder(ctx))
    made = set(Path(tempfile.gettempdir()).glob("wandbkit-csv-*")) - before
    assert len(made) == 1 and first.parent == second.parent == made.pop()
    assert not first.exists() and [p.name for p in second.parent.iterdir()] == [second.name]
    folder = second.parent
    del ctx
    gc.collect()
    assert not folder.exists()


def test_media_slider_moves_between_logged_steps() -> None:
    assert views.step_slider([0, 100, 200]) == {"minimum": 0, "maximum": 200, "value": 200,
                                                "step": 100}
    assert views.step_slider([10, 40, 100])["step"] == 30
    assert views.step_slider([5]) == {"minimum": 5, "maximum": 6, "value": 5, "step": 1}
    assert views.step_slider([])["maximum"] == 1


def test_media_guard(offline_env: Path, tmp_path: Path) -> None:
    ids = _runs(offline_env)
    ctx = DashboardContext(store=Store.open(offline_env), downsample=minmax_lttb)
    # a media row pointing outside the store (a tampered database) is refused, not served
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"\x89PNG")
    with ctx.store._reader() as conn:
        conn.execute("INSERT INTO media VALUES (?,?,?,?,?,?,?)",
                     (ids["a"], 3, "img", "image", str(outside), "{}", 0.0))
    with pytest.raises(UserError, match="outside the wandbkit store"):
        views.media_at(ctx, ids["a"], "img", 10)
    assert views.media_at(ctx, ids["a"], "img", 2) is None
