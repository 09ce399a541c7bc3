"""Config values that are not JSON (numpy scalars, paths, dataclasses, sets, devices, enums) are
kept as wandb keeps them, in the store and in W&B's config record alike — not as repr text."""

from __future__ import annotations

import dataclasses
import enum
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from wandb_records import wandb_records

import wandbkit
from wandbkit.config_values import config_value
from wandbkit.store import Store


class Optim(enum.Enum):
    ADAM = "adam"


@dataclasses.dataclass
class Data:
    root: Path
    sizes: tuple[int, ...]


def _values() -> dict[str, Any]:
    values: dict[str, Any] = {
        "lr": np.float32(0.5), "epochs": np.int64(3), "flag": np.bool_(True),
        "path": Path("/data/train"), "data": Data(Path("/d"), (1, 2)), "ids": {7},
        "optim": Optim.ADAM, "shape": (2, 3), "missing": math.nan, "arr": np.arange(3),
        "nested": {"beta": np.float64(0.9), "where": Path("rel/dir")}, "fn": math.sqrt,
    }
    torch = pytest.importorskip("torch")
    values.update(device=torch.device("cpu"), scale=torch.tensor(2.5))
    return values


EXPECTED = {
    "lr": 0.5, "epochs": 3, "flag": True, "path": "/data/train",
    "data": {"root": "/d", "sizes": [1, 2]}, "ids": [7], "optim": "ADAM", "shape": [2, 3],
    "missing": None, "arr": [0, 1, 2], "nested": {"beta": 0.9, "where": "rel/dir"},
    "fn": "math.sqrt", "device": "cpu", "scale": 2.5,
}


def test_each_value_is_what_wandbs_own_sanitiser_makes_of_it() -> None:
    from wandb.util import json_friendly_val

    for key, value in _values().items():
        assert config_value(value) == json_friendly_val(value) == EXPECTED[key], key


def test_store_and_wandb_config_record_hold_the_same_json(offline_env: Path) -> None:
    values = _values()
    first = dict(list(values.items())[:7])
    later = dict(list(values.items())[7:])
    run = wandbkit.init(project="p", mode="offline", config=first)
    run.config.update(later)
    run.config["single"] = np.int32(9)
    assert run.config["path"] == "/data/train" and run.config.lr == 0.5
    run.log({"loss": 1.0})
    run.finish(quiet=True)
    expected = {**EXPECTED, "single": 9}
    assert Store.open().get_run(run.id).config == expected
    config: dict[str, Any] = {}
    for record in wandb_records(run.wandb["dir"]):
        # `wandb leet inspect` shows a config update as {key: value}
        config.update((record.get("run") or {}).get("config", {}).get("update", {}))
        config.update((record.get("config") or {}).get("update", {}))
    config.pop("_wandb", None)
    assert config == expected
