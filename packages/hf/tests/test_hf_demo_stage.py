"""The ``hf`` stage of ``wandbkit demo``, quick, in the test's store."""

from __future__ import annotations

from pathlib import Path

from wandbkit.demo import DemoContext
from wandbkit.plugins import collect
from wandbkit.store import Store
from wandbkit_hf.plugin import run_hf_stage


def test_hf_demo_stage_trains_resumes_and_reports(tmp_path: Path, offline_env: Path) -> None:
    from wandbkit_artifacts.index import Index

    stages = {s.name: s for s in collect("wandbkit_register_demo_stages")}
    assert stages["hf"].order == 40 and stages["hf"].run is run_hf_stage

    store = tmp_path / "demo-store"
    ctx = DemoContext(store_dir=store, quick=True, work_dir=tmp_path / "work")
    facts = run_hf_stage(ctx)
    assert len(facts["runs"]) == 2
    assert {r.id for r in Store.open(store).runs()} == set(facts["runs"])
    versions = Index.open(store).versions("hf-tiny-gpt2")
    assert Path(facts["best_checkpoint"]) in {v.path for v in versions}
    assert "train loss" in facts["headline"]
