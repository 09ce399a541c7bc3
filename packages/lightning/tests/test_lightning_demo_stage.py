"""The ``lightning`` stage of ``wandbkit demo``, quick, in the test's store."""

from __future__ import annotations

from pathlib import Path

import torch

from wandbkit.demo import DemoContext
from wandbkit.plugins import collect
from wandbkit.store import Store
from wandbkit_lightning.plugin import run_lightning_stage


def test_lightning_demo_stage_trains_resumes_from_best_and_reports(tmp_path: Path,
                                                                   offline_env: Path) -> None:
    from wandbkit_artifacts.index import Index

    stages = {s.name: s for s in collect("wandbkit_register_demo_stages")}
    assert stages["lightning"].order == 45 and stages["lightning"].run is run_lightning_stage

    store = tmp_path / "demo-store"
    ctx = DemoContext(store_dir=store, quick=True, work_dir=tmp_path / "work")
    facts = run_lightning_stage(ctx)
    [run] = Store.open(store).runs()
    assert facts["runs"] == [run.id] and run.resumed == 1 and run.state == "finished"
    assert {"train/loss", "val/loss", "trainer/global_step"} <= set(Store.open(store).keys(run.id))
    versions = Index.open(store).versions("lightning-tiny")
    assert Path(facts["best_checkpoint"]).parent in {v.path for v in versions}
    resumed_from = torch.load(facts["resumed_from"], weights_only=True)["global_step"]
    assert 0 < resumed_from <= 12  # the first fit's best (its folder may be retired since)
    assert torch.load(facts["best_checkpoint"], weights_only=True)["global_step"] > 0
    assert "train loss" in facts["headline"]
    assert not list(offline_env.iterdir())  # everything went to the demo's store
