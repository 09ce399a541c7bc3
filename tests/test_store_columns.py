"""The store's public history API (``Store.rows_since``, ``Store.columns``, ``Series``): real runs
written through ``wandbkit.init`` into a real SQLite store, read back the way plugins read them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wandbkit
from wandbkit.errors import UserError
from wandbkit.history_columns import pack_batch, unpack_batch
from wandbkit.media import MEDIA_TYPES
from wandbkit.rows import Row
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
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
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



def _log_batches(batches: list[list[tuple[int, dict]]]) -> str:
    """Log each list of rows as one store batch (a flush between them); returns the run id."""
    with wandbkit.init(project="cols", mode="disabled") as run:
        for rows in batches:
            for step, row in rows:
                run.log(dict(row), step=step)
            assert run.flush(timeout=30)
        return run.id


EDGE_ROWS = [
    (0, {"a": 1.0, "b": 2, "c": True, "s": "text"}),
    (1, {"b": 3, "a": 1.5}),  # the keys in another order
    (1, {"s": "same step, only text"}),
    (2, {"a": math.nan, "b": 2**63 - 1, "c": False, "d": -0.0}),
    (3, {"a": math.inf, "b": -(2**63), "big": 2**64, "neg": -math.inf}),
    (4, {"a": 7, "b": 4.5, "c": 1}),  # each key with another type than before
    (5, {"a": 5e-324, "s": ""}),
    (6, {"a": 1.7976931348623157e308, "big": 12}),
]


def test_packed_rows_read_back_exactly_as_logged(offline_env: Path) -> None:
    run_id = _log_batches([EDGE_ROWS[:4], EDGE_ROWS[4:]])
    store = Store.open()
    _rows_equal(list(store.rows(run_id)), EDGE_ROWS)
    paged, cursor = [], 0
    while True:
        rows, cursor = store.rows_since(run_id, cursor, limit=3)
        if not rows:
            break
        paged.extend(rows)
    _rows_equal(paged, EDGE_ROWS)
    assert store.row_count(run_id) == len(EDGE_ROWS) == cursor
    assert store.step_count(run_id) == 7
    history = store.history(run_id, ["b"])
    assert [(s, v) for s, v in history["b"]] == [(0, 2), (1, 3), (2, 2**63 - 1), (3, -(2**63)),
                                                 (4, 4.5)]
    assert [type(v) for _, v in history["b"]] == [int, int, int, int, float]
    cols, _ = store.columns(run_id, ["a", "b", "c", "big", "s"])
    assert set(cols) == {"a", "b", "c", "big"}
    assert cols["a"].steps.tolist() == [0, 1, 2, 3, 4, 5, 6]
    want_a = [1.0, 1.5, math.nan, math.inf, 7.0, 5e-324, 1.7976931348623157e308]
    assert np.array_equal(cols["a"].values, np.asarray(want_a), equal_nan=True)
    assert cols["c"].values.tolist() == [1.0, 0.0, 1.0]
    assert cols["big"].steps.tolist() == [6]  # 2**64 does not fit 64 bits: kept exactly, as text
    assert store.keys(run_id) == sorted({k for _, r in EDGE_ROWS for k in r})


def test_media_only_rows_are_not_history_rows(offline_env: Path) -> None:
    with wandbkit.init(project="cols", mode="disabled") as run:
        run.log({"x": 1.0}, step=0)
        run.log({"hist": wandbkit.Histogram([1.0, 2.0, 2.0])}, step=1)
        run.log({"x": 2.0, "img": wandbkit.Image(np.zeros((2, 2, 3), dtype=np.uint8))}, step=2)
        run_id = run.id
    store = Store.open()
    assert list(store.rows(run_id)) == [(0, {"x": 1.0}), (2, {"x": 2.0})]
    assert [(m["step"], m["key"]) for m in store.media(run_id)] == [(1, "hist"), (2, "img")]
    assert store.get_run(run_id).summary["x"] == 2.0


def test_a_run_resumed_on_a_v4_store_continues_its_rows(offline_env: Path, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "v4"
    shutil.copytree(Path(__file__).parent / "fixtures" / "store_v4", root)
    store = Store.open(root)
    before = list(store.rows("uniform-1"))
    _, cursor = store.columns("uniform-1", ["a"])
    with wandbkit.init(project="fixture", id="uniform-1", dir=root, mode="disabled",
                       resume="must") as run:
        for step in range(50, 55):
            run.log({"a": step * 0.5, "b": step, "c": "now text"}, step=step)
    rows = list(store.rows("uniform-1"))
    assert rows[:50] == before
    assert rows[50:] == [(s, {"a": s * 0.5, "b": s, "c": "now text"}) for s in range(50, 55)]
    new, end = store.columns("uniform-1", ["a", "b", "c"], since=cursor)
    assert new["a"].steps.tolist() == list(range(50, 55)) and "c" not in new
    assert end == 55 and store.row_count("uniform-1") == 55
    assert store.columns("uniform-1", ["b"])[0]["b"].values.tolist() == [float(s) for s in range(55)]
    assert store.resume_info("uniform-1").last_step == 54
    assert store.rows_since("uniform-1", 48, limit=4)[0] == rows[48:52]


VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70), st.text(max_size=3))
ROWS = st.lists(st.tuples(st.integers(min_value=-3, max_value=2**40),
                          st.dictionaries(st.sampled_from(["a", "b", "c", "d/e", ""]), VALUES,
                                          min_size=1, max_size=5)),
                min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(ROWS)
def test_any_batch_unpacks_to_the_rows_packed(rows: list[tuple[int, dict]]) -> None:
    """Pure packing round trip: every value, type, key order and step, whatever the mix."""
    batch = [Row(step, 1e9 + i, values) for i, (step, values) in enumerate(rows)]
    packed = pack_batch("r", 100, batch, MEDIA_TYPES)
    head, *chunks = packed.chunks
    assert head[1] == "" and head[2] == len(rows) and head[6] == 100
    got = unpack_batch(head[2], head[3], head[5],
                       [(c[1], c[7], c[8], c[5]) for c in chunks],
                       [(r[4] - 100, r[3]) for r in packed.residues])
    _rows_equal(got, rows)
    assert all(r[3] != "{}" for r in packed.residues)
    half = len(rows) // 2  # a cursor inside the batch
    _rows_equal(unpack_batch(head[2], head[3], head[5], [(c[1], c[7], c[8], c[5]) for c in chunks],
                             [(r[4] - 100, r[3]) for r in packed.residues], half), rows[half:])


CRASH_WRITER = """
import sys, wandbkit
run = wandbkit.init(project="cols", id="killed-mid-run", mode="disabled", sinks=["store"])
i = 0
while True:
    row = {"x": i * 0.5, "n": i, "flag": i % 2 == 0}
    if i % 3 == 0:
        row["note"] = f"row {i}"
    if i % 7 == 0:
        row["huge"] = 2**70 + i
    run.log(row, step=i)
    i += 1
    if i % 40 == 0:
        assert run.flush(timeout=60)
        print(i, flush=True)  # rows delivered to the store so far
"""


def _crash_row(i: int) -> dict:
    row: dict = {"x": i * 0.5, "n": i, "flag": i % 2 == 0}
    if i % 3 == 0:
        row["note"] = f"row {i}"
    if i % 7 == 0:
        row["huge"] = 2**70 + i
    return row


def test_sigkill_mid_run_leaves_every_delivered_mixed_row_readable(offline_env: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", CRASH_WRITER], stdout=subprocess.PIPE,
                            text=True, env=dict(os.environ))
    delivered = 0
    try:
        assert proc.stdout is not None
        while delivered < 400:  # several batches, numbers and text in each
            line = proc.stdout.readline()
            assert line, "the writer stopped"
            delivered = int(line)
    finally:
        proc.send_signal(signal.SIGKILL)  # while it goes on logging and writing
        proc.wait(timeout=30)
    store = Store.open()
    rows = list(store.rows("killed-mid-run"))
    assert len(rows) >= delivered
    _rows_equal(rows, [(i, _crash_row(i)) for i in range(len(rows))])
    assert store.row_count("killed-mid-run") == len(rows)
    cols, cursor = store.columns("killed-mid-run", ["x", "n", "flag", "note"])
    assert cursor == len(rows) and set(cols) == {"x", "n", "flag"}
    assert cols["n"].values.tolist() == [float(i) for i in range(len(rows))]
    assert store.get_run("killed-mid-run").state == "crashed"


def test_buckets_of_steps_that_go_back_keep_logging_order_inside_a_bucket() -> None:
    from wandbkit.history_columns import bucket_by_step

    steps = np.asarray([0, 1, 2, 3, 2, 3], dtype=np.int64)  # a resume that logs 2 and 3 again
    values = np.asarray([1.0, 2.0, 3.0, 4.0, 30.0, 40.0])
    times = np.arange(6, dtype=np.float64)
    got = bucket_by_step(steps, times, values, 2)
    assert got.steps.tolist() == [1, 3] and got.times.tolist() == [1.0, 5.0]  # the last logged
    assert got.values.tolist() == [1.5, (3.0 + 4.0 + 30.0 + 40.0) / 4]
    assert got.lo.tolist() == [1.0, 3.0] and got.hi.tolist() == [2.0, 40.0]
