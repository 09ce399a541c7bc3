"""The tracker logs the metrics it promises, with values equal to plain reference code, into
both the local store and W&B's offline run."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch_tracker_helpers import (
    batch,
    new_run,
    store_history,
    tiny_mlp,
    train,
    wandb_histogram,
    wandb_history,
)

from wandbkit.errors import UserError
from wandbkit_torch.histograms import DEFAULT_SAMPLE_SIZE
from wandbkit_torch.tracker import Tracker

GROUPS = ["0", "2", "4"]


def test_metrics_reach_store_and_wandb_with_plausible_values() -> None:
    run = new_run()
    model = tiny_mlp()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    tracker = Tracker(run, model, opt, stats_every=5, hist_every=5, system_every_s=0.05)
    train(tracker, model, opt, steps=12)
    tracker.close()
    run.finish()

    h = store_history(run)
    assert sorted(h["train/loss"]) == list(range(12))
    assert all(0.5 < v < 2.0 for v in h["train/loss"].values())  # ~ln(3) at init
    assert set(h["train/lr"].values()) == {1e-3}
    assert all(v > 0 for v in h["perf/step_time_s"].values())
    assert sorted(h["perf/samples_per_s"]) == sorted(h["perf/tokens_per_s"]) == list(range(12))
    for key in ["grad/global_norm", "weight/global_norm", "update_ratio/global",
                *[f"{kind}/{g}" for kind in ("grad_norm", "weight_norm", "update_ratio")
                  for g in GROUPS]]:
        assert sorted(h[key]) == [0, 5, 10], key
        assert all(math.isfinite(v) and v > 0 for v in h[key].values()), key
    # Adam at lr 1e-3 moves each weight by ~1e-3: far below the weight norm.
    assert all(1e-5 < v < 0.1 for v in h["update_ratio/global"].values())
    assert any(k.startswith("system/") for k in h), sorted(h)

    w = wandb_history(run)
    assert {s: w[s]["train/loss"] for s in range(12)} == pytest.approx(h["train/loss"])
    assert w[5]["grad_norm/2"] == pytest.approx(h["grad_norm/2"][5])
    for step in (0, 5, 10):
        hist = wandb_histogram(w[step], "hist/weights/2.weight")
        assert hist["_type"] == "histogram"
        assert sum(hist["values"]) == min(16 * 16, DEFAULT_SAMPLE_SIZE)
        assert len(hist["bins"]) == len(hist["values"]) + 1
        assert wandb_histogram(w[step], "hist/grads/4.bias")["_type"] == "histogram"
    assert wandb_histogram(w[3], "hist/weights/0.weight") == {}


def _ref_group_norms(tensors: dict[str, torch.Tensor]) -> dict[str, float]:
    sq: dict[str, float] = {}
    for name, t in tensors.items():
        group = name.rpartition(".")[0]
        sq[group] = sq.get(group, 0.0) + float(t.double().norm()) ** 2
    return {g: math.sqrt(v) for g, v in sq.items()}


def test_norms_and_update_ratio_equal_a_plain_reference() -> None:
    run = new_run()
    model = tiny_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    tracker = Tracker(run, model, opt, stats_every=3, hist_every=0, system_every_s=0,
                      update_ratio="exact")
    refs: dict[int, dict[str, float]] = {}
    for step in range(7):
        x, y = batch(step)
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        tracker.after_backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters()}
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        opt.step()
        after = {n: p.detach().clone() for n, p in model.named_parameters()}
        tracker.step(loss, batch_size=16)
        opt.zero_grad(set_to_none=True)
        g, wn = _ref_group_norms(grads), _ref_group_norms(after)
        u = _ref_group_norms({n: after[n] - before[n] for n in after})
        ref = {f"grad_norm/{k}": v for k, v in g.items()}
        ref.update({f"weight_norm/{k}": v for k, v in wn.items()})
        ref.update({f"update_ratio/{k}": u[k] / wn[k] for k in u})
        ref["grad/global_norm"] = math.sqrt(sum(v ** 2 for v in g.values()))
        ref["weight/global_norm"] = math.sqrt(sum(v ** 2 for v in wn.values()))
        ref["update_ratio/global"] = math.sqrt(sum(v ** 2 for v in u.values())) / \
            ref["weight/global_norm"]
        refs[step] = ref
    tracker.close()
    run.finish()
    h = store_history(run)
    for step in (0, 3, 6):
        for key, value in refs[step].items():
            assert h[key][step] == pytest.approx(value, rel=1e-5), (key, step)
    assert 1 not in h["grad_norm/0"]


def test_sampled_update_ratio_is_close_to_the_exact_one() -> None:
    from wandbkit_torch.norms import ParamIndex, SampledUpdateTracker, UpdateTracker

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    index = ParamIndex.build(model)
    exact, sampled = UpdateTracker(index), SampledUpdateTracker(index, sample_size=4096)
    worst = 0.0
    for _ in range(5):
        x = torch.randn(64, 512)
        nn.functional.cross_entropy(model(x), torch.randint(0, 10, (64,))).backward()
        exact.snapshot()
        sampled.snapshot()
        opt.step()
        opt.zero_grad(set_to_none=True)
        e, s = exact.update_norms(), sampled.update_norms()
        assert float(s[1]) == pytest.approx(float(e[1]), rel=1e-5)  # 512-element bias: exact
        rel = ((s - e).abs() / e).max().item()
        worst = max(worst, rel)
    assert worst < 0.05, worst  # 512x512 and 512x10 weights from 4096 samples each


def test_group_depth_clip_norm_and_mfu() -> None:
    run = new_run()
    model = nn.Sequential()
    model.add_module("body", tiny_mlp())
    model.add_module("head", nn.Linear(3, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    tracker = Tracker(run, model, opt, group_by=1, stats_every=2, hist_every=0,
                      system_every_s=0, flops_per_token=1000.0, peak_flops=1e9)
    clip_norms = {}
    for step in range(4):
        x, y = batch(step)
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        tracker.after_backward()
        total = torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        clip_norms[step] = float(total)
        opt.step()
        tracker.step(loss, batch_size=16, tokens=128, grad_norm=total)
        opt.zero_grad(set_to_none=True)
    tracker.close()
    run.finish()
    h = store_history(run)
    assert sorted(k for k in h if k.startswith("grad_norm/")) == ["grad_norm/body",
                                                                  "grad_norm/head"]
    assert h["grad/global_norm"] == pytest.approx(clip_norms)  # every step, from the clip
    assert sorted(h["perf/mfu"]) == [0, 1, 2, 3]


def test_throughput_and_mfu_against_a_controlled_step_time_and_counted_flops() -> None:
    """Independent numbers: each step lasts at least a known sleep, the tracker's clock reading
    inside ``step()`` lies between this test's readings just before and just after that call,
    and the FLOPs per token are what torch's FlopCounterMode counts for a forward and backward.
    Nothing here depends on how fast the machine is."""
    import time

    from torch.utils.flop_counter import FlopCounterMode

    model = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 3))
    x, y = batch(0)
    tokens = len(x) * 8  # the tokens this toy "step" processes, as the user declares them
    with FlopCounterMode(display=False) as counter:
        nn.functional.cross_entropy(model(x), y).backward()
    flops_per_token = counter.get_total_flops() / tokens
    assert flops_per_token > 0
    model.zero_grad(set_to_none=True)

    run = new_run()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    peak = 1e9
    tracker = Tracker(run, model, opt, stats_every=0, hist_every=0, system_every_s=0,
                      flops_per_token=flops_per_token, peak_flops=peak)
    sleep_s = 0.02
    before: list[float] = []  # this test's clock just before each step() call ...
    after: list[float] = []   # ... and just after it returned
    for _ in range(5):
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        time.sleep(sleep_s)  # part of every step's wall time
        before.append(time.perf_counter())
        tracker.step(loss, batch_size=len(x), tokens=tokens)
        after.append(time.perf_counter())
    tracker.close()
    run.finish()
    h = store_history(run)
    for step in range(1, 5):  # step 0 also counts the time since the tracker was made
        step_time = h["perf/step_time_s"][step]
        # the tracker reads the clock inside step(): between before[k] and after[k]
        assert max(sleep_s, before[step] - after[step - 1]) <= step_time
        assert step_time <= after[step] - before[step - 1]
        assert h["perf/samples_per_s"][step] * step_time == pytest.approx(len(x), rel=1e-9)
        assert h["perf/tokens_per_s"][step] * step_time == pytest.approx(tokens, rel=1e-9)
        # MFU: the counted FLOPs of one step over its duration, against the peak
        flops_per_s = counter.get_total_flops() / step_time
        assert h["perf/mfu"][step] == pytest.approx(flops_per_s / peak, rel=1e-9)


def test_log_adds_values_to_the_current_row_and_log_every_averages_loss() -> None:
    run = new_run()
    model = tiny_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    tracker = Tracker(run, model, opt, log_every=4, stats_every=0, hist_every=0,
                      system_every_s=0)
    for step in range(8):
        if step == 2:
            tracker.log({"val/loss": 0.25})
        tracker.step(torch.tensor(float(step)), batch_size=4)
    tracker.close()
    run.finish()
    h = store_history(run)
    assert h["train/loss"] == {0: 0.0, 4: pytest.approx((1 + 2 + 3 + 4) / 4)}
    assert h["val/loss"] == {2: 0.25}


@pytest.mark.parametrize("kwargs, message", [
    ({"log_every": 0}, "log_every=0"),
    ({"stats_every": -1}, "stats_every=-1"),
    ({"flops_per_token": 10.0}, "needs both"),
    ({"peak_flops": 0.0, "flops_per_token": 1.0}, "peak_flops=0.0"),
    ({"update_ratio": "approx"}, "update_ratio='approx'"),
])
def test_bad_settings_are_user_errors(kwargs: dict, message: str) -> None:
    model = tiny_mlp()
    with new_run() as run, pytest.raises(UserError, match=message):
        Tracker(run, model, torch.optim.SGD(model.parameters(), lr=0.1), system_every_s=0,
                **kwargs)


def test_bad_arguments_are_user_errors() -> None:
    model = tiny_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(UserError, match=r"run=None\) on rank 0"):
        Tracker(None, model, opt)
    with new_run() as run:
        with pytest.raises(UserError, match="expected a torch.optim.Optimizer"):
            Tracker(run, model, "adam")  # type: ignore[arg-type]
        tracker = Tracker(run, model, opt, system_every_s=0)
        with pytest.raises(UserError, match="scalar tensor, got shape"):
            tracker.step(torch.ones(3))
        tracker.close()


def test_run_finish_closes_a_tracker_that_was_not_closed() -> None:
    from wandbkit.plugins import get_plugin_manager

    run = new_run()
    model = tiny_mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    tracker = Tracker(run, model, opt, stats_every=2, hist_every=2, system_every_s=0)
    train(tracker, model, opt, steps=5)
    run.finish()  # no tracker.close(): the run's finishing hook hands everything over
    assert tracker._closed
    assert not [n for n, _ in get_plugin_manager().list_name_plugin()
                if n.startswith("wandbkit_torch.tracker-")]
    h = store_history(run)
    assert sorted(h["train/loss"]) == [0, 1, 2, 3, 4]
    w = wandb_history(run)
    assert wandb_histogram(w[4], "hist/weights/0.weight")["_type"] == "histogram"
