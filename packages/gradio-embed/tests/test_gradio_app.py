"""The dashboard's event functions through gradio_client, against the app served in-process."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gradio_dashboard_helpers import WANDB_URL, XSS_NAME, DashboardStore

from wandbkit.panels import Panel, collect_panels
from wandbkit_gradio import views


def _broken(ctx: Any) -> None:
    raise RuntimeError("this plugin's tab is broken <on purpose>")


@pytest.fixture(scope="module")
def served(dashboard_store: DashboardStore) -> Iterator[tuple[Any, Any]]:
    from gradio_client import Client

    from wandbkit_gradio.app import build_app, launch

    panels = [*collect_panels(), Panel(title="Broken", build=_broken, order=99)]
    assert {"Runs", "Curves", "Media", "W&B", "Checkpoints"} <= {p.title for p in panels}
    dashboard = build_app(dashboard_store.root, project="vision", refresh_s=0.5, panels=panels)
    url = launch(dashboard, block=False, quiet=True)
    try:
        yield dashboard, Client(url, verbose=False)
    finally:
        dashboard.blocks.close()


def test_runs_table_filters_and_csv(served: tuple[Any, Any], dashboard_store: DashboardStore) -> None:
    dashboard, client = served
    table = client.predict("", ["vision"], [], [], ["baseline"], ["train/loss", "val/acc"],
                           api_name="/runs_table")
    assert [row[0] for row in table["data"]] == [dashboard_store.baseline]
    assert table["headers"][-2:] == ["train/loss", "val/acc"]
    everything = client.predict("", [], [], [], [], [], api_name="/runs_table")
    assert everything["headers"] == views.RUN_COLUMNS
    assert len(everything["data"]) == 4
    names = {row[1] for row in everything["data"]}
    assert XSS_NAME in names  # the data keeps the name as typed; the page shows it as text
    path, note = client.predict([dashboard_store.baseline, dashboard_store.hostile],
                                api_name="/history_csv")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:4] == ["run_id", "run_name", "step", "time"]
    assert "train/loss" in rows[0] and "val/acc" in rows[0]
    assert len(rows) == 1 + 300 + 50
    assert note == ""


def test_curves_downsampled_and_smoothed(served: tuple[Any, Any],
                                         dashboard_store: DashboardStore) -> None:
    dashboard, client = served
    plot, note = client.predict([dashboard_store.baseline, dashboard_store.hostile], ["train/loss"],
                                0.6, "step", True, api_name="/curves")
    series = {row[2] for row in plot["value"]["data"]} if "value" in plot else set()
    assert "300 points" not in note
    assert note.startswith("700 points in 4 line(s)")  # 300 + 50, smoothed and raw
    assert "baseline · train/loss" in series and f"{XSS_NAME} · train/loss (raw)" in series
    # a context with a tiny point budget downsamples and keeps the spike at step 150
    from wandbkit_gradio.downsample import minmax_lttb

    ctx = dashboard.context
    small = type(ctx)(store=ctx.store, max_points=40, downsample=minmax_lttb)
    frame, text = views.curves_frame(small, [dashboard_store.baseline], ["train/loss"])
    assert len(frame) <= 40 and frame["value"].max() == 25.0
    assert "40 of 300 points" in text


def test_curves_follow_a_live_run(served: tuple[Any, Any], dashboard_store: DashboardStore) -> None:
    _, client = served
    _, before = client.predict([dashboard_store.live], ["train/loss"], 0.0, "step", False,
                               api_name="/curves")
    live = dashboard_store.live_run
    for step in range(10, 25):
        live.log({"train/loss": 0.3}, step=step)
    live.flush()
    _, after = client.predict([dashboard_store.live], ["train/loss"], 0.0, "relative time (s)",
                              False, api_name="/curves")
    assert before.startswith("10 points") and after.startswith("25 points")


def _value(output: Any) -> Any:
    return output.get("value") if isinstance(output, dict) and "__type__" in output else output


def test_media_step_slider(served: tuple[Any, Any], dashboard_store: DashboardStore) -> None:
    _, client = served
    caption, image, *_ = client.predict(dashboard_store.baseline, "samples/pred", 150,
                                        api_name="/media_view")
    assert "samples/pred · step 100 · image · the red bar grows" in caption  # last one <= 150
    assert Path(_value(image)).read_bytes()[:4] == b"\x89PNG"
    caption, _, audio, *_ = client.predict(dashboard_store.baseline, "speech", 199,
                                           api_name="/media_view")
    assert "step 100" in caption and Path(_value(audio)).read_bytes()[:4] == b"RIFF"


def test_wandb_tab_embeds_online_runs_and_explains_offline_ones(
        served: tuple[Any, Any], dashboard_store: DashboardStore) -> None:
    _, client = served
    status, frame, local = client.predict(dashboard_store.baseline, "", 600, True,
                                          api_name="/wandb_view")
    frame = _value(frame)
    assert f'src="{WANDB_URL}?jupyter=true"' in frame and "height:600px" in frame
    status, frame, local = client.predict(dashboard_store.offline, "", 600, True,
                                          api_name="/wandb_view")
    frame = _value(frame)
    assert f"wandbkit sync {dashboard_store.offline}" in status and "<iframe" not in (frame or "")
    assert ["run", "name", "offline-run"] in local["data"]
    status, frame, _ = client.predict(dashboard_store.offline, "https://evil.example/x/y", 600,
                                      True, api_name="/wandb_view")
    frame = _value(frame)
    assert "not a W&amp;B host" in frame and "<iframe" not in frame


def test_checkpoints_tab_verifies_versions(served: tuple[Any, Any],
                                           dashboard_store: DashboardStore) -> None:
    _, client = served
    ok = client.predict("model:v2", api_name="/verify_checkpoint")
    assert "every file matches its manifest" in ok
    from wandbkit_artifacts.index import Index

    version = Index.open(dashboard_store.root).get("model", 0)
    weights = next(p for p in version.path.iterdir() if p.suffix == ".safetensors")
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # one flipped bit in the stored weights
    weights.write_bytes(bytes(data))
    bad = client.predict("model:v0", api_name="/verify_checkpoint")
    assert "digest" in bad and "does not match" in bad
    assert "is not NAME:vN" in client.predict("<b>x</b>", api_name="/verify_checkpoint")
    assert "&lt;b&gt;" in client.predict("<b>x</b>", api_name="/verify_checkpoint")


def test_broken_tab_is_contained(served: tuple[Any, Any]) -> None:
    dashboard, _ = served
    assert dashboard.failed["Broken"] == "RuntimeError: this plugin's tab is broken <on purpose>"
    config = dashboard.blocks.config
    boxes = [c["props"].get("value", "") for c in config["components"]
             if c.get("type") == "html" and "failed to build" in str(c["props"].get("value", ""))]
    assert any("The Broken tab failed to build" in b and "&lt;on purpose&gt;" in b for b in boxes)
