"""Helpers for the artifacts tests: tiny models and running real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPTS = Path(__file__).parent / "scripts"


class Tiny(torch.nn.Module):
    """A small MLP with dropout and tied input/output embeddings."""

    def __init__(self, vocab: int = 16, dim: int = 8, tied: bool = True) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, dim)
        self.hidden = torch.nn.Linear(dim, dim)
        self.drop = torch.nn.Dropout(0.1)
        self.head = torch.nn.Linear(dim, vocab, bias=False)
        if tied:
            self.head.weight = self.embed.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(torch.relu(self.hidden(self.embed(x)))))


def train_step(model: torch.nn.Module, opt: torch.optim.Optimizer) -> float:
    """One step on random tokens; returns the loss."""
    x = torch.randint(0, 16, (4, 5))
    loss = torch.nn.functional.cross_entropy(model(x).flatten(0, 1), x.flatten())
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


@pytest.fixture
def tiny() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    """A trained-for-two-steps tiny model and its Adam optimizer (state populated)."""
    torch.manual_seed(0)
    model = Tiny()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(2):
        train_step(model, opt)
    return model, opt


def wandb_records(run_dir: Path) -> list[dict]:
    """Every record of an offline W&B run folder, read by wandb itself (``wandb leet inspect``)."""
    import json

    wandb_cli = Path(sys.executable).parent / "wandb"
    out = subprocess.run([str(wandb_cli), "leet", "inspect", "--json", str(run_dir)],
                         capture_output=True, text=True, check=True, timeout=60)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def run_script(name: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``tests/scripts/NAME`` in a fresh interpreter with the test's environment."""
    return subprocess.run([sys.executable, str(SCRIPTS / name), *args], capture_output=True,
                          text=True, timeout=timeout, env=dict(os.environ), check=False)
