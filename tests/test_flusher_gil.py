"""The flusher hands the GIL to the training thread while it delivers a long batch.

What is checked is the mechanism, not a speed: before each sink's share of a batch, and inside the
W&B writer's loop once its yield interval has passed, ``yield_gil`` runs (a real sleep, so a
thread waiting for the GIL takes it).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import wandbkit
from wandbkit import flusher


def test_a_batch_is_delivered_with_the_gil_handed_over_between_sinks_and_rows(
        offline_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = flusher.yield_gil
    monkeypatch.setattr(flusher, "yield_gil", lambda: calls.append(1) or real())
    monkeypatch.setattr(flusher, "GIL_YIELD_S", 1e-9)  # due at every row of the writer's loop
    run = wandbkit.init(project="gil", mode="offline", flush_interval=30)
    for step in range(200):
        run.log({"loss": 1.0 / (step + 1), "acc": step * 0.01})
    run.flush()
    between_sinks, rows = 2, 200
    assert len(calls) >= between_sinks + rows - 1
    report = run.finish()
    assert report.complete and {s.name: s.rows_delivered for s in report.sinks} == {
        "wandb": 200, "store": 200}


def test_the_yield_sleeps_only_while_it_is_switched_on(monkeypatch: pytest.MonkeyPatch) -> None:
    slept = []
    monkeypatch.setattr(flusher.time, "sleep", slept.append)
    flusher.yield_gil()
    monkeypatch.setattr(flusher, "GIL_YIELD_S", 0.0)
    flusher.yield_gil()
    assert slept == [1e-6]  # a real sleep: sleep(0) would take the GIL straight back
