"""The flusher hands the GIL to the training thread while it delivers a long batch.

What is checked is the mechanism, not a speed: before each sink's share of a batch, and inside the
W&B writer's loop once its yield interval has passed, ``yield_gil`` runs (a real sleep, so a
thread waiting for the GIL takes it).
"""

from __future__ import annotations

import time
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


def test_rows_logged_while_a_batch_is_written_wait_for_the_next_wake_up(
        offline_env: Path) -> None:
    """A drain delivers what was queued when it began: rows that arrive meanwhile go in the next
    batch, at the next wake-up. (Taking them at once makes each batch as small as the time the
    previous one took, so the sinks' per-batch costs run all the time beside the training loop.)"""
    run = wandbkit.init(project="batches", mode="offline", flush_interval=30)
    f = run._flusher
    assert f is not None
    (store,) = [s for s in f.sinks if s.name == "store"]
    written = store.write
    batches: list[tuple[int, bool]] = []  # (rows, was the run finishing when it was written)

    def write_and_log(rows: list) -> None:
        batches.append((len(rows), f.stopping))
        if len(batches) == 1:
            run.log({"late": 1.0})  # arrives while the first batch is being written
        written(rows)

    store.write = write_and_log  # type: ignore[method-assign]
    for step in range(10):
        run.log({"loss": float(step)})
    f.wake.set()  # as run.flush() does; the next wake-up after this one is finish()'s
    deadline = time.monotonic() + 60
    while f.rows_processed < 10 and time.monotonic() < deadline:
        time.sleep(0.005)
    report = run.finish()
    assert batches == [(10, False), (1, True)]
    assert {s.name: s.rows_delivered for s in report.sinks} == {"wandb": 11, "store": 11}
