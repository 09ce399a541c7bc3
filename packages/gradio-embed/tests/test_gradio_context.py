"""The panel context core gives every dashboard tab, and the store's fast history read path."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import wandbkit
from wandbkit.errors import UserError
from wandbkit.panels import DashboardContext
from wandbkit.store import Store


def _log_run(name: str, steps: int, project: str = "ctx") -> str:
    with wandbkit.init(project=project, name=name, mode="disabled", flush_interval=0.01) as run:
        for step in range(steps):
            run.log({"train/loss": 1.0 / (step + 1), "train/acc": step / steps,
                     "note": "text", "flag": step % 2 == 0}, step=step)
        run.log({"train/loss": math.nan, "val/loss": math.inf}, step=steps)
        return run.id


def test_series_reads_columns_the_sink_wrote(offline_env: Path) -> None:
    run_id = _log_run("a", 50)
    store = Store.open(offline_env)
    series = store.series(run_id, ["train/loss", "val/loss", "flag", "note", "missing"])
    assert set(series) == {"train/loss", "val/loss", "flag"}  # text and unknown keys left out
    steps, times, values = series["train/loss"]
    assert steps.tolist() == list(range(51))
    assert values[:3].tolist() == [1.0, 0.5, 1 / 3] and math.isnan(values[-1])
    assert np.all(np.diff(times) >= 0)
    assert series["val/loss"][2].tolist() == [math.inf]
    assert series["flag"][2][:2].tolist() == [1.0, 0.0]
    # the same answer as the JSON rows give
    history = store.history(run_id, ["train/loss"])["train/loss"]
    assert [s for s, _ in history] == steps.tolist()


def test_context_filters_downsamples_and_guards_paths(offline_env: Path, tmp_path: Path) -> None:
    kept = _log_run("kept", 300, project="p1")
    _log_run("other", 5, project="p2")
    ctx = DashboardContext(store=Store.open(offline_env), project="p1", max_points=100,
                           downsample=lambda x, y, n: np.linspace(0, len(x) - 1, n).astype(int))
    assert [r.id for r in ctx.runs()] == [kept]
    assert ctx.run_choices() == [(f"kept ({kept})", kept)]
    series = ctx.series(kept, ["train/loss"])["train/loss"]
    assert len(series.values) == 100 and series.total == 301 and series.downsampled
    assert ctx.store_dir == offline_env

    inside = offline_env / "media" / "x.png"
    inside.parent.mkdir(parents=True)
    inside.write_bytes(b"png")
    assert ctx.media_path("media/x.png") == inside.resolve()
    outside = tmp_path / "secret.txt"
    outside.write_text("no")
    with pytest.raises(UserError, match="outside"):
        ctx.media_path(outside)
    with pytest.raises(UserError, match="outside"):
        ctx.media_path("media/../../secret.txt")
    (offline_env / "media" / "link").symlink_to(outside)
    with pytest.raises(UserError, match="outside"):
        ctx.media_path("media/link")
    assert ctx.escape('<img src=x onerror="a">') == "&lt;img src=x onerror=&quot;a&quot;&gt;"
