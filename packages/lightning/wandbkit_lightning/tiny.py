"""A tiny ``LightningModule`` on synthetic data, small enough for a laptop CPU: the demo's,
the example's, the benchmark's and the tests' model."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class TinyRegressor(pl.LightningModule):
    """An MLP fitting a fixed random linear map plus noise.

    :param width: hidden width.
    :param lr: Adam's learning rate.
    :param fail_at: raise ``RuntimeError`` in ``training_step`` at this global step (tests).
    :param extra: more hyperparameters (a nested dict, say), kept in ``hparams`` only.
    """

    def __init__(self, width: int = 32, lr: float = 0.01, fail_at: int | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(8, width), nn.ReLU(), nn.Linear(width, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (batch, 8) -> (batch, 1)."""
        return self.net(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        """MSE loss, logged as ``train/loss`` every step it is asked for."""
        if self.hparams.fail_at is not None and self.global_step >= self.hparams.fail_at:
            raise RuntimeError(f"TinyRegressor: failing at step {self.global_step}, as asked")
        x, y = batch
        loss = nn.functional.mse_loss(self(x), y)
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        """MSE loss as ``val/loss`` (the metric ``ModelCheckpoint`` monitors)."""
        x, y = batch
        self.log("val/loss", nn.functional.mse_loss(self(x), y))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Adam at ``lr``."""
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def synthetic_loader(n: int = 256, batch_size: int = 16, seed: int = 0,
                     shuffle: bool = False) -> DataLoader:
    """``n`` samples of ``y = x @ w + noise`` (the same ``w`` for every seed)."""
    w = torch.linspace(-1.0, 1.0, 8).unsqueeze(1)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    y = x @ w + 0.1 * torch.randn(n, 1, generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle, num_workers=0)


def quiet_trainer_kwargs() -> dict[str, Any]:
    """``Trainer`` arguments for short CPU runs without progress bars or model summaries."""
    return dict(accelerator="cpu", devices=1, enable_progress_bar=False,
                enable_model_summary=False, num_sanity_val_steps=0)
