"""Save a few-MB model in a loop forever (until killed); prints "saving" once started.

``save_loop.py NAME ASYNC KEEP`` -- the SIGKILL test kills this at random moments.
"""

import sys

import torch

from wandbkit_artifacts import CheckpointManager


def main() -> None:
    name, async_save, keep = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3])
    torch.manual_seed(0)
    model = torch.nn.Sequential(*[torch.nn.Linear(512, 512) for _ in range(8)])  # ~8 MB
    opt = torch.optim.Adam(model.parameters())
    ckpt = CheckpointManager(None, name, keep_last_k=keep or None, async_save=async_save)
    print("saving", flush=True)
    step = 0
    while True:
        step += 1
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.01)
        ckpt.save(step, model, opt, metrics={"step": step})
        if keep == 0 and step >= 3:
            ckpt.finish()
            return


if __name__ == "__main__":
    main()
