"""The Sweeps dashboard tab (data transforms, then the real gradio tab served and called) and the
demo stage, each reached through its hook."""

from __future__ import annotations

from pathlib import Path

import pytest
import sweep_trainers

import wandbkit_sweeps
from wandbkit.demo import DemoContext, collect_demo_stages
from wandbkit.panels import DashboardContext, collect_panels
from wandbkit.store import Store
from wandbkit_sweeps.dashboard import sweep_choices, sweep_view


@pytest.fixture
def finished_sweep(offline_env: Path) -> str:
    sweep = {"name": "dash <b>&", "method": "grid", "metric": {"name": "loss"},
             "parameters": {"x": {"values": [1, 2, 3]}, "y": {"values": ["a", "b"]}}}
    return wandbkit_sweeps.run(sweep, sweep_trainers.quadratic, mode="disabled").sweep_id


def test_sweep_view_is_plain_data(finished_sweep: str, offline_env: Path) -> None:
    choices = sweep_choices(offline_env)
    assert [c[1] for c in choices] == [finished_sweep]
    assert "6 trials" in choices[0][0] and "grid" in choices[0][0]
    view = sweep_view(offline_env, finished_sweep)
    assert view["columns"] == ["trial", "state", "loss", "steps", "run", "x", "y"]
    assert len(view["rows"]) == 6 and {r[5] for r in view["rows"]} == {1, 2, 3}
    assert "6 complete" in view["headline"] and '"x": 3' in view["best"]
    assert view["parallel"] is not None and view["history"] is not None
    assert not (offline_env / "sweeps").exists()  # the view reads only: no figure files
    assert sweep_choices(offline_env / "elsewhere") == []


def test_hook_dashboard_panels_sweeps_tab_serves_the_view(finished_sweep: str,
                                                          offline_env: Path) -> None:
    gr = pytest.importorskip("gradio")
    client_mod = pytest.importorskip("gradio_client")
    panel = next(p for p in collect_panels() if p.title == "Sweeps")
    ctx = DashboardContext(store=Store.open(offline_env))
    with gr.Blocks() as demo:
        with gr.Tab("Sweeps"):
            panel.build(ctx)
    demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1")
    try:
        client = client_mod.Client(demo.local_url, verbose=False)
        headline, table, importances, parallel, history = client.predict(
            finished_sweep, api_name="/sweep_view")
        assert f"sweep {finished_sweep}" in headline
        assert "dash &lt;b&gt;&amp;" in headline and "<b>&" not in headline  # the name, escaped
        assert len(table["data"]) == 6
        assert "Parameter importances" in importances
        assert parallel and history and "plot" in str(parallel)
    finally:
        demo.close()


def test_demo_stage_runs_a_two_worker_hyperband_sweep(offline_env: Path, tmp_path: Path) -> None:
    stage = next(s for s in collect_demo_stages() if s.name == "sweep")
    assert stage.order == 30
    ctx = DemoContext(store_dir=offline_env, mode="disabled", quick=True, work_dir=tmp_path)
    facts = stage.run(ctx)
    assert len(facts["runs"]) == 4 and facts["best_trial"]["value"] > 0
    records = {r.id: r for r in Store.open(offline_env).runs()}
    assert {records[r].group for r in facts["runs"]} == {facts["sweep_id"]}
    assert len({records[r].pid for r in facts["runs"]}) == 2  # two worker processes
    assert all(Path(p).is_file() for p in facts["figures"].values())
