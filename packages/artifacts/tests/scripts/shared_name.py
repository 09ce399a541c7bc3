"""One job of the shared-name scenario, written as the package README shows a resumable job:
``init(resume="auto")``, a ``CheckpointManager`` named ``mlp`` and ``resume("mlp", ...)``.

Args: ``--steps N`` (train to step N), ``--kill-at K`` (SIGKILL itself after step K, once the
saves so far are on disk), ``--seed S``. Prints one JSON line when it starts training (run id,
first step, the version it resumed from and a digest of the weights it resumed with) and one
when it ends.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal

import torch

import wandbkit
from wandbkit_artifacts import CheckpointManager, resume


def weights_digest(model: torch.nn.Module) -> str:
    """A digest of the model's weights (equal weights, equal digest)."""
    h = hashlib.sha256()
    for key, tensor in sorted(model.state_dict().items()):
        h.update(key.encode())
        h.update(tensor.detach().contiguous().numpy().tobytes())
    return h.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--kill-at", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    run = wandbkit.init(project="shared", resume="auto")
    torch.manual_seed(args.seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    ckpt = CheckpointManager(run, "mlp", every_n_steps=20, keep_last_k=2, metric="loss",
                             keep_best_k=2)
    state = resume("mlp", model, opt, missing_ok=True)
    start = state.step + 1 if state is not None else 1
    print(json.dumps({"run": run.id, "start": start, "from": state.ref if state else None,
                      "from_run": state.manifest["run_id"] if state else None,
                      "weights": weights_digest(model)}), flush=True)
    for step in range(start, args.steps + 1):
        x = torch.randn(32, 4)
        loss = torch.nn.functional.mse_loss(model(x), x.sum(1, keepdim=True))
        opt.zero_grad()
        loss.backward()
        opt.step()
        run.log({"loss": loss}, step=step)
        ckpt.save(step, model, opt, metrics={"loss": loss.item()})
        if step == args.kill_at:
            ckpt.wait()  # the saves so far are listed; the kill comes between two saves
            os.kill(os.getpid(), signal.SIGKILL)
    ckpt.finish()
    run.finish()
    print(json.dumps({"run": run.id, "end": args.steps}), flush=True)


if __name__ == "__main__":
    main()
