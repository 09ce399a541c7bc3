"""The W&B writer formats every number as wandb's SDK does, byte for byte.

The reference is wandb's own history encoder (``wandb.util.json_dumps_safer_history``, what
``wandb.log`` puts in each item's ``value_json``) and a ``HistoryRecord`` built with wandb's
protobuf classes. Both of the writer's number paths are checked: a row of numbers only, whose
numbers are formatted in one call, and a row that also holds text, formatted value by value.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wandb.proto import wandb_internal_pb2 as pb
from wandb.util import json_dumps_safer_history
from wandb_records import history_items

import wandbkit
from wandbkit.convert import Converter
from wandbkit.sinks import wandb_proto as proto
from wandbkit.sinks.wandb_logfile import read_records

TRICKY = [0.1, 1e-7, 1e21, -0.0, 0.0, 2 ** 53 + 1, -(2 ** 63), 2 ** 64 - 1, 1e16, 1e15,
          123456789012345678.0, 1e-4, 1e-5, 9.99e-5, 0.00012, -1.5e-5, 5e-324, 2.2250738585072014e-308,
          1.7976931348623157e308, 2.0 ** 53, 1 / 3, 100.0, 1e22, -1e-300, 3, -7, True, False,
          math.nan, math.inf, -math.inf, 10.00001, 1e-10]
NUMPY = [np.float32(0.1), np.float32(1e-7), np.float32(3.4e38), np.float32("nan"),
         np.float32("-inf"), np.float64(0.1), np.float16(0.3), np.int64(2 ** 62), np.int32(-5),
         np.bool_(True), np.uint64(2 ** 64 - 1)]


def _sdk_record(num: int, step: int, values: dict[str, object]) -> bytes:
    """The history record wandb's classes make for ``values``, with the SDK's value JSON."""
    rec = pb.Record(num=num)
    for key, value in values.items():
        item = rec.history.item.add()
        item.nested_key.append(key)
        item.value_json = json_dumps_safer_history(value)
    rec.history.step.num = step
    rec.history.SetInParent()
    rec.history.step.SetInParent()
    return rec.SerializeToString()


@pytest.fixture(params=["numbers only", "with text"])
def extra(request: pytest.FixtureRequest) -> dict[str, object]:
    """What else the row holds: nothing (the one-call path) or a string (the per-value path)."""
    return {} if request.param == "numbers only" else {"note": "text"}


@pytest.mark.parametrize("value", TRICKY, ids=repr)
def test_each_tricky_number_is_the_sdks_json(value: object, extra: dict[str, object]) -> None:
    row = {"a": 0.5, "x": value, "b": 2, **extra}
    assert proto.ItemEncoder().history(7, 3, row) == _sdk_record(7, 3, row)
    assert proto.value_json(value) == json_dumps_safer_history(value)


def test_a_row_of_every_tricky_number_is_one_record_of_the_sdks_bytes(
        extra: dict[str, object]) -> None:
    row = {**{f"k{i}": v for i, v in enumerate(TRICKY)}, **extra}
    encoded = proto.ItemEncoder().history(12, 40, row)
    assert encoded == _sdk_record(12, 40, row)
    parsed = pb.Record()
    parsed.ParseFromString(encoded)
    assert [i.value_json for i in parsed.history.item] == [json_dumps_safer_history(v)
                                                          for v in row.values()]


def test_numpy_scalars_reach_the_writer_as_the_sdk_writes_them(extra: dict[str, object]) -> None:
    logged = {**{f"n{i}": v for i, v in enumerate(NUMPY)}, **extra}
    (row,) = Converter().convert([(0, 0.0, dict(logged))])
    assert proto.ItemEncoder().history(2, 0, row.values) == _sdk_record(2, 0, logged)


def test_ints_beyond_64_bits_keep_their_exact_digits(extra: dict[str, object]) -> None:
    row = {"small": 1.5, "huge": 2 ** 64 + 5, "neg": -(2 ** 70), **extra}
    assert proto.ItemEncoder().history(1, 0, row) == _sdk_record(1, 0, row)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.floats(), st.integers(), st.booleans()),
                min_size=1, max_size=40))
def test_any_numbers_are_the_sdks_bytes(values: list[object]) -> None:
    row = {f"m{i}": v for i, v in enumerate(values)}
    assert proto.ItemEncoder().history(5, 9, row) == _sdk_record(5, 9, row)
    assert proto.number_texts(list(row.values())) == [json_dumps_safer_history(v) for v in values]
    assert [proto.value_json(v) for v in values] == [json_dumps_safer_history(v) for v in values]


def test_a_run_of_number_rows_writes_the_sdks_value_json(offline_env: Path) -> None:
    """Through ``run.log`` and the writer sink: rows of numbers only take the one-call path;
    each history record holds the SDK's text for every value, then ``_step``, ``_runtime``,
    ``_timestamp``; a row at a repeated step is merged; wandb's reader reads them all."""
    rows = [{f"k{i}": v for i, v in enumerate(TRICKY)}, {"a": 1e-7, "b": 2 ** 53 + 1},
            {"a": -0.0, "c": math.nan}]
    run = wandbkit.init(project="numbers", mode="offline", sinks=["wandb"])
    for step, row in enumerate(rows):
        run.log(row, step=step)
    run.log({"late": 0.00001}, step=2)  # the same step: merged into step 2's record
    run.finish()
    run_dir = Path(run.wandb["dir"])
    histories = []
    for data in read_records(run_dir / f"run-{run.id}.wandb"):
        rec = pb.Record()
        rec.ParseFromString(data)
        if rec.WhichOneof("record_type") == "history":
            histories.append(rec.history)
    expected = [rows[0], rows[1], {**rows[2], "late": 0.00001}]
    assert len(histories) == len(expected)
    for step, (history, logged) in enumerate(zip(histories, expected, strict=True)):
        items = [("/".join(i.nested_key), i.value_json) for i in history.item]
        assert items[:-3] == [(k, json_dumps_safer_history(v)) for k, v in logged.items()]
        assert [k for k, _ in items[-3:]] == ["_step", "_runtime", "_timestamp"]
        assert items[-3][1] == str(step) and history.step.num == step
        assert items[-1][1] == json_dumps_safer_history(float(items[-1][1]))
    assert [r["_step"] for r in history_items(run_dir)] == [0, 1, 2]


def test_without_wandbs_encoder_numbers_are_spelled_as_wandbs_fallback(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A pydantic_core that cannot encode (missing, or without ``inf_nan_mode``): wandb's SDK then
    writes the stdlib json's text, and so does the writer, value by value."""
    monkeypatch.setattr(proto, "_to_json", False)
    row = {f"k{i}": v for i, v in enumerate(TRICKY)}
    rec = pb.Record()
    rec.ParseFromString(proto.ItemEncoder().history(3, 1, row))
    assert [i.value_json for i in rec.history.item] == [json.dumps(v) for v in TRICKY]


def test_the_summary_keeps_each_keys_last_value_across_rows_of_different_keys(
        offline_env: Path) -> None:
    """Rows of numbers with the same keys replace each other's summary values; rows with other
    keys (or text) in between still leave every key's last value in the summary."""
    logged = [{"a": 1.0, "b": 10}, {"a": 2.0, "b": 20}, {"a": 3.0}, {"a": 4.0, "b": 40},
              {"a": 5.0, "b": 50}, {"c": "text", "a": 6.0}, {"a": 7.0, "b": 70}, {"b": 1e-7}]
    run = wandbkit.init(project="summary", mode="offline", sinks=["wandb"])
    for step, row in enumerate(logged):
        run.log(row, step=step)
        if step == 4:
            run.flush()  # two batches: a summary record after each
    run.finish()
    summary: dict[str, str] = {}
    for data in read_records(Path(run.wandb["dir"]) / f"run-{run.id}.wandb"):
        rec = pb.Record()
        rec.ParseFromString(data)
        if rec.WhichOneof("record_type") == "summary":
            summary.update({"/".join(i.nested_key): i.value_json for i in rec.summary.update})
    assert {k: summary[k] for k in ("a", "b", "c", "_step")} == {
        "a": "7.0", "b": "1e-7", "c": '"text"', "_step": "7"}


@pytest.mark.parametrize("use_orjson", [True, False], ids=["orjson", "pydantic_core"])
def test_both_encoders_give_the_sdks_bytes(use_orjson: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """orjson (where installed) and pydantic_core write the same text for every number."""
    proto.load_encoder()
    if use_orjson and proto._orjson is None:
        pytest.skip("orjson is not installed")
    if not use_orjson:
        monkeypatch.setattr(proto, "_orjson", None)
    values = [*TRICKY, *(float(x) for x in np.random.default_rng(3).standard_normal(500) * 1e-6),
              *(float(x) for x in np.random.default_rng(4).standard_normal(500) * 1e18)]
    assert proto.number_texts(values) == [json_dumps_safer_history(v) for v in values]
