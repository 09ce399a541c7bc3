"""The smoke and train stages of ``wandbkit demo`` on a small published demo model.

The stages take whatever model another plugin published in ``ctx.shared["demo_model"]``; here a
small classifier stands in for it, so these tests check this package's stages on their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from wandbkit.demo import DemoContext
from wandbkit.store import Store
from wandbkit_torch.demo import smoke_stage, train_stage

FEATURES, CLASSES = 8, 4


class BlobModel:
    """A published demo model: Gaussian blobs and an MLP, with the stage's expected methods."""

    name = "blobs-mlp"

    def __init__(self) -> None:
        gen = torch.Generator().manual_seed(0)
        self.centers = torch.randn(CLASSES, FEATURES, generator=gen) * 3

    def build(self) -> nn.Module:
        return nn.Sequential(nn.Linear(FEATURES, 32), nn.ReLU(), nn.Linear(32, CLASSES))

    def batches(self, seed: int, batch_size: int) -> Iterator[dict[str, torch.Tensor]]:
        gen = torch.Generator().manual_seed(seed)
        while True:
            y = torch.randint(0, CLASSES, (batch_size,), generator=gen)
            yield {"x": self.centers[y] + torch.randn(batch_size, FEATURES, generator=gen), "y": y}

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, Any]:
        logits = model(batch["x"])
        return F.cross_entropy(logits, batch["y"]), {"logits": logits}

    def smoke_data(self) -> tuple[Any, Any]:
        def data() -> tuple[torch.Tensor, torch.Tensor]:
            batch = next(self.batches(seed=2, batch_size=64))
            return batch["x"], batch["y"]

        return self.build, data

    def log_pictures(self, run: Any, model: nn.Module, batch: Any, step: int) -> None:
        run.log({"val/pictures_logged": 1.0}, step=step)


def context(tmp_path: Path, offline_env: Path, published: bool = True) -> DemoContext:
    ctx = DemoContext(store_dir=offline_env, quick=True, work_dir=tmp_path / "work")
    ctx.work_dir.mkdir()
    if published:
        ctx.shared["demo_model"] = BlobModel()
    return ctx


def test_smoke_stage_passes_a_healthy_model(tmp_path: Path, offline_env: Path) -> None:
    facts = smoke_stage(context(tmp_path, offline_env))
    assert facts["checks"].get("fail", 0) == 0, facts
    assert sum(facts["checks"].values()) >= 9


def test_train_stage_tracks_and_checkpoints(tmp_path: Path, offline_env: Path) -> None:
    facts = train_stage(context(tmp_path, offline_env))
    store = Store.open(offline_env)
    run = store.get_run(facts["run"])
    assert run.state == "finished"
    keys = set(store.keys(run.id))
    assert {"train/loss", "val/loss", "train/lr"} <= keys, sorted(keys)
    assert any(k.startswith("grad/") for k in keys), sorted(keys)
    assert "arr-coc-toy:best" in facts["best_checkpoint"]
    from wandbkit.checkpointing import load_checkpoint

    model = BlobModel().build()
    loaded = load_checkpoint("arr-coc-toy:best", model)
    assert loaded is not None


def test_stages_skip_without_a_published_model(tmp_path: Path, offline_env: Path) -> None:
    ctx = context(tmp_path, offline_env, published=False)
    assert smoke_stage(ctx)["headline"].startswith("skipped")
    assert train_stage(ctx)["headline"].startswith("skipped")
