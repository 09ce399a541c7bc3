"""The workspace's data, shaped without a browser: sections, colours, lines with min-max
bands, live ticks by cursor, grouping, histograms over steps and config comparison."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path

import numpy as np
import pytest

import wandbkit
from wandbkit.errors import UserError
from wandbkit.store import Store
from wandbkit_gradio import workspace


def _log(root: Path, name: str, steps: int, *, config: dict | None = None, group: str | None = None,
         spike: int | None = None, finish: bool = True) -> object:
    run = wandbkit.init(project="ws", name=name, mode="disabled", dir=root, config=config or {},
                        group=group, flush_interval=0.01)
    for step in range(steps):
        run.log({"train/loss": 50.0 if step == spike else 1 / (step + 1), "val/acc": step / steps,
                 "epoch": step / 10, "lr": 1e-3}, step=step)
    run.flush()
    if finish:
        run.finish()
    return run


def _decode(text: str | None, dtype: str) -> np.ndarray | None:
    return None if text is None else np.frombuffer(base64.b64decode(text), dtype=dtype)


def test_sections_follow_the_key_prefix_as_wandb_lays_them_out() -> None:
    keys = ["val/acc", "train/loss", "lr", "system/gpu.0.util", "train/layer10", "train/layer2",
            "_runtime", "eval/f1", "a/", "epoch"]
    assert workspace.sections(keys) == [
        ("Charts", ["a/", "epoch", "lr"]), ("eval", ["eval/f1"]),
        ("train", ["train/layer2", "train/layer10", "train/loss"]), ("val", ["val/acc"]),
        ("system", ["system/gpu.0.util"])]
    charts = ["train/loss", "val/loss", "val/acc"]
    assert workspace.filter_charts(charts, "LOSS") == ["train/loss", "val/loss"]
    assert workspace.filter_charts(charts, r"^val/(acc|f1)$") == ["val/acc"]
    assert workspace.filter_charts(charts, "val/[") == []  # not a regex: a substring


def test_run_colours_are_stable_and_distinct(offline_env: Path) -> None:
    for i in range(3):
        _log(offline_env, f"r{i}", 3)
    runs = Store.open(offline_env).runs()
    colors = workspace.run_colors(runs)
    assert len(set(colors.values())) == 3
    oldest = min(runs, key=lambda r: r.started_at)
    assert workspace.run_colors(runs[::-1]) == colors  # order of the list does not matter
    assert colors[oldest.id] == workspace.PALETTE[0]
    many = [type(runs[0])(**{**runs[0].__dict__, "id": f"id{i}", "started_at": float(i)})
            for i in range(60)]
    assert len(set(workspace.run_colors(many).values())) == 60


def test_downsampled_lines_keep_a_one_step_spike_in_their_band(offline_env: Path) -> None:
    _log(offline_env, "long", 5000, spike=2345)
    store = Store.open(offline_env)
    runs = store.runs()
    data = workspace.workspace_data(store, runs, {"width": 100})
    line = data["lines"]["train/loss"][runs[0].id]
    y, hi, lo = (_decode(line[k], "<f4") for k in ("y", "hi", "lo"))
    x = _decode(line["x"], "<f8")
    assert line["n"] <= 100 and len(x) == len(y) == line["n"]
    assert hi.max() == 50.0 and y.max() < 50.0  # the mean hides the spike; the band keeps it
    assert (lo <= y).all() and (y <= hi).all()
    assert json.dumps(data)  # the page gets plain JSON
    assert data["sections"][0] == ("Charts", ["epoch", "lr"])


def test_x_axes_time_and_a_logged_metric(offline_env: Path) -> None:
    _log(offline_env, "a", 50)
    store = Store.open(offline_env)
    run = store.runs()[0]
    rel = workspace.workspace_data(store, [run], {"x": "relative time"})["lines"]["val/acc"]
    x = _decode(rel[run.id]["x"], "<f8")
    assert x.min() >= 0 and x.max() < 600
    epoch = workspace.workspace_data(store, [run], {"x": "epoch"})["lines"]["val/acc"]
    assert _decode(epoch[run.id]["x"], "<f8").tolist() == pytest.approx([s / 10 for s in range(50)])
    with pytest.raises(UserError, match="not a logged metric"):
        workspace.workspace_data(store, [run], {"x": "tokens"})
    with pytest.raises(UserError, match="whole number"):
        workspace.workspace_data(store, [run], {"width": "wide"})


def test_a_live_tick_fetches_only_rows_after_the_cursor(offline_env: Path) -> None:
    live = _log(offline_env, "live", 1000, finish=False)
    try:
        store = Store.open(offline_env)
        runs = store.runs()
        first = workspace.workspace_data(store, runs, {"width": 200})
        quiet = workspace.workspace_data(store, runs, {"tick": True, "cursors": first["cursors"],
                                                       "known": [live.id]})
        assert quiet["points"] == 0 and quiet["lines"] == {}
        for step in range(1000, 1007):
            live.log({"train/loss": 0.5, "val/acc": 1.0, "epoch": 100.0, "lr": 1e-3}, step=step)
        live.flush()
        tick = workspace.workspace_data(store, store.runs(), {"tick": True, "known": [live.id],
                                                              "cursors": first["cursors"]})
        x = _decode(tick["lines"]["train/loss"][live.id]["x"], "<f8")
        assert x.tolist() == list(range(1000, 1007))  # the 7 new rows, nothing before
        assert tick["points"] == 7 * 4 and tick["cursors"][live.id] > first["cursors"][live.id]
        # a run started after the page loaded comes whole with the next tick
        _log(offline_env, "new", 30)
        later = workspace.workspace_data(store, store.runs(), {"tick": True, "known": [live.id],
                                                               "cursors": tick["cursors"]})
        new_id = next(r["id"] for r in later["runs"] if r["name"] == "new")
        assert later["lines"]["train/loss"][new_id]["n"] == 30
        assert live.id not in later["lines"].get("train/loss", {})
    finally:
        live.finish()


def test_grouping_gives_the_mean_and_the_min_max_band(offline_env: Path) -> None:
    for i, lr in enumerate((0.1, 0.1, 0.2)):
        run = wandbkit.init(project="ws", name=f"g{i}", mode="disabled", dir=offline_env,
                            config={"lr": lr}, flush_interval=0.01)
        for step in range(10):
            run.log({"m": float(i)}, step=step)
        run.finish()
    store = Store.open(offline_env)
    data = workspace.workspace_data(store, store.runs(), {"group_by": "lr", "width": 16})
    lines = data["lines"]["m"]
    assert set(lines) == {"0.1", "0.2"} and [g["runs"] for g in data["groups"]] == [2, 1]
    mean, lo, hi = (_decode(lines["0.1"][k], "<f4") for k in ("y", "lo", "hi"))
    assert np.allclose(mean, 0.5) and np.allclose(lo, 0.0) and np.allclose(hi, 1.0)


def test_histograms_over_steps_and_config_diff(offline_env: Path) -> None:
    rng = np.random.default_rng(0)
    with wandbkit.init(project="ws", name="h", mode="disabled", dir=offline_env,
                       config={"lr": 0.1, "opt": "adam", "seed": 1}, flush_interval=0.01) as a:
        for step in (0, 10, 20):
            a.log({"w": wandbkit.Histogram(rng.normal(step, 1, 300)),
                   "img": wandbkit.Image(np.zeros((4, 4, 3), dtype=np.uint8))}, step=step)
    with wandbkit.init(project="ws", name="h2", mode="disabled", dir=offline_env,
                       config={"lr": 0.2, "opt": "adam"}, flush_interval=0.01):
        pass
    store = Store.open(offline_env)
    runs = store.runs()
    media = workspace.media_charts(store, runs, lambda p: "file=" + p)
    hist = media["w"]["runs"][a.id]
    assert hist["steps"] == [0, 10, 20] and len(hist["counts"]) == 3
    peaks = [int(np.argmax(row)) for row in hist["counts"]]
    assert peaks[0] < peaks[1] < peaks[2]  # the distribution moves up over the steps
    assert [f["step"] for f in media["img"]["runs"][a.id]] == [0, 10, 20]
    header, rows = workspace.config_diff(sorted(runs, key=lambda r: r.name))
    assert header == ["key", "h", "h2"] and rows == [["lr", "0.1", "0.2"], ["seed", "1", ""]]
    assert math.isfinite(hist["hi"]) and hist["hi"] > hist["lo"]
