"""The store's public history API (``Store.rows_since``, ``Store.columns``, ``Series``): real runs
written through ``wandbkit.init`` into a real SQLite store, read back the way plugins read them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import wandbkit
from wandbkit.errors import UserError
from wandbkit.store import Series, Store


def _mixed_run() -> tuple[str, list[tuple[int, dict]]]:
    """A finished run whose rows mix numbers (int, float, NaN, ±inf, bool) and strings, with
    keys that come and go; returns its id and the rows as logged."""
    logged: list[tuple[int, dict]] = []
    with wandbkit.init(project="cols", mode="disabled") as run:
        for step in range(30):
            row: dict = {"loss": 1.0 / (step + 1), "epoch": step // 10}
            if step % 3 == 0:
                row["note"] = f"step {step}"
            if step % 5 == 0:
                row["flag"] = step % 10 == 0
            if step == 7:
                row["loss"] = math.nan
            if step == 8:
                row["loss"] = math.inf
            if step == 9:
                row["loss"] = -math.inf
            run.log(row, step=step)
            logged.append((step, row))
        run_id = run.id
    return run_id, logged


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def _rows_equal(got: list[tuple[int, dict]], want: list[tuple[int, dict]]) -> None:
    assert [s for s, _ in got] == [s for s, _ in want]
    for (_, g), (_, w) in zip(got, want, strict=True):
        assert list(g) == list(w)
        assert all(_same(g[k], w[k]) for k in w), (g, w)


def test_rows_since_pages_through_every_row_in_logging_order(offline_env: Path) -> None:
    run_id, logged = _mixed_run()
    store = Store.open()
    got: list[tuple[int, dict]] = []
    cursor = 0
    while True:
        rows, cursor = store.rows_since(run_id, cursor, limit=7)
        if not rows:
            break
        assert len(rows) <= 7
        got.extend(rows)
    _rows_equal(got, logged)
    assert store.rows_since(run_id, cursor) == ([], cursor)
    everything, end = store.rows_since(run_id)
    _rows_equal(everything, logged)
    assert end == cursor


def test_rows_since_returns_only_rows_logged_after_the_cursor(offline_env: Path) -> None:
    with wandbkit.init(project="cols", mode="disabled") as run:
        for step in range(5):
            run.log({"x": step}, step=step)
        assert run.flush(timeout=30)
        store = Store.open()
        first, cursor = store.rows_since(run.id)
        assert [s for s, _ in first] == [0, 1, 2, 3, 4]
        for step in range(5, 8):
            run.log({"x": step, "tag": "late"}, step=step)
        assert run.flush(timeout=30)
        later, cursor2 = store.rows_since(run.id, cursor)
    assert later == [(5, {"x": 5, "tag": "late"}), (6, {"x": 6, "tag": "late"}),
                     (7, {"x": 7, "tag": "late"})]
    assert cursor2 > cursor


def test_columns_give_every_numeric_point_and_leave_out_non_numbers(offline_env: Path) -> None:
    run_id, logged = _mixed_run()
    store = Store.open()
    cols, cursor = store.columns(run_id, ["loss", "epoch", "flag", "note", "missing"])
    assert set(cols) == {"loss", "epoch", "flag"}  # note is text; missing was never logged
    loss = cols["loss"]
    assert isinstance(loss, Series)
    assert loss.steps.dtype == np.int64 and loss.values.dtype == np.float64
    assert loss.steps.tolist() == list(range(30))
    want = [row["loss"] for _, row in logged]
    assert all(_same(float(g), w) for g, w in zip(loss.values.tolist(), want, strict=True))
    assert loss.lo is loss.values or np.array_equal(loss.lo, loss.values, equal_nan=True)
    assert np.array_equal(loss.hi, loss.values, equal_nan=True)
    assert cols["flag"].steps.tolist() == [0, 5, 10, 15, 20, 25]
    assert cols["flag"].values.tolist() == [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    assert cols["epoch"].values.tolist() == [float(s // 10) for s in range(30)]
    assert np.all(np.diff(loss.times) >= 0) and loss.times[0] > 1e9
    assert cursor == 30


def test_columns_cut_a_step_range(offline_env: Path) -> None:
    run_id, _ = _mixed_run()
    cols, _ = Store.open().columns(run_id, ["loss"], step_min=10, step_max=14)
    assert cols["loss"].steps.tolist() == [10, 11, 12, 13, 14]
    assert cols["loss"].values.tolist() == [1.0 / 11, 1.0 / 12, 1.0 / 13, 1.0 / 14, 1.0 / 15]
    only_low, _ = Store.open().columns(run_id, ["loss"], step_max=2)
    assert only_low["loss"].steps.tolist() == [0, 1, 2]


def test_downsampling_keeps_each_buckets_mean_min_max_and_last_step(offline_env: Path) -> None:
    with wandbkit.init(project="cols", mode="disabled") as run:
        values = [float(v) for v in [1, 2, 3, 100, 5, 6, 7, 8, 9, 10]]
        values[6] = math.nan  # skipped by the bucket's mean, min and max
        for step, value in enumerate(values):
            run.log({"y": value}, step=step)
        run_id = run.id
    cols, _ = Store.open().columns(run_id, ["y"], max_points=2)
    y = cols["y"]
    assert y.steps.tolist() == [4, 9]  # the bucket's last step: steps 0-4, then 5-9
    assert y.values.tolist() == [sum([1, 2, 3, 100, 5]) / 5, sum([6, 8, 9, 10]) / 4]
    assert y.lo.tolist() == [1.0, 6.0] and y.hi.tolist() == [100.0, 10.0]
    times = Store.open().columns(run_id, ["y"])[0]["y"].times
    assert y.times.tolist() == [times[4], times[9]]
    # as many points as max_points, or fewer: nothing is downsampled
    assert Store.open().columns(run_id, ["y"], max_points=10)[0]["y"].steps.tolist() == list(range(10))


def test_downsampling_a_long_run_keeps_the_spike(offline_env: Path) -> None:
    with wandbkit.init(project="cols", mode="disabled") as run:
        for step in range(5000):
            run.log({"loss": 50.0 if step == 3333 else 1.0, "inf_only": math.inf}, step=step)
        run_id = run.id
    cols, _ = Store.open().columns(run_id, ["loss", "inf_only"], max_points=100)
    loss = cols["loss"]
    assert 0 < len(loss.steps) <= 100
    assert loss.hi.max() == 50.0 and loss.lo.min() == 1.0
    assert np.all(np.diff(loss.steps) > 0)
    assert np.all(np.isnan(cols["inf_only"].values))  # no finite value in any bucket


def test_columns_since_a_cursor_give_only_new_points(offline_env: Path) -> None:
    with wandbkit.init(project="cols", mode="disabled") as run:
        for step in range(4):
            run.log({"x": float(step)}, step=step)
        assert run.flush(timeout=30)
        store = Store.open()
        cols, cursor = store.columns(run.id, ["x"])
        assert cols["x"].steps.tolist() == [0, 1, 2, 3]
        again, same = store.columns(run.id, ["x"], since=cursor)
        assert again == {} and same == cursor
        for step in range(4, 6):
            run.log({"x": float(step), "s": "text"}, step=step)
        assert run.flush(timeout=30)
        new, _ = store.columns(run.id, ["x"], since=cursor)
    assert new["x"].steps.tolist() == [4, 5] and new["x"].values.tolist() == [4.0, 5.0]


def test_a_rows_since_cursor_works_as_a_columns_cursor(offline_env: Path) -> None:
    run_id, _ = _mixed_run()
    store = Store.open()
    _, cursor = store.rows_since(run_id, 0, limit=13)
    cols, _ = store.columns(run_id, ["loss"], since=cursor)
    assert cols["loss"].steps.tolist() == list(range(13, 30))


@pytest.mark.parametrize("kwargs", [{"since": -1}, {"max_points": 0}, {"since": "3"}])
def test_bad_columns_arguments_are_user_errors(offline_env: Path, kwargs: dict) -> None:
    run_id, _ = _mixed_run()
    with pytest.raises(UserError):
        Store.open().columns(run_id, ["loss"], **kwargs)


def test_a_bad_cursor_is_a_user_error(offline_env: Path) -> None:
    run_id, _ = _mixed_run()
    with pytest.raises(UserError, match="cursor"):
        Store.open().rows_since(run_id, -5)


def test_columns_of_a_run_written_before_the_packed_columns(offline_env: Path) -> None:
    run_id, _ = _mixed_run()
    store = Store.open()
    want, cursor = store.columns(run_id, ["loss", "flag"])
    with store._reader() as conn:  # as a wandbkit older than the packed columns wrote it
        conn.execute("DELETE FROM history_columns WHERE run_id=?", (run_id,))
    got, got_cursor = store.columns(run_id, ["loss", "flag"])
    assert got_cursor == cursor and set(got) == set(want)
    for key in want:
        assert np.array_equal(got[key].values, want[key].values, equal_nan=True)
        assert got[key].steps.tolist() == want[key].steps.tolist()
    assert store.columns(run_id, ["loss"], since=20)[0]["loss"].steps.tolist() == list(range(20, 30))
