"""``wandbkit demo`` stage ``preempt``: a training job gets SIGUSR1 (Slurm's warning before the
time limit), saves a ``preempt`` checkpoint at its next step and exits; restarted with the same
environment it continues the same run, and its losses equal an uninterrupted job's, bit for bit.

``python -m wandbkit_artifacts.preempt_demo STEPS DELAY`` is the job: a tiny regression in the
run ``resume="auto"`` finds (``$WANDBKIT_RUN_ID``), one JSON line per step on stdout.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

PREEMPT_AFTER = 3  # steps the job has done when the signal comes


def train(steps: int, delay: float) -> None:
    """The job: train ``steps`` steps, continuing the stored run and its newest checkpoint."""
    import time

    import torch

    import wandbkit
    from wandbkit_artifacts import CheckpointManager, resume

    run = wandbkit.init(project=os.environ.get("WANDBKIT_PROJECT", "wandbkit-demo"),
                        name="preemptible", resume="auto", config={"steps": steps, "lr": 1e-2})
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Dropout(0.1),
                                torch.nn.Linear(16, 1))
    opt = torch.optim.Adam(model.parameters(), lr=run.config["lr"])
    # One checkpoint name per job: the uninterrupted reference job runs beside this one in the
    # same store, and `latest` of a shared name would be whichever job saved last.
    name = f"preemptible-{run.id}"
    ckpt = CheckpointManager(run, name, keep_last_k=2, every_n_steps=5, preempt=True)
    state = resume(name, model, opt, missing_ok=True) if run.resumed else None
    start = state.step + 1 if state is not None else 0
    for step in range(start, steps):
        x = torch.randn(16, 4)
        loss = torch.nn.functional.mse_loss(model(x), x.sum(1, keepdim=True).sin())
        opt.zero_grad()
        loss.backward()
        opt.step()
        run.log({"train/loss": loss.item()}, step=step)
        print(json.dumps({"step": step, "loss": loss.item().hex()}), flush=True)
        ckpt.save(step, model, opt)  # the safe point: on a preemption it saves and exits here
        time.sleep(delay)
    ckpt.finish()
    run.finish(quiet=True)


def _job(ctx: Any, run_id: str, steps: int, delay: float) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env.update(WANDBKIT_DIR=str(ctx.store_dir), WANDBKIT_RUN_ID=run_id,
               WANDBKIT_PROJECT=ctx.project, WANDB_MODE=ctx.mode, WANDBKIT_QUIET="1")
    return subprocess.Popen([sys.executable, "-m", "wandbkit_artifacts.preempt_demo", str(steps),
                             str(delay)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=str(ctx.work_dir))


def _losses(text: str) -> dict[int, str]:
    rows = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return {r["step"]: r["loss"] for r in rows}


def _finish(proc: subprocess.Popen[str], seen: str = "") -> tuple[int, dict[int, str], str]:
    try:
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, _losses(seen + out), err


def run_stage(ctx: Any) -> dict[str, Any]:
    """Preempt a job, restart it, and check the run and the losses; returns the facts."""
    from wandbkit.store import Store

    steps = 12 if ctx.quick else 40
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    run_id = f"preempt-{os.getpid()}"
    task = ctx.progress.add_task("preempt: job 1 of 2", total=3) if ctx.progress else None
    reference = _job(ctx, f"{run_id}-ref", steps, 0.0)  # the same job, never interrupted
    job = _job(ctx, run_id, steps, 0.1)
    seen = ""
    assert job.stdout is not None
    while seen.count("\n") < PREEMPT_AFTER:
        line = job.stdout.readline()
        if not line:
            break
        seen += line
    job.send_signal(signal.SIGUSR1)
    code, first, err = _finish(job, seen)
    if code != 128 + signal.SIGUSR1 or not first:
        raise RuntimeError(f"the preempted job exited {code}: {err.strip()[-500:]}")
    if task is not None:
        ctx.progress.update(task, advance=1, description="preempt: the restarted job")
    code, second, err = _finish(_job(ctx, run_id, steps, 0.0))
    if code != 0:
        raise RuntimeError(f"the restarted job exited {code}: {err.strip()[-500:]}")
    code, straight, err = _finish(reference)
    if code != 0:
        raise RuntimeError(f"the uninterrupted job exited {code}: {err.strip()[-500:]}")
    if task is not None:
        ctx.progress.update(task, advance=2)
    stopped = max(first)
    record = Store.open(ctx.store_dir).get_run(run_id)
    facts = {"run": run_id, "preempted_after_step": stopped, "resumed_at_step": min(second),
             "state": record.state, "resumed": record.resumed,
             "bit_exact": {**first, **second} == straight}
    if not facts["bit_exact"] or record.resumed != 1 or record.state != "finished":
        raise RuntimeError(f"the resumed job did not continue exactly: {facts}")
    return facts


if __name__ == "__main__":
    train(int(sys.argv[1]), float(sys.argv[2]))
