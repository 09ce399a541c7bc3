"""A run whose checkpoint write fails for real; prints the run id as JSON.

``background``: the one save's write on the writer thread hits RLIMIT_FSIZE (what a full disk
does to a write: EFBIG/ENOSPC), and nothing else is saved before the run ends.
``caught``: the write fails, the caller catches the error and goes on, and nothing is saved
after it.
``final``: the policy skipped every step, and the save at finish cannot make its folder (a
file stands where the checkpoint folder must go).
"""

from __future__ import annotations

import json
import resource
import signal
import sys
from pathlib import Path

import torch

import wandbkit
from wandbkit_artifacts import CheckpointError, CheckpointManager

mode = sys.argv[1]
torch.manual_seed(0)
model = torch.nn.Linear(512, 512)  # 1 MB of weights
with wandbkit.init(project="failing", mode="offline") as run:
    print(json.dumps({"id": run.id}), flush=True)
    if mode == "background":
        ckpt = CheckpointManager(run, "big", async_save=True)
        run.log({"loss": 1.0}, step=1)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
        resource.setrlimit(resource.RLIMIT_FSIZE, (512 * 1024, hard))  # the weights are 1 MB
        ckpt.save(1, model)  # returns at once; the write fails on the writer thread
    elif mode == "caught":  # what an integration that must not stop training does
        Path("blocker").write_text("a file where the checkpoint folder must go")
        ckpt = CheckpointManager(run, "caught", dir="blocker")
        run.log({"loss": 1.0}, step=1)
        ckpt.save(1, model)
        try:
            ckpt.wait()
        except CheckpointError as exc:
            print(json.dumps({"caught": str(exc)}), flush=True)
    else:
        Path("blocker").write_text("a file where the checkpoint folder must go")
        ckpt = CheckpointManager(run, "last", every_n_steps=100, dir="blocker")
        for step in range(1, 4):
            run.log({"loss": 1.0 / step}, step=step)
            ckpt.save(step, model)  # skipped by the policy: finish saves step 3
print("script end", flush=True)
