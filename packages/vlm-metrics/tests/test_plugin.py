"""The installed plugin as a user meets it: metrics through the registry, pictures through a real
offline run into W&B's files and the local store, and the dashboard panel's data."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import torch

import wandbkit
from wandbkit.metrics import available_metrics, compute_metrics
from wandbkit.panels import DashboardContext, collect_panels
from wandbkit.store import Store
from wandbkit_vlm.panel import picture_steps, scalars_markdown, view_at, vlm_runs
from wandbkit_vlm.toy import DEMO_MODEL

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from wandb_records import history_items  # noqa: E402

GROUPS = {"vlm_language", "vlm_answers", "vlm_encoder", "vlm_alignment", "vlm_relevance",
          "vlm_allocation", "vlm_attention"}


@pytest.fixture(scope="module")
def toy_step() -> tuple[Any, dict[str, Any], dict[str, Any]]:
    torch.manual_seed(0)
    model = DEMO_MODEL.build()
    batch = next(DEMO_MODEL.batches(seed=0, batch_size=16))
    _, outputs = DEMO_MODEL.loss(model, batch)
    return model, outputs, batch


def test_hook_registers_every_group_and_metrics_are_lazy_tensors(toy_step: Any) -> None:
    _, outputs, batch = toy_step
    assert GROUPS <= set(available_metrics())
    values = compute_metrics(outputs, batch, names=sorted(GROUPS))
    prefixes = {k.split("/")[0] for k in values}
    assert {"lm", "vqa", "encoder", "alignment", "relevance", "allocation", "compression",
            "attention"} <= prefixes
    assert all(isinstance(v, torch.Tensor) and v.dim() == 0 for v in values.values())
    assert 0.0 <= values["vqa/accuracy"].item() <= 1.0
    # The toy keeps 16 of 64 patches: compression/patch is exactly 4.
    assert values["compression/patch"].item() == pytest.approx(4.0)
    assert values["allocation/selected_patches"].item() == pytest.approx(16.0)


def test_missing_inputs_skip_cleanly() -> None:
    assert compute_metrics({}, {}, names=sorted(GROUPS)) == {}
    assert compute_metrics(None, None, names=sorted(GROUPS)) == {}
    labels = torch.tensor([[1, 2, -100]] * 2)
    only_logits = compute_metrics({"logits": torch.randn(2, 3, 5)}, {"labels": labels}, names=sorted(GROUPS))
    assert set(only_logits) == {"lm/token_loss", "lm/perplexity", "lm/token_accuracy"}
    # Tokens without a selection mask: the mask is tokens > 0; no grid info for 10 patches -> no geometry.
    alloc = compute_metrics({"tokens": torch.tensor([[64.0] * 5 + [0.0] * 5])}, {}, names=["vlm_allocation"])
    assert alloc["compression/patch"].item() == 2.0
    assert "allocation/coverage" not in alloc


def test_metrics_and_pictures_reach_wandb_and_the_store(toy_step: Any) -> None:
    model, outputs, batch = toy_step
    with wandbkit.init(project="vlm-tests", mode="offline") as run:
        run.log(compute_metrics(outputs, batch), step=0)
        media = DEMO_MODEL.log_pictures(run, model, batch, step=0)
        run.log(compute_metrics(outputs, batch), step=5)
        DEMO_MODEL.log_pictures(run, model, batch, step=5)
    assert {"pictures/relevance", "pictures/attention", "pictures/selection", "pictures/lod_histogram",
            "pictures/budget_histogram", "pictures/worst_samples", "pictures/worst_images"} == set(media)
    table = media["pictures/worst_samples"]
    assert table.columns == ["rank", "question", "answer", "prediction", "score"]
    scores = [row[-1] for row in table.data]
    assert scores == sorted(scores) and len(scores) == 8

    store = Store.open()
    stored = {(m["key"], m["kind"]) for m in store.media(run.id)}
    assert ("pictures/selection", "image") in stored and ("pictures/worst_samples", "table") in stored
    assert ("pictures/lod_histogram", "histogram") in stored
    assert "vqa/accuracy" in store.history(run.id)

    where = next(s.info.get("where") for s in run.report.sinks if s.name == "wandb")
    items = history_items(where)
    logged = {k: v for item in items for k, v in item.items()}
    assert {"vqa/accuracy", "allocation/gini", "compression/vision"} <= set(logged)
    # Media appear in wandb's history as typed file references (keys flattened by leet).
    assert logged["pictures/selection._type"] == "image-file"
    assert logged["pictures/worst_samples._type"] == "table-file"
    assert (Path(where) / "files" / logged["pictures/selection.path"]).is_file()

    # The dashboard tab's data: steps for the slider, the pictures and scalars at a step.
    ctx = DashboardContext(store=store)
    assert [rid for _, rid in vlm_runs(ctx)] == [run.id]
    assert picture_steps(store, run.id) == [0, 5]
    view = view_at(ctx, run.id, 4)
    assert view is not None and view.step == 0
    assert Path(view.images["pictures/selection"]).is_file()
    assert view.table_columns[0] == "rank" and len(view.table_rows) == 8
    assert sum(view.histograms["pictures/lod_histogram"][1]) == 16 * 16
    assert "vqa/accuracy" in scalars_markdown(ctx, view)
    assert view_at(ctx, run.id, -1) is None


def test_panel_is_registered_without_importing_gradio() -> None:
    panels = [p for p in collect_panels() if p.title == "VLM"]
    assert len(panels) == 1
    import wandbkit_vlm.panel

    # gradio is imported inside build() only: the module has no top-level gradio import.
    source = Path(wandbkit_vlm.panel.__file__).read_text()
    assert "\nimport gradio" not in source and "\nfrom gradio" not in source


def test_demo_stage_publishes_the_toy_model(tmp_path: Path) -> None:
    from wandbkit.demo import DemoContext, collect_demo_stages, run_stages

    stage = next(s for s in collect_demo_stages() if s.name == "toy-model")
    assert stage.order == 5
    ctx = DemoContext(store_dir=tmp_path, quick=True, work_dir=tmp_path)
    [outcome] = run_stages([stage], ctx)
    demo_model = ctx.shared["demo_model"]
    assert outcome.facts["vlm_metrics"] > 40 and "pictures/selection" in outcome.facts["pictures"]
    # The published object's contract, as later stages use it.
    model = demo_model.build()
    batch = next(demo_model.batches(seed=1, batch_size=4))
    loss, outputs = demo_model.loss(model, batch)
    loss.backward()
    assert "allocation/gini" in compute_metrics(outputs, batch)
    model_factory, data_factory = demo_model.smoke_data()
    x, y = data_factory()
    assert model_factory()(x[:4]).shape == (4, 9) and y.shape == (16,)


def test_toy_model_passes_the_smoke_checks(tmp_path: Path) -> None:
    # With the default settings, as `wandbkit smoke` and the demo's smoke stage run them.
    smoke = pytest.importorskip("wandbkit_torch.smoke")

    model_factory, data_factory = DEMO_MODEL.smoke_data()
    report = smoke.run_smoke(model_factory, data_factory, device="cpu", out_dir=tmp_path)
    assert report.status == "pass", [(v.name, v.status, v.reason) for v in report.verdicts]
