"""The drop-in's ``wandb.sweep`` / ``wandb.agent`` reach the ``wandbkit_sweep_call`` hook."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

import wandbkit
from wandbkit import hookimpl
from wandbkit.plugins import get_plugin_manager


class _Recorder:
    """A throwaway sweeps plugin: records each request and answers it."""

    def __init__(self) -> None:
        self.requests: list[Any] = []

    @hookimpl
    def wandbkit_sweep_call(self, request: Any) -> Any:
        self.requests.append(request)
        return "sw123456" if request.call == "sweep" else ["one trial"]


@pytest.fixture
def recorder() -> Any:
    pm = get_plugin_manager()
    plugin = _Recorder()
    pm.register(plugin, name=f"sweep-recorder-{uuid.uuid4().hex[:6]}")
    try:
        yield plugin
    finally:
        pm.unregister(plugin)


def test_hook_sweep_call(recorder: _Recorder) -> None:
    def train() -> None:
        pass

    config = {"method": "random", "parameters": {"x": {"min": 0, "max": 1}}}
    assert wandbkit.sweep(config, project="p", entity="e") == "sw123456"
    assert wandbkit.agent("sw123456", function=train, count=2, project="p") is None
    first, second = recorder.requests
    assert (first.call, first.config, first.project, first.entity) == ("sweep", config, "p", "e")
    assert (second.call, second.sweep_id, second.function, second.count) == \
        ("agent", "sw123456", train, 2)
    assert wandbkit.sweep(lambda: config) == "sw123456"  # wandb also takes a function


def test_sweep_call_checks_arguments(recorder: _Recorder) -> None:
    with pytest.raises(wandbkit.errors.UserError, match="count=0"):
        wandbkit.agent("x", function=print, count=0)
    with pytest.raises(wandbkit.errors.UserError, match="must be a dict"):
        wandbkit.sweep(["not", "a", "config"])  # type: ignore[arg-type]
    assert recorder.requests == []
