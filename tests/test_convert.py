"""The flusher's batched tensor read (the path CUDA tensors take), exercised with CPU tensors.

CI has no GPU: these tests drive the same grouping, single copy, splitting and dtype handling
through ``DeviceValue`` wrappers around CPU tensors; ``benchmarks/gpu_tracking.py`` covers the
CUDA copy itself on a machine that has one.
"""

from __future__ import annotations

import math

import pytest

from wandbkit.convert import Converter, DeviceValue, prepare
from wandbkit.media import Histogram

torch = pytest.importorskip("torch")


def _device_value(tensor: torch.Tensor) -> DeviceValue:
    return DeviceValue(tensor, tensor._version)


def test_a_batch_of_device_values_is_read_at_once_with_dtypes_kept() -> None:
    raw = [(0, 0.0, {"loss": _device_value(torch.tensor(0.25)),
                     "tokens": _device_value(torch.tensor(4096)),
                     "skipped": _device_value(torch.tensor(True)),
                     "plain": 1.5}),
           (1, 0.1, {"loss": _device_value(torch.tensor([0.5])),
                     "grads": _device_value(torch.arange(10.0)),
                     "bad": _device_value(torch.tensor(float("inf")))})]
    converter = Converter()
    rows = converter.convert(raw)
    first, second = rows[0].values, rows[1].values
    assert first == {"loss": 0.25, "tokens": 4096, "skipped": True, "plain": 1.5}
    assert type(first["tokens"]) is int and type(first["skipped"]) is bool
    assert second["loss"] == 0.5 and math.isinf(second["bad"])
    assert isinstance(second["grads"], Histogram) and second["grads"].counts.sum() == 10
    assert converter.nonfinite == 1


def test_a_tensor_changed_in_place_after_log_is_reported(capfd: pytest.CaptureFixture[str]) -> None:
    accumulator = torch.tensor(1.0)
    raw = [(0, 0.0, {"running": _device_value(accumulator)})]
    accumulator += 1  # the user's `total += loss` after run.log(total)
    Converter().convert(raw)
    assert "modified in place after run.log()" in capfd.readouterr().err


def test_prepare_reads_cpu_tensors_at_once_and_flattens_nested_dicts() -> None:
    value = torch.tensor(2.0)
    prepared = prepare({"a": {"b": value, "c": {"d": 1}}, "e": torch.ones(3)})
    value += 1  # too late to change what was logged
    assert prepared["a/b"] == 2.0 and prepared["a/c/d"] == 1
    assert isinstance(prepared["e"], Histogram)
