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
    assert {"Workspace", "Runs", "Run", "Compare", "Media", "W&B", "Checkpoints"} <= {
        p.title for p in panels}
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
    assert rows[0][:3] == ["run_id", "run_name", "step"]
    assert "train/loss" in rows[0] and "val/acc" in rows[0]
    assert len(rows) == 1 + 300 + 50
    assert note == ""


def _get(url: str, host: str | None = None) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_file_route_serves_media_only(served: tuple[Any, Any], dashboard_store: DashboardStore) -> None:
    """The database, a checkpoint's weights and the store's other folders are refused; a
    logged image is served (as the workspace's image panels load it)."""
    dashboard, client = served
    base = dashboard.blocks.local_url.rstrip("/")
    root = dashboard_store.root.resolve()
    weights = next(root.glob("**/*.safetensors"))
    image = next((root / "media").glob("**/*.png"))
    from urllib.parse import quote

    for secret in (root / "wandbkit.db", weights):
        status, body = _get(f"{base}/gradio_api/file={quote(str(secret))}")
        assert status in (403, 404) and b"SQLite format" not in body and len(body) < 1000, secret
    status, body = _get(f"{base}/gradio_api/file={quote(str(image))}")
    assert status == 200 and body[:4] == b"\x89PNG"


def test_requests_for_another_host_are_refused(served: tuple[Any, Any]) -> None:
    """A DNS-rebinding page reaches 127.0.0.1 under its own name: refused."""
    dashboard, _ = served
    base = dashboard.blocks.local_url.rstrip("/")
    status, _ = _get(f"{base}/config")
    assert status == 200
    status, body = _get(f"{base}/config", host="evil.example:7860")
    assert status == 421 and b"Host not allowed" in body
    status, _ = _get(f"{base}/config", host="localhost")
    assert status == 200


def test_workspace_data_through_the_page_route(served: tuple[Any, Any],
                                               dashboard_store: DashboardStore) -> None:
    """The function the workspace page calls, through gradio's component route."""
    import json
    import urllib.request

    dashboard, client = served
    config = dashboard.blocks.config
    comp = next(c for c in config["components"] if c["props"].get("elem_id") == "wandbkit-workspace")
    body = json.dumps({"data": {"width": 50}, "component_id": comp["id"], "session_hash": "t1",
                       "fn_name": "workspace_data"}).encode()
    request = urllib.request.Request(dashboard.blocks.local_url + "gradio_api/component_server",
                                     data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        data = json.loads(answer.read())
    names = [s[0] for s in data["sections"]]
    assert names[0] == "Charts" and "train" in names and "val" in names
    assert set(data["lines"]["train/loss"]) >= {dashboard_store.baseline, dashboard_store.hostile}
    assert data["media"]["samples/pred"]["runs"][dashboard_store.baseline][0]["url"].startswith(
        "gradio_api/file=")
    assert any(r["name"] == XSS_NAME for r in data["runs"])  # text; the page sets textContent


def test_compare_and_run_page(served: tuple[Any, Any], dashboard_store: DashboardStore) -> None:
    _, client = served
    table, note = client.predict([dashboard_store.baseline, dashboard_store.hostile],
                                 api_name="/compare")
    keys = [row[0] for row in table["data"]]
    assert keys == ["batch", "lr", "note"] and "3 of 3 config keys differ" in note
    summary, system, page = client.predict(dashboard_store.baseline, api_name="/run_page")
    assert ["config", "lr", "0.0003"] in summary["data"]
    assert any(row[0] == "host" for row in system["data"])


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


def test_pickers_accept_only_existing_runs(served: tuple[Any, Any]) -> None:
    """A typed run id that does not exist is refused, not kept as a silent chip."""
    _, client = served
    with pytest.raises(Exception, match="not in the list of choices"):
        client.predict("no-such-run", "", 600, True, api_name="/wandb_view")
    with pytest.raises(Exception, match="not in the list of choices"):
        client.predict(["no-such-run"], api_name="/compare")
