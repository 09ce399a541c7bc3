"""Run under ``torchrun --nproc_per_node=2``: a tiny DDP model where each rank logs a known,
different loss; rank 0 writes what it logged to ``argv[1]``."""

from __future__ import annotations

import json
import sys

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from wandbkit_torch.distributed import init_run
from wandbkit_torch.tracker import Tracker

STEPS = 12


def main(out: str) -> None:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(0)
    model = DistributedDataParallel(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    run = init_run(project="ddp", mode="offline")
    calls = {"all_reduce": 0}
    real = dist.all_reduce

    def counting(*args, **kwargs):  # counts the tracker's collectives and DDP's alike
        calls["all_reduce"] += 1
        return real(*args, **kwargs)

    tracker = Tracker(run, model, opt, stats_every=4, hist_every=4, flush_every=5,
                      system_every_s=0)
    for step in range(STEPS):
        x = torch.randn(8, 4) + rank
        loss = model(x).pow(2).mean()
        loss.backward()
        tracker.after_backward()
        opt.step()
        known = loss.detach() * 0 + (rank + 1) * 10 + step  # rank 0: 10+s, rank 1: 20+s
        dist.all_reduce = counting
        tracker.step(known, batch_size=8 * (rank + 1))
        dist.all_reduce = real
        opt.zero_grad(set_to_none=True)
    dist.all_reduce = counting
    tracker.close()
    dist.all_reduce = real
    if rank == 0:
        run.finish()
        with open(out, "w") as f:
            json.dump({"run_id": run.id, "store": str(run.store_dir),
                       "collectives": calls["all_reduce"]}, f)
    else:
        assert run is None
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
