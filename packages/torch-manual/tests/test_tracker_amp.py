"""GradScaler handling: skipped (inf) steps are counted, the scale is logged, and norms are
of unscaled gradients whether or not the loop called ``unscale_`` first."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch_tracker_helpers import batch, new_run, store_history, tiny_mlp

from wandbkit_torch.tracker import Tracker

INF_STEPS = {2, 5}


def _amp_loop(unscale_first: bool) -> tuple[dict, dict, Tracker]:
    run = new_run()
    model = tiny_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=1000)
    tracker = Tracker(run, model, opt, scaler=scaler, stats_every=1, hist_every=0,
                      system_every_s=0)
    ref_norms = {}
    for step in range(8):
        x, y = batch(step)
        loss = nn.functional.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        if step in INF_STEPS:
            next(model.parameters()).grad[0, 0] = float("inf")  # what an fp16 overflow does
        if unscale_first:
            scaler.unscale_(opt)
            ref = math.sqrt(sum(float(p.grad.double().norm()) ** 2 for p in model.parameters()))
        else:
            scale = float(scaler.get_scale())
            ref = math.sqrt(sum(float(p.grad.double().norm()) ** 2
                                for p in model.parameters())) / scale
        ref_norms[step] = ref
        tracker.after_backward()
        scaler.step(opt)
        scaler.update()
        tracker.step(loss, batch_size=16)
        opt.zero_grad(set_to_none=True)
    tracker.close()
    run.finish()
    return store_history(run), ref_norms, tracker


@pytest.mark.parametrize("unscale_first", [True, False])
def test_skipped_steps_scale_and_unscaled_norms(unscale_first: bool) -> None:
    h, ref_norms, tracker = _amp_loop(unscale_first)
    assert tracker.red_flags == []  # inf gradients under a GradScaler are routine, not a flag
    skipped = h["amp/skipped_steps"]
    assert skipped == {s: float(sum(1 for i in INF_STEPS if i <= s)) for s in range(8)}
    # backoff 0.5 at every skipped step, no growth within 1000 steps
    assert h["amp/scale"] == {s: 1024.0 * 0.5 ** skipped[s] for s in range(8)}
    for step, ref in ref_norms.items():
        if step in INF_STEPS:
            assert math.isinf(h["grad/global_norm"][step])
        else:
            assert h["grad/global_norm"][step] == pytest.approx(ref, rel=1e-5)
