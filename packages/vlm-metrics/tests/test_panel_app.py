"""The VLM dashboard tab in a real Gradio app: the step slider's event returns that step's pictures."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import wandbkit
from wandbkit.metrics import compute_metrics
from wandbkit.panels import DashboardContext
from wandbkit.store import Store
from wandbkit_vlm.panel import build_panel
from wandbkit_vlm.toy import DEMO_MODEL


def test_vlm_tab_serves_pictures_per_step(monkeypatch: pytest.MonkeyPatch) -> None:
    gr = pytest.importorskip("gradio")
    from gradio_client import Client

    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    torch.manual_seed(0)
    model = DEMO_MODEL.build()
    batch = next(DEMO_MODEL.batches(seed=0, batch_size=8))
    with wandbkit.init(project="vlm-panel", mode="disabled") as run:
        for step in (0, 10):
            _, outputs = DEMO_MODEL.loss(model, batch)
            run.log(compute_metrics(outputs, batch), step=step)
            DEMO_MODEL.log_pictures(run, model, batch, step=step)

    ctx = DashboardContext(store=Store.open())
    with gr.Blocks() as app, gr.Tab("VLM"):
        build_panel(ctx)
    app.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1")
    try:
        client = Client(app.local_url, verbose=False)
        summary, relevance, attention, selection, lod, budget, strip, table = client.predict(
            run.id, 7, api_name="/vlm_view")
    finally:
        app.close()
    assert "step 0" in summary and "vqa/accuracy" in summary
    for picture in (relevance, attention, selection, strip):
        assert Path(picture).is_file()
    assert table["headers"][:2] == ["rank", "question"] and len(table["data"]) == 8
