"""Under torchrun: every rank calls save; only rank 0 writes. Prints each rank's results."""

import json

import torch
import torch.distributed as dist

from wandbkit_artifacts import CheckpointManager


def main() -> None:
    dist.init_process_group("gloo")
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    ckpt = CheckpointManager(None, "ddp", async_save=True)
    saved = []
    for step in (1, 2, 3):
        model(torch.randn(3, 4)).sum().backward()  # gradients all-reduced across ranks
        opt.step()
        result = ckpt.save(step, model.module, opt)
        saved.append(result.saved)
    ckpt.finish()
    print(json.dumps({"rank": dist.get_rank(), "saved": saved}), flush=True)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
