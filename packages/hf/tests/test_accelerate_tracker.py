"""``WandbkitTracker`` with accelerate's real ``Accelerator``: one finished run with the config
and the logged values, in the store and in W&B's own records; nothing from other processes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from wandbkit.errors import UserError
from wandbkit.store import Store
from wandbkit_hf import WandbkitTracker

# W&B's records read back without hf_helpers, which imports transformers (seconds) for nothing here
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from wandb_records import wandb_records  # noqa: E402

SCRIPT = Path(__file__).with_name("accelerate_tracker_script.py")


def wandb_run_dirs(store: Path) -> list[Path]:
    """The offline W&B run folders under the store (``latest-run`` is a link: skipped)."""
    return sorted(p for p in (store / "wandb").glob("offline-run-*") if p.is_dir())


@pytest.fixture
def fresh_accelerate_state() -> Iterator[None]:
    """accelerate keeps its process state in singletons: start and leave them empty."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    try:
        yield
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)


def test_accelerator_logs_config_values_images_tables_and_finishes(
        offline_env: Path, fresh_accelerate_state: None) -> None:
    from accelerate import Accelerator

    tracker = WandbkitTracker(tags=["acc"])
    accelerator = Accelerator(cpu=True, log_with=tracker)
    accelerator.init_trackers("acc-proj", config={"lr": 0.1, "model": {"width": 4}},
                              init_kwargs={"wandb": {"name": "acc-run"}})
    assert accelerator.get_tracker("wandbkit", unwrap=True) is tracker.run
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model, optimizer = accelerator.prepare(model, optimizer)
    g = torch.Generator().manual_seed(0)
    for step in range(5):
        loss = torch.nn.functional.mse_loss(model(torch.randn(8, 4, generator=g)),
                                            torch.randn(8, 1, generator=g))
        accelerator.backward(loss)
        optimizer.step()
        optimizer.zero_grad()
        accelerator.log({"train/loss": loss.detach(), "train/lr": 0.1}, step=step)
    accelerator.log({"eval/loss": 0.25}, step=4)  # same step: joins that row in W&B
    tracker.log_images({"samples": [np.zeros((4, 4), dtype=np.uint8),
                                    np.full((4, 4), 200, dtype=np.uint8)]}, step=4)
    tracker.log_table("preds", columns=["x", "y"], data=[[1, 2.0], [3, 4.0]], step=4)
    accelerator.end_training()

    store = Store.open(offline_env)
    [run] = store.runs()
    assert (run.project, run.name, run.tags, run.state) == ("acc-proj", "acc-run", ["acc"],
                                                           "finished")
    assert run.config == {"lr": 0.1, "model": {"width": 4}}
    history = store.history(run.id, ["train/loss", "eval/loss"])
    assert [s for s, _ in history["train/loss"]] == [0, 1, 2, 3, 4]
    assert history["eval/loss"] == [(4, 0.25)]
    assert {m["key"] for m in store.media(run.id)} == {"samples/0", "samples/1", "preds"}

    [run_dir] = wandb_run_dirs(offline_env)
    records = wandb_records(run_dir)
    rows = [r["history"]["item"] for r in records if r.get("type") == "history"]
    assert [int(r["_step"]) for r in rows] == [0, 1, 2, 3, 4]  # step 4's logs merged
    last = rows[-1]
    assert last["eval/loss"] == 0.25 and last["samples/0._type"] == "image-file"
    assert last["preds._type"] == "table-file" and "train/loss" in last
    config = {}
    for r in records:
        if r.get("type") in ("run", "config"):
            config.update((r[r["type"]].get("config") or r[r["type"]]).get("update", {}))
    assert config["lr"] == 0.1 and config["model"] == {"width": 4}
    assert [r["exit"].get("exit_code", 0) for r in records if r.get("type") == "exit"] == [0]


def test_logging_before_init_trackers_says_what_to_call(fresh_accelerate_state: None) -> None:
    with pytest.raises(UserError, match=r"call accelerator.init_trackers\(project_name\) first"):
        WandbkitTracker().log({"x": 1})


def test_two_processes_make_one_run_from_the_main_process(tmp_path: Path,
                                                          offline_env: Path) -> None:
    out = tmp_path / "result.json"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         str(SCRIPT), str(out)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    detail = proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.returncode == 0, detail
    ranks = {r["rank"]: r for r in (json.loads(Path(f"{out}.{i}").read_text()) for i in (0, 1))}
    assert ranks[0]["world_size"] == 2, detail
    assert ranks[0]["run_id"] is not None and ranks[1]["run_id"] is None, detail  # rank 1: no run

    store = Store.open(offline_env)
    runs = store.runs()
    assert [r.id for r in runs] == [ranks[0]["run_id"]], detail
    run = runs[0]
    assert run.name == "two" and run.config == {"lr": 0.1}, (run, detail)
    assert store.history(run.id, ["direct/value"])["direct/value"] == [(4, 0)]  # rank 0's only
    assert [m["key"] for m in store.media(run.id)] == ["direct/image"]
    [run_dir] = wandb_run_dirs(offline_env)
    steps = [int(r["history"]["item"]["_step"]) for r in wandb_records(run_dir)
             if r.get("type") == "history"]
    assert steps == [0, 1, 2, 3, 4]
