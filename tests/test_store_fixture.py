"""A store written by wandbkit's schema v4 (``tests/fixtures/store_v4``, made by
``tests/fixtures/make_store_v4.py``) read with today's code: every value, key, step and order
through ``show``, ``export``, ``Store.rows``/``history``/``series``/``columns``/``rows_since``
is what was logged and what v4's own readers answered."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from wandbkit.cli import build_app
from wandbkit.store import Store

FIXTURE = Path(__file__).parent / "fixtures" / "store_v4"
GOLDEN = json.loads((FIXTURE.parent / "store_v4.json").read_text())
RUNS = sorted(GOLDEN["runs"])


@pytest.fixture
def v4_store(tmp_path: Path) -> Path:
    """A copy of the fixture (opening a store may move it to today's schema)."""
    root = tmp_path / "store_v4"
    shutil.copytree(FIXTURE, root)
    return root


def same(a: Any, b: Any) -> bool:
    """Equal, of the same types all the way down (bool is not int), NaN equal to NaN, and
    ``-0.0`` told from ``0.0``."""
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _rows(rows: Any) -> list[list[Any]]:
    return [[step, values] for step, values in rows]


@pytest.mark.parametrize("run_id", RUNS)
def test_rows_and_rows_since_give_back_what_was_logged(v4_store: Path, run_id: str) -> None:
    store = Store.open(v4_store)
    logged = GOLDEN["logged"][run_id]
    assert same(_rows(store.rows(run_id)), logged)
    assert same(_rows(store.rows(run_id)), GOLDEN["runs"][run_id]["rows"])
    paged: list[Any] = []
    cursor = 0
    while True:
        rows, cursor = store.rows_since(run_id, cursor, limit=3)
        if not rows:
            break
        paged.extend(rows)
    assert same(_rows(paged), logged)
    assert cursor == len(logged)


@pytest.mark.parametrize("run_id", RUNS)
def test_history_keys_and_media_are_as_v4_read_them(v4_store: Path, run_id: str) -> None:
    store = Store.open(v4_store)
    golden = GOLDEN["runs"][run_id]
    assert store.keys(run_id) == golden["keys"]
    history = {k: [list(p) for p in v] for k, v in store.history(run_id).items()}
    assert same(history, golden["history"])
    assert same({k: [list(p) for p in v] for k, v in store.history(run_id, ["train/loss"]).items()},
                {k: v for k, v in golden["history"].items() if k == "train/loss"})
    media = [{**m, "path": str(Path(m["path"]).relative_to(v4_store)) if m["path"] else None}
             for m in store.media(run_id)]
    assert media == golden["media"]
    assert all((v4_store / m["path"]).is_file() for m in media if m["path"])


@pytest.mark.parametrize("run_id", RUNS)
def test_series_and_columns_give_every_numeric_point(v4_store: Path, run_id: str) -> None:
    store = Store.open(v4_store)
    golden = GOLDEN["runs"][run_id]
    keys = golden["keys"]
    series = store.series(run_id, keys)
    assert sorted(series) == sorted(golden["series"])
    cols, cursor = store.columns(run_id, keys)
    assert sorted(cols) == sorted(golden["series"])
    assert cursor == len(GOLDEN["logged"][run_id])
    for key, (steps, times, values) in golden["series"].items():
        got = series[key]
        assert got[0].tolist() == steps and got[1].tolist() == times
        assert np.array_equal(got[2], np.asarray(values, dtype=float), equal_nan=True)
        col = cols[key]
        assert col.steps.tolist() == steps and col.times.tolist() == times
        assert np.array_equal(col.values, np.asarray(values, dtype=float), equal_nan=True)
        # numbers as logged, in order: the column is the row values that are numbers
        numbers = [float(v[key]) for _, v in GOLDEN["logged"][run_id]
                   if isinstance(v.get(key), (int, float))]
        assert np.array_equal(col.values, np.asarray(numbers), equal_nan=True)


def test_show_prints_what_v4_printed(v4_store: Path) -> None:
    for run_id in RUNS:
        result = CliRunner().invoke(build_app(), ["show", run_id, "--json", "--dir", str(v4_store)])
        assert result.exit_code == 0, result.output
        details = json.loads(result.output)
        shown = {k: details[k] for k in GOLDEN["runs"][run_id]["show"]}
        assert same(shown, GOLDEN["runs"][run_id]["show"]), run_id


@pytest.mark.parametrize("run_id", [r for r in RUNS if r != "resumed-1"])
def test_export_prints_what_v4_printed(v4_store: Path, run_id: str) -> None:
    result = CliRunner().invoke(build_app(), ["export", run_id, "--dir", str(v4_store)])
    assert result.exit_code == 0, result.output
    assert result.output == GOLDEN["runs"][run_id]["export"]


def test_export_of_the_v4_resumed_run_has_each_step_once(v4_store: Path) -> None:
    """v4 printed steps 8-11 twice (both processes' rows); now each step once, the first
    process's rows kept where they overlap, as W&B keeps them."""
    result = CliRunner().invoke(build_app(), ["export", "resumed-1", "--dir", str(v4_store)])
    assert result.exit_code == 0, result.output
    want = "step,phase,train/loss\n" + "".join(
        f"{s},first,{100.0 + s}\n" for s in range(12)) + "".join(
        f"{s},second,{200.0 + s}\n" for s in range(12, 16))
    assert result.output.replace("\r\n", "\n") == want
    assert GOLDEN["runs"]["resumed-1"]["export"].count("\n8,") == 2  # what v4 printed


@pytest.mark.parametrize("run_id", RUNS)
def test_a_store_left_at_v4_reads_the_same_unmigrated(v4_store: Path, run_id: str) -> None:
    """As a read-only opening sees it: no migration, the v4 tables read as they are."""
    store = Store(v4_store)  # no ensure_schema: the schema stays v4
    golden = GOLDEN["runs"][run_id]
    assert same(_rows(store.rows(run_id)), GOLDEN["logged"][run_id])
    assert same(_rows(store.rows_since(run_id, 2, limit=5)[0]), GOLDEN["logged"][run_id][2:7])
    cols, cursor = store.columns(run_id, golden["keys"])
    assert sorted(cols) == sorted(golden["series"]) and cursor == len(GOLDEN["logged"][run_id])
    for key, (steps, _, values) in golden["series"].items():
        assert cols[key].steps.tolist() == steps
        assert np.array_equal(cols[key].values, np.asarray(values, dtype=float), equal_nan=True)
    assert store.step_count(run_id) == golden["show"]["steps"]
    assert store.row_count(run_id) == len(GOLDEN["logged"][run_id])
    with store._reader() as conn:
        assert conn.execute("SELECT version FROM schema_versions WHERE component='core'"
                            ).fetchone()[0] == 4
