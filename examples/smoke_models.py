"""Models and data for `wandbkit smoke`: one healthy model per task and one planted bug per check.

Try, from the repository root (M=examples/smoke_models.py)::

    wandbkit smoke --model $M:healthy_mlp --data $M:blobs
    wandbkit smoke --model $M:batch_mixing_mlp --data $M:blobs        # exit code 1
    wandbkit smoke --model $M:tiny_lm --data $M:tokens --json
    wandbkit smoke --quick-train --model $M:healthy_mlp --data $M:blobs

Each ``*_mlp`` factory below except ``healthy_mlp`` hides one classic bug; its docstring says
which check catches it.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import TensorDataset

FEATURES, CLASSES, HIDDEN = 16, 8, 32
VOCAB, SEQ = 32, 12


# --- data ---------------------------------------------------------------------------------


def blobs() -> TensorDataset:
    """128 examples of 8 Gaussian blobs in 16 dimensions (classification), fixed seed."""
    gen = torch.Generator().manual_seed(1234)
    centers = torch.randn(CLASSES, FEATURES, generator=gen) * 2.0
    y = torch.arange(128) % CLASSES
    x = centers[y] + torch.randn(128, FEATURES, generator=gen)
    return TensorDataset(x, y)


def tokens() -> tuple[torch.Tensor, torch.Tensor]:
    """64 token sequences where each token is the previous + 1 (mod 32): inputs and next tokens."""
    gen = torch.Generator().manual_seed(1234)
    start = torch.randint(0, VOCAB, (64, 1), generator=gen)
    seq = (start + torch.arange(SEQ + 1)) % VOCAB
    return seq[:, :-1], seq[:, 1:]


def waves() -> tuple[torch.Tensor, torch.Tensor]:
    """128 regression examples, y = z + 0.3 sin(3z) for a random projection z of x: (128, 1)."""
    gen = torch.Generator().manual_seed(1234)
    x = torch.randn(128, FEATURES, generator=gen)
    z = x @ (torch.randn(FEATURES, 1, generator=gen) / FEATURES**0.5)
    return x, z + 0.3 * torch.sin(3 * z)


# --- healthy models -----------------------------------------------------------------------


class MLP(nn.Module):
    """Two hidden layers with ReLU: the healthy classifier."""

    def __init__(self, out: int = CLASSES) -> None:
        super().__init__()
        self.fc1 = nn.Linear(FEATURES, HIDDEN)
        self.fc2 = nn.Linear(HIDDEN, HIDDEN)
        self.head = nn.Linear(HIDDEN, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(F.relu(self.fc2(F.relu(self.fc1(x)))))


class TinyLM(nn.Module):
    """Token embedding + position embedding + an MLP per position: a minimal language model."""

    def __init__(self) -> None:
        super().__init__()
        self.tok = nn.Embedding(VOCAB, HIDDEN)
        self.pos = nn.Embedding(SEQ, HIDDEN)
        self.mlp = nn.Sequential(nn.Linear(HIDDEN, HIDDEN), nn.GELU(), nn.Linear(HIDDEN, VOCAB))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        h = self.tok(idx) + self.pos(torch.arange(idx.shape[1], device=idx.device))
        return self.mlp(h)


def healthy_mlp() -> nn.Module:
    """A healthy classifier for :func:`blobs`: every check passes."""
    return MLP()


def tiny_lm() -> nn.Module:
    """A healthy language model for :func:`tokens`."""
    return TinyLM()


def regression_mlp() -> nn.Module:
    """A healthy regressor for :func:`waves`."""
    return MLP(out=1)


# --- planted bugs -------------------------------------------------------------------------


class BatchMixingMLP(MLP):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.fc1(x))
        # BUG: meant as a no-op reshape, but view(H, B).t() scrambles values across examples.
        h = h.view(h.shape[1], h.shape[0]).t()
        return self.head(F.relu(self.fc2(h)))


def batch_mixing_mlp() -> nn.Module:
    """A view/transpose bug that mixes examples: caught by ``batch_independence``."""
    return BatchMixingMLP()


class UnusedLayerMLP(MLP):
    def __init__(self) -> None:
        super().__init__()
        self.refine = nn.Linear(HIDDEN, HIDDEN)  # BUG: built, never called in forward

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.fc2(F.relu(self.fc1(x))))
        return self.head(h)


def unused_layer_mlp() -> nn.Module:
    """A layer whose output is never used: caught by ``backward`` (no grad for refine.*)."""
    return UnusedLayerMLP()


class DetachedMLP(MLP):
    def __init__(self) -> None:
        super().__init__()
        self.gate = nn.Linear(FEATURES, HIDDEN)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.gate(x)).detach()  # BUG: the gate never learns
        h = F.relu(self.fc1(x)) * gate
        return self.head(F.relu(self.fc2(h)))


def detached_mlp() -> nn.Module:
    """A ``.detach()`` on a path with parameters: caught by ``backward`` (no grad for gate.*)."""
    return DetachedMLP()


class SumNorm(nn.Module):
    """Meant to divide by the sum of |x|; the typo divides by x - x = 0."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / (x - x).sum(dim=-1, keepdim=True)  # BUG: 0/0 = NaN


class NaNDivisionMLP(MLP):
    def __init__(self) -> None:
        super().__init__()
        self.norm = SumNorm()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(F.relu(self.fc1(x)))
        return self.head(F.relu(self.fc2(h)))


def nan_division_mlp() -> nn.Module:
    """A division by zero inside module ``norm``: caught by ``nonfinite``, which names it."""
    return NaNDivisionMLP()


class SqrtMLP(MLP):
    def __init__(self) -> None:
        super().__init__()
        self.root = RootAct()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.root(self.fc1(x))
        return self.head(F.relu(self.fc2(h)))


class RootAct(nn.Module):
    """sqrt of a hand-written ReLU: finite forward, but sqrt has an infinite slope at 0."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(x * (x > 0))  # BUG: backward multiplies inf by the 0 mask = NaN


def sqrt_mlp() -> nn.Module:
    """NaN only in backward, made by module ``root``: caught by ``nonfinite`` (and backward)."""
    return SqrtMLP()


class PrivateDropout(nn.Module):
    """Dropout drawing from its own generator, seeded from the OS: ignores torch.manual_seed."""

    def __init__(self, p: float = 0.3) -> None:
        super().__init__()
        self.p = p
        self.gen = torch.Generator()
        self.gen.seed()  # BUG: a fresh non-deterministic seed, outside any seed control

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        keep = torch.rand(x.shape, generator=self.gen) > self.p
        return x * keep / (1 - self.p)


class NondeterministicMLP(MLP):
    def __init__(self) -> None:
        super().__init__()
        self.drop = PrivateDropout()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(F.relu(self.fc2(F.relu(self.fc1(x))))))


def nondeterministic_mlp() -> nn.Module:
    """Dropout with no seed control: caught by ``determinism``."""
    return NondeterministicMLP()


class InputIgnoringMLP(MLP):
    def __init__(self) -> None:
        super().__init__()
        self.start = nn.Parameter(torch.randn(FEATURES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BUG: a learned constant is fed instead of x (e.g. the wrong variable after a refactor).
        h = self.start.expand(x.shape[0], -1) + 0 * x
        return self.head(F.relu(self.fc2(F.relu(self.fc1(h)))))


def input_ignoring_mlp() -> nn.Module:
    """A model that ignores its input: caught by ``zero_input_baseline``."""
    return InputIgnoringMLP()


def hot_init_mlp() -> nn.Module:
    """Final layer initialised 30x too large: caught by ``loss_at_init``."""
    model = MLP()
    with torch.no_grad():
        model.head.weight.mul_(30.0)
        model.head.bias.mul_(30.0)
    return model


class SignMLP(MLP):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BUG: sign() has zero derivative everywhere, so nothing can learn.
        return 3.0 * torch.sign(self.head(F.relu(self.fc2(F.relu(self.fc1(x))))))


def sign_mlp() -> nn.Module:
    """A non-differentiable output (sign): caught by ``lr_range`` (no LR lowers the loss)."""
    return SignMLP()


def wrong_classes_mlp() -> nn.Module:
    """Predicts 3 classes for data with 8: caught by ``forward``."""
    return MLP(out=3)


def not_a_model() -> list[int]:
    """Returns a list, not a model: `wandbkit smoke` exits 2 with a clear message."""
    return [1, 2, 3]


if __name__ == "__main__":
    # The Python call behind `wandbkit smoke`, on the healthy model and on one planted bug.
    from rich.console import Console

    from wandbkit_torch.smoke import run_smoke

    # All nine checks on the healthy model, then only the check that catches the planted bug.
    for factory, checks in ((healthy_mlp, None), (batch_mixing_mlp, ["batch_independence"])):
        report = run_smoke(factory, blobs, device="cpu", checks=checks)
        report.render(Console())
        print(f"{factory.__name__}: {report.status}, exit code {report.exit_code}")
