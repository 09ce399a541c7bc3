"""A training job that survives preemption: Slurm warns it, it saves, and the requeued job
continues the same run — same curves, same W&B run, bit-identical losses.

Submit it with Slurm (the two lines that matter are --signal and --requeue):

    #!/bin/bash
    #SBATCH --job-name=preemptible
    #SBATCH --time=04:00:00
    #SBATCH --signal=USR1@90     # SIGUSR1 90 s before the time limit
    #SBATCH --requeue            # the job may be put back in the queue
    #SBATCH --open-mode=append   # keep one log across requeues
    srun python examples/preemptible.py --steps 100000

What happens:

1. ``wandbkit.init(resume="auto")`` takes the run id from Slurm's job id (an array task's
   ``<job>_<task>``), or ``$WANDBKIT_RUN_ID``, or ``.wandbkit-run-id`` in the working folder
   outside Slurm. The first start creates the run; a requeued start continues it.
2. ``CheckpointManager(..., preempt=True)`` catches SIGUSR1 and SIGTERM. The handler only sets
   a flag; the next ``ckpt.save(step, ...)`` — where the step is complete — saves that step with
   the alias ``preempt``, waits until it is on disk, marks the W&B run as preempting, ends the
   run in the state ``preempted``, runs ``scontrol requeue`` and exits with 138 (128 + SIGUSR1).
3. The requeued job resumes the newest of its ``preempt`` and ``latest`` versions (weights,
   optimizer, scheduler and every RNG) and continues at the next step, in the same run.

Checkpoint aliases belong to the run that saved them: other jobs saving ``--name`` in the same
store (another array task, a colleague's run) never become this run's ``latest``, and their
versions are never retired by this run's ``keep_last_k``. ``resume(name)`` inside the run takes
only its own versions; ``NAME@RUN:ALIAS`` loads another run's on purpose.

Try it without Slurm: start it, send ``kill -USR1 <pid>`` from another shell, then run it
again: it continues where it stopped. ``wandbkit runs`` and ``wandbkit show <id>`` show
the run as resumed, with each process that ran it; ``wandbkit sync`` uploads the offline
fragments in order to one W&B run.

    python examples/preemptible.py --steps 300 --delay 0.05
"""

from __future__ import annotations

import argparse
import time

import torch

import wandbkit
from wandbkit_artifacts import CheckpointManager, resume


def get_batch(batch: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Noisy samples of y = sin(3x) on [-1, 1], from torch's global RNG (which the checkpoint
    saves and ``resume`` restores, so a resumed job draws the batches an uninterrupted one would)."""
    x = torch.rand(batch, 1) * 2 - 1
    y = torch.sin(3 * x) + 0.05 * torch.randn(batch, 1)
    return x, y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--every", type=int, default=50, help="regular checkpoint interval")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds of 'work' per step")
    parser.add_argument("--name", default="preemptible-mlp",
                        help="checkpoint name (versions and aliases are kept per run)")
    args = parser.parse_args()

    run = wandbkit.init(project="preemptible", resume="auto", config=vars(args))
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(1, 64), torch.nn.Tanh(), torch.nn.Linear(64, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.steps)
    ckpt = CheckpointManager(run, args.name, every_n_steps=args.every, keep_last_k=2,
                             preempt=True)

    start = 0
    if run.resumed:  # a requeued job: continue from the newest checkpoint, if any was saved
        state = resume(args.name, model, opt, sched, missing_ok=True)  # this run's own only
        start = state.step + 1 if state is not None else 0
        print(f"resumed run {run.id} at step {start}", flush=True)

    for step in range(start, args.steps):
        x, y = get_batch()
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        run.log({"train/loss": loss, "train/lr": sched.get_last_lr()[0]}, step=step)
        ckpt.save(step, model, opt, sched)  # the safe point: a preemption saves and exits here
        time.sleep(args.delay)
        if step % 50 == 0:
            print(f"step {step} loss {loss.item():.4f}", flush=True)

    ckpt.finish()
    run.finish()


if __name__ == "__main__":
    main()
