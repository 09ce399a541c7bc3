"""Red flags: a planted NaN is reported with the module that produced it, through run.alert
(kept in the store), and the warn / stop / raise policies do what they say."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from torch import nn
from torch_tracker_helpers import batch, new_run, train

from wandbkit.errors import UserError
from wandbkit.store import Store
from wandbkit_torch.red_flags import RedFlagError, RedFlagPolicy
from wandbkit_torch.tracker import Tracker


class GoesNaN(nn.Module):
    """Outputs NaN from its ``start``-th call on (a planted bug: a 0/0 in a custom layer)."""

    def __init__(self, start: int) -> None:
        super().__init__()
        self.start = start
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls > self.start:
            return torch.full_like(x, float("nan"))
        return x


def planted(start: int = 3) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(OrderedDict(fc1=nn.Linear(8, 16), act=nn.ReLU(),
                                     bad=GoesNaN(start), fc2=nn.Linear(16, 3)))


def _tracker(run, model, flush_every: int = 1, **policy) -> tuple[Tracker, torch.optim.Optimizer]:
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    return Tracker(run, model, opt, stats_every=1, hist_every=0, system_every_s=0,
                   flush_every=flush_every, red_flags=RedFlagPolicy(**policy)), opt


def test_raise_names_the_module_when_hooks_are_on_from_the_start() -> None:
    run = new_run()
    model = planted(start=3)
    tracker, opt = _tracker(run, model, action="raise", nan_hooks=True)
    with pytest.raises(RedFlagError, match="bad") as info:
        train(tracker, model, opt, steps=20)
    assert info.value.flag.kind == "nonfinite_loss"
    assert info.value.flag.step == 3 and info.value.flag.module == "bad"
    tracker.close()
    run.finish()
    alerts = Store.open(run.store_dir).alerts(run.id)
    assert alerts[0]["title"] == "Non-finite loss" and alerts[0]["level"] == "error"
    assert "first non-finite output in forward: bad" in alerts[0]["text"]


def test_hooks_installed_after_the_first_nan_name_the_module_and_warn_goes_on() -> None:
    run = new_run()
    model = planted(start=3)
    tracker, opt = _tracker(run, model)  # defaults: warn, hooks after the first NaN
    train(tracker, model, opt, steps=10)
    tracker.close()
    run.finish()
    kinds = {f.kind: f for f in tracker.red_flags}
    assert kinds["nonfinite_loss"].step == 3 and kinds["nonfinite_loss"].module is None
    assert kinds["nonfinite_forward"].module == "bad"
    # the gradient flag names the group nearest the NaN: fc2, right after `bad`
    assert kinds["nonfinite_grad"].module == "fc2"
    assert tracker.global_step == 10  # warn: training went on
    titles = [a["title"] for a in Store.open(run.store_dir).alerts(run.id)]
    assert {"Non-finite loss", "Non-finite gradients", "Non-finite forward output"} <= set(titles)


def test_raise_waits_for_late_hooks_to_name_the_module() -> None:
    with new_run() as run:
        model = planted(start=2)
        tracker, opt = _tracker(run, model, action="raise")
        with pytest.raises(RedFlagError) as info:
            train(tracker, model, opt, steps=20)
        assert info.value.flag.module == "bad"
        assert "first non-finite forward output: bad" in str(info.value)
        tracker.close()


def test_with_the_default_check_interval_the_flag_still_names_the_step() -> None:
    # Values are copied to the host for checking every 10 steps: the flag says step 3 and the
    # exception comes at the check after it.
    with new_run() as run:
        model = planted(start=3)
        tracker, opt = _tracker(run, model, flush_every=10, action="raise", nan_hooks=True)
        with pytest.raises(RedFlagError) as info:
            train(tracker, model, opt, steps=30)
        assert info.value.flag.step == 3 and info.value.flag.module == "bad"
        assert tracker.global_step == 10
        tracker.close()


def test_stop_policy_sets_should_stop() -> None:
    with new_run() as run:
        model = planted(start=4)
        tracker, opt = _tracker(run, model, action="stop", nan_hooks=True)
        train(tracker, model, opt, steps=30)
        tracker.close()
    assert tracker.should_stop
    assert tracker.global_step < 10  # the loop broke out well before 30 steps


def test_gradient_explosion_against_the_median() -> None:
    with new_run() as run:
        model = planted(start=10**9)
        tracker, opt = _tracker(run, model, explosion_factor=10.0, explosion_min_history=5)

        for step in range(15):
            x, y = batch(step)
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            total = torch.nn.utils.clip_grad_norm_(model.parameters(), 1e9)
            if step == 12:
                total = total * 1000.0  # a spike, as the clip reports it
            opt.step()
            tracker.step(loss, batch_size=16, grad_norm=total)
            opt.zero_grad(set_to_none=True)
        tracker.close()
    flags = [f for f in tracker.red_flags if f.kind == "grad_explosion"]
    assert [f.step for f in flags] == [12]
    assert "x the median" in flags[0].text


def test_loss_plateau() -> None:
    with new_run() as run:
        model = planted(start=10**9)
        opt = torch.optim.SGD(model.parameters(), lr=0.0)  # nothing learns
        tracker = Tracker(run, model, opt, stats_every=0, hist_every=0, system_every_s=0,
                          red_flags=RedFlagPolicy(plateau_window=5))
        for _ in range(12):
            tracker.step(torch.tensor(1.0), batch_size=1)
        tracker.close()
    flags = [f for f in tracker.red_flags if f.kind == "loss_plateau"]
    assert [f.step for f in flags] == [5]


@pytest.mark.parametrize("kwargs, message", [
    ({"action": "panic"}, "action='panic'"),
    ({"nan_hooks": "sometimes"}, "nan_hooks='sometimes'"),
    ({"explosion_factor": 0.5}, "explosion_factor=0.5"),
    ({"plateau_window": -1}, "plateau_window=-1"),
])
def test_bad_policy_is_a_user_error(kwargs: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        RedFlagPolicy(**kwargs)
