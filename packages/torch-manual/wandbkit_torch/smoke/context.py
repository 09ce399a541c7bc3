"""What every smoke check receives: the model factory, a few examples, the loss and settings.

Third-party checks (registered through ``wandbkit_register_smoke_checks``) get the same object,
so its public methods are the API for writing a check: ``fresh_model()``, ``batch(n)``,
``forward(model, x)``, ``loss(output, y)``, ``sample_loss(output, y, i)``, ``optimizer(model)``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from wandbkit.errors import UserError
from wandbkit_torch.smoke.data import SmokeData

TASKS = ("classification", "lm", "regression")


@dataclass
class SmokeSettings:
    """Sizes and thresholds of the checks; the defaults keep a small MLP under a few seconds."""

    seed: int = 0
    batch_size: int = 16            # examples per forward/backward and in the overfit batch
    loss_init_pass: float = 0.25    # |actual - log C| / log C at or under this: pass
    loss_init_warn: float = 0.5     # ... at or under this: warn; above: fail
    overfit_steps: int = 100
    overfit_lr: float = 3e-3
    overfit_fraction: float = 0.1   # pass when the final loss < fraction * initial loss
    baseline_steps: int = 50
    baseline_margin: float = 0.8    # pass when real-input loss < margin * zero-input loss
    independence_samples: int = 4
    lr_min: float = 1e-6
    lr_max: float = 10.0
    lr_steps: int = 60
    determinism_steps: int = 5
    quick_examples: int = 100
    quick_epochs: int = 10
    quick_batch_size: int = 10
    quick_lr: float = 1e-3


@dataclass
class SmokeContext:
    """The model, data, loss and settings shared by the checks of one smoke run."""

    model_factory: Callable[[], nn.Module]
    data: SmokeData
    task: str
    device: torch.device
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    settings: SmokeSettings = field(default_factory=SmokeSettings)
    out_dir: Path = field(default_factory=lambda: default_out_dir(None, None))
    run: Any = None

    @property
    def custom_loss(self) -> bool:
        """True when the user supplied ``--loss``."""
        return self.loss_fn is not None

    def seed_everything(self, seed: int | None = None) -> None:
        """Seed Python, numpy and torch (CPU and CUDA) with ``seed`` (default: settings.seed)."""
        s = self.settings.seed if seed is None else seed
        random.seed(s)
        np.random.seed(s)
        torch.manual_seed(s)

    def fresh_model(self, seed: int | None = None, train: bool = True) -> nn.Module:
        """A newly built model from the factory after seeding, on the device."""
        self.seed_everything(seed)
        model = self.model_factory()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model factory returned {type(model).__name__}, not torch.nn.Module")
        model.to(self.device)
        model.train(train)
        return model

    def batch(self, n: int | None = None, start: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` examples (default: settings.batch_size) as device tensors."""
        x, y = self.data.take(n or self.settings.batch_size, start)
        return x.to(self.device), y.to(self.device)

    def forward(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Run the model and return its prediction tensor (``logits`` of richer outputs)."""
        return extract_output(model(x))

    def loss(self, output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The scalar training loss: the user's ``--loss`` or the task's default."""
        if self.loss_fn is not None:
            return self.loss_fn(output, y)
        if self.task == "regression":
            return F.mse_loss(output, y.to(output.dtype))
        return F.cross_entropy(output.reshape(-1, output.shape[-1]).float(), y.reshape(-1))

    def sample_loss(self, output: torch.Tensor, y: torch.Tensor, i: int) -> torch.Tensor:
        """The loss of example ``i`` alone, taken from a full-batch output."""
        return self.loss(output[i:i + 1], y[i:i + 1])

    def optimizer(self, model: nn.Module, lr: float) -> torch.optim.Optimizer:
        """Adam over the trainable parameters."""
        return torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)

    def train_steps(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int,
                    lr: float) -> list[float]:
        """Train on one fixed batch for ``steps`` Adam steps; the loss before each step."""
        opt = self.optimizer(model, lr)
        losses = []
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            loss = self.loss(self.forward(model, x), y)
            loss.backward()
            opt.step()
            losses.append(loss.detach())
        # One device->host copy for the whole curve instead of one sync per step.
        return torch.stack(losses).float().cpu().tolist() if losses else []


def extract_output(out: Any) -> torch.Tensor:
    """The prediction tensor of a model output: a tensor, ``.logits``, ``["logits"]`` or ``[0]``."""
    if isinstance(out, torch.Tensor):
        return out
    logits = getattr(out, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    if isinstance(out, dict) and isinstance(out.get("logits"), torch.Tensor):
        return out["logits"]
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    raise TypeError(f"model output is a {type(out).__name__}; expected a tensor, a tuple whose "
                    f"first item is the prediction, or an object with .logits")


def infer_task(targets: torch.Tensor) -> str:
    """Guess the task from the targets: float -> regression, (B, T) ints -> lm, (B,) -> class."""
    if targets.is_floating_point():
        return "regression"
    return "lm" if targets.dim() >= 2 else "classification"


def resolve_device(device: str | None) -> torch.device:
    """``cpu``, ``cuda`` or ``cuda:N``; ``None`` picks CUDA when present, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(f"--device {device}: CUDA is not available on this machine "
                            f"(torch {torch.__version__}); use --device cpu")
        try:
            dev = torch.device(device)
        except RuntimeError as exc:
            raise UserError(f"--device {device!r}: {exc}") from exc
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UserError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s)")
        return dev
    raise UserError(f"--device {device!r}: expected cpu or cuda")


def default_out_dir(out_dir: str | Path | None, run: Any) -> Path:
    """``out_dir`` if given, else ``smoke/<run id>`` (a timestamp without a run) in the local
    store root: the run's ``store_dir``, ``$WANDBKIT_DIR`` or ``./wandbkit-runs``."""
    if out_dir is not None:
        return Path(out_dir)
    from wandbkit.store import default_root

    root = getattr(run, "store_dir", None) or default_root()
    leaf = getattr(run, "id", None) or datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(root) / "smoke" / leaf
