"""Run under ``torchrun --nproc_per_node=2``: a tiny DDP model where each rank logs a known,
different loss; rank 0 writes what it logged to ``argv[1]``.

With ``argv[2] == "stop"``, rank 1's loss turns NaN at step 3 under ``action="stop"``; every
rank writes the step at which it stopped to ``argv[1].<rank>``."""

from __future__ import annotations

import json
import sys

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from wandbkit_torch.distributed import init_run
from wandbkit_torch.red_flags import RedFlagPolicy
from wandbkit_torch.tracker import Tracker

STEPS = 12


def main(out: str, mode: str) -> None:
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
                      system_every_s=0, red_flags=RedFlagPolicy(action="stop"))
    for step in range(STEPS if mode != "stop" else 30):
        x = torch.randn(8, 4) + rank
        loss = model(x).pow(2).mean()
        loss.backward()
        tracker.after_backward()
        opt.step()
        known = loss.detach() * 0 + (rank + 1) * 10 + step  # rank 0: 10+s, rank 1: 20+s
        if mode == "stop" and rank == 1 and step == 3:
            known = known * float("nan")
        dist.all_reduce = counting
        tracker.step(known, batch_size=8 * (rank + 1))
        dist.all_reduce = real
        opt.zero_grad(set_to_none=True)
        if tracker.should_stop:
            break
    dist.all_reduce = counting
    tracker.close()
    dist.all_reduce = real
    with open(f"{out}.{rank}", "w") as f:
        json.dump({"stopped_at": tracker.global_step, "flags": [
            (flag.kind, flag.step) for flag in tracker.red_flags]}, f)
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
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "mean")
