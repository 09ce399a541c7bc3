"""``wandbkit demo``: a real (tiny) training run, tracked end to end, offline by default.

A two-layer numpy MLP learns two interleaved spirals with SGD + momentum and a cosine learning
rate. It logs train and validation loss/accuracy, the learning rate, gradient and weight norms,
weight histograms, a picture of the decision boundary and a table of mistakes — everything a
user would look at — then prints the loss curve from the local store.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from rich.progress import Progress
from rich.text import Text

import wandbkit
from wandbkit.cli.output import console, print_run, run_details
from wandbkit.store import Store


def spirals(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points on two interleaved spirals with a little noise; labels 0/1."""
    t = np.sqrt(rng.uniform(0.05, 1.0, n)) * 3 * math.pi
    y = rng.integers(0, 2, n)
    sign = np.where(y == 0, 1.0, -1.0)
    x = np.stack([sign * t * np.cos(t), sign * t * np.sin(t)], axis=1) / (3 * math.pi)
    return x + rng.normal(0, 0.03, x.shape), y


class MLP:
    """2 → hidden → 2 with tanh, softmax cross-entropy, manual backward."""

    def __init__(self, hidden: int, rng: np.random.Generator) -> None:
        self.params = {
            "w1": rng.normal(0, 1.0, (2, hidden)), "b1": np.zeros(hidden),
            "w2": rng.normal(0, 1.0 / math.sqrt(hidden), (hidden, 2)), "b2": np.zeros(2),
        }
        self.velocity = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Hidden activations and logits."""
        h = np.tanh(x @ self.params["w1"] + self.params["b1"])
        return h, h @ self.params["w2"] + self.params["b2"]

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float, dict[str, np.ndarray]]:
        """Mean cross-entropy, accuracy and gradients."""
        h, logits = self.forward(x)
        logits = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        n = len(y)
        loss = float(-np.log(p[np.arange(n), y] + 1e-12).mean())
        acc = float((p.argmax(axis=1) == y).mean())
        d_logits = p.copy()
        d_logits[np.arange(n), y] -= 1
        d_logits /= n
        d_h = d_logits @ self.params["w2"].T * (1 - h**2)
        grads = {"w2": h.T @ d_logits, "b2": d_logits.sum(0), "w1": x.T @ d_h, "b1": d_h.sum(0)}
        return loss, acc, grads

    def step(self, grads: dict[str, np.ndarray], lr: float, momentum: float = 0.9) -> None:
        """SGD with momentum."""
        for k, g in grads.items():
            self.velocity[k] = momentum * self.velocity[k] - lr * g
            self.params[k] += self.velocity[k]


def boundary_image(model: MLP, x: np.ndarray, y: np.ndarray, size: int = 160) -> np.ndarray:
    """RGB picture of the predicted class over the plane, with the validation points."""
    grid = np.linspace(-1.2, 1.2, size)
    gx, gy = np.meshgrid(grid, grid[::-1])
    _, logits = model.forward(np.stack([gx.ravel(), gy.ravel()], axis=1))
    p1 = (np.exp(logits[:, 1]) / np.exp(logits).sum(1)).reshape(size, size)
    img = np.stack([0.55 + 0.45 * p1, 0.6 * np.ones_like(p1), 1.0 - 0.45 * p1], axis=-1)
    cols = np.clip(((x[:, 0] + 1.2) / 2.4 * (size - 1)).astype(int), 0, size - 1)
    rows = np.clip(((1.2 - x[:, 1]) / 2.4 * (size - 1)).astype(int), 0, size - 1)
    img[rows, cols] = np.where(y[:, None] == 1, [[0.6, 0.0, 0.0]], [[0.0, 0.0, 0.6]])
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def run_demo(steps: int = 300, mode: str = "offline", project: str = "wandbkit-demo",
             store_dir: Path | None = None, seed: int = 0) -> str:
    """Train, track, and print the run; returns the run id."""
    rng = np.random.default_rng(seed)
    x_train, y_train = spirals(2000, rng)
    x_val, y_val = spirals(500, rng)
    config = {"hidden": 64, "lr": 0.5, "momentum": 0.9, "batch_size": 64, "steps": steps,
              "eval_every": 25, "hist_every": 50, "seed": seed}
    model = MLP(config["hidden"], rng)
    run = wandbkit.init(project=project, config=config, mode=mode, dir=store_dir,
                        tags=["demo", "numpy"])
    with run, Progress(transient=True) as progress:
        task = progress.add_task(f"training (run {run.id})", total=steps)
        for step in range(steps):
            lr = config["lr"] * 0.5 * (1 + math.cos(math.pi * step / steps))
            idx = rng.integers(0, len(x_train), config["batch_size"])
            loss, acc, grads = model.loss_and_grads(x_train[idx], y_train[idx])
            grad_norm = math.sqrt(sum(float((g**2).sum()) for g in grads.values()))
            model.step(grads, lr, config["momentum"])
            metrics: dict[str, object] = {"train/loss": loss, "train/acc": acc, "train/lr": lr,
                                          "train/grad_norm": grad_norm}
            if step % config["eval_every"] == 0 or step == steps - 1:
                val_loss, val_acc, _ = model.loss_and_grads(x_val, y_val)
                metrics.update({"val/loss": val_loss, "val/acc": val_acc})
            if step % config["hist_every"] == 0 or step == steps - 1:
                metrics["weights/w1"] = wandbkit.Histogram(model.params["w1"])
            run.log(metrics, step=step)
            progress.advance(task)
        _, logits = model.forward(x_val)
        pred = logits.argmax(1)
        wrong = np.flatnonzero(pred != y_val)[:20]
        run.log({"val/decision_boundary": wandbkit.Image(boundary_image(model, x_val, y_val),
                                                         caption="predicted class, val points"),
                 "val/mistakes": wandbkit.Table(
                     ["x", "y", "label", "predicted"],
                     [[float(x_val[i, 0]), float(x_val[i, 1]), int(y_val[i]), int(pred[i])]
                      for i in wrong])}, step=steps - 1)
        run.summary["val/final_acc"] = float((pred == y_val).mean())
    console().print()
    print_run(run_details(Store.open(run.store_dir), run.id))
    console().print(Text(f"\nnext: `wandbkit runs`, `wandbkit show {run.id}`, "
                         f"`wandbkit export {run.id} --format csv`"))
    return run.id
